"""Values from feeds are parsed and bounded once, in normalise, into typed values; storage and the
merged feeds take them as they are, and one article that still cannot be rendered never takes down
a feed (issue 23)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from syndicate import db
from syndicate.clock import utcnow
from syndicate.db import make_engine
from syndicate.ingest.refresh import refresh_source
from syndicate.models import Article, City, Cluster, Source
from syndicate.reader.normalise import MAX_LENGTH, Enclosure, byte_length, clean_title, media_type, normalise_entry
from syndicate.reader.parse import RawEntry, parse
from syndicate.web.app import create_app
from tests.conftest import make_source

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
IMAGE = "https://www.fuerth.de/bilder/park.jpg"


def norm(raw: RawEntry):
    return normalise_entry(raw, base="https://www.fuerth.de/", now=NOW, future_tolerance=3600)


@pytest.mark.parametrize(
    "value, expected",
    [
        ("48213", 48213),
        (" 12 ", 12),
        ("0", 0),
        (str(MAX_LENGTH), MAX_LENGTH),
        (str(MAX_LENGTH + 1), None),
        ("²", None),  # str.isdigit() says yes, int() says no
        ("٣", None),  # an Arabic-Indic three: int() would read it as 3
        ("9" * 5000, None),  # past int()'s digit limit
        ("-1", None),
        ("1e3", None),
        ("12 MB", None),
        ("", None),
        (None, None),
        (5, 5),
        (-5, None),
        (True, None),
        (1.5, None),
        (2**64, None),
    ],
)
def test_byte_length_is_a_bounded_int_or_none(value, expected):
    assert byte_length(value) == expected


@pytest.mark.parametrize(
    "value, expected",
    [("image/jpeg", "image/jpeg"), (" Image/JPEG; q=1", "image/jpeg"), ("<script>", ""), ("a/" + "b" * 200, ""), (None, ""), (3, "")],
)
def test_media_type_is_a_bounded_mime_type(value, expected):
    assert media_type(value) == expected


def test_enclosures_are_typed_at_the_boundary():
    raw = RawEntry(
        title="Park",
        link="https://www.fuerth.de/pm/1",
        enclosures=[
            {"href": "/bilder/park.jpg", "type": "image/jpeg", "length": "²"},
            {"href": IMAGE, "type": "image/jpeg", "length": "9" * 5000},
            {"href": "javascript:alert(1)", "type": "image/png"},
            {"href": "http://[x/bild.png", "type": "image/png"},  # urlsplit raises ValueError on this host
            {"href": "https://www.fuerth.de/" + "a" * 3000},
            {"href": "https://www.fuerth.de/\x01.png"},
            {"href": "https://www.fuerth.de/plan.pdf", "type": "application/pdf", "length": "1024"},
            *({"href": f"https://www.fuerth.de/{n}.jpg", "length": 7} for n in range(20)),
        ],
    )
    entry = norm(raw)
    assert entry.enclosures[:3] == [
        Enclosure(IMAGE, "image/jpeg", None),
        Enclosure(IMAGE, "image/jpeg", None),
        Enclosure("https://www.fuerth.de/plan.pdf", "application/pdf", 1024),
    ]
    assert len(entry.enclosures) == 10 and entry.enclosures[3] == Enclosure("https://www.fuerth.de/0.jpg", "", 7)


def test_other_values_are_bounded_at_the_boundary():
    entry = norm(
        RawEntry(
            title="t",
            link="https://www.fuerth.de/" + "p" * 3000,
            guid="g" * 5000,
            author="A" * 1000,
            published=datetime(1, 1, 1, tzinfo=UTC),
            updated=datetime(1899, 12, 31, tzinfo=UTC),
        )
    )
    assert entry.url is None and entry.canonical_url is None
    assert len(entry.guid) == 2000 and len(entry.author) == 300
    assert entry.published_at == NOW and entry.date_estimated and entry.updated_at is None


@pytest.mark.parametrize(
    "stored, expected",
    [
        ({"href": IMAGE, "type": "image/jpeg", "length": 48213}, Enclosure(IMAGE, "image/jpeg", 48213)),
        ({"href": IMAGE, "type": "image/jpeg", "length": None}, Enclosure(IMAGE, "image/jpeg", None)),
        ({"href": IMAGE, "type": "image/jpeg", "length": "²"}, Enclosure(IMAGE, "image/jpeg", None)),  # a row from before 0015
        ({"href": IMAGE, "type": "image/jpeg", "length": "48213"}, Enclosure(IMAGE, "image/jpeg", None)),  # never parsed
        ({"href": IMAGE, "type": ["x"], "length": 2**60}, Enclosure(IMAGE, "", None)),
        ({"href": "javascript:x", "type": "image/jpeg"}, None),
        ("not a dict", None),
    ],
)
def test_stored_enclosures_are_read_as_typed_values_only(stored, expected):
    assert Enclosure.from_stored(stored) == expected


HOSTILE = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Stadt Fürth</title><link>https://www.fuerth.de/</link>
<item><title>Hochgestellt</title><link>https://www.fuerth.de/pm/1</link><guid>pm-1</guid>
<pubDate>Mon, 23 Nov 2026 09:00:00 +0100</pubDate><description>Eins.</description>
<enclosure url="/bilder/eins.jpg" length="²" type="image/jpeg"/></item>
<item><title>Viele Neunen</title><link>https://www.fuerth.de/pm/2</link><guid>pm-2</guid>
<pubDate>Mon, 23 Nov 2026 08:00:00 +0100</pubDate><description>Zwei.</description>
<enclosure url="/bilder/zwei.jpg" length="{nines}" type="image/jpeg"/></item>
<item><title>Gutes Bild</title><link>https://www.fuerth.de/pm/3</link><guid>pm-3</guid>
<pubDate>Mon, 23 Nov 2026 07:00:00 +0100</pubDate><description>Drei.</description>
<enclosure url="/bilder/drei.jpg" length="48213" type="image/jpeg"/></item>
</channel></rss>""".replace("{nines}", "9" * 5000)


@pytest.fixture
def client(settings, runtime, topics):
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def test_feed_with_hostile_enclosure_lengths_answers_in_every_format(client, runtime, session, feed_server):
    feed_server.add("/fuerth.xml", HOSTILE, headers={"Content-Type": "application/rss+xml"})
    source = make_source(session, feed_server.url("/fuerth.xml"), city="fuerth", name="Stadt Fürth")
    assert refresh_source(session, runtime.client, source.id, runtime.refresh_config).new == 3
    stored = session.scalars(select(Article.enclosures).order_by(Article.published_at.desc())).all()
    assert [e[0]["length"] for e in stored] == [None, None, 48213]

    response = client.get("/feeds/all.json")
    assert response.status_code == 200
    items = response.json()["items"]
    assert [i["title"] for i in items] == ["Hochgestellt", "Viele Neunen", "Gutes Bild"]
    assert [[a.get("size_in_bytes") for a in i["attachments"]] for i in items] == [[None], [None], [48213]]
    for fmt in ("rss", "atom"):
        assert client.get(f"/feeds/all.{fmt}").status_code == 200


def _story(session: Session, source: Source, title: str, enclosures: list | None = None) -> Article:
    """An article written straight into the database, as older versions or a hand edit could have left it."""
    published = datetime(2026, 11, 20, 9, tzinfo=UTC) if title != "Gut" else datetime(2026, 11, 21, 9, tzinfo=UTC)
    article = Article(source_id=source.id, item_key=title[:60], title=title, content_hash=title[:60], published_at=published)
    article.enclosures = enclosures or []
    session.add(article)
    session.flush()
    cluster = Cluster(representative_id=article.id, published_at=published)
    session.add(cluster)
    session.flush()
    article.cluster_id = cluster.id
    session.commit()
    return article


def test_old_rows_and_unrenderable_articles_never_take_down_a_feed(client, session, caplog):
    source = make_source(session, "https://www.fuerth.de/feed.xml", city="fuerth", name="Stadt Fürth")
    _story(session, source, "Gut")
    _story(session, source, "Alte Zeile", [{"href": IMAGE, "type": "image/jpeg", "length": "²"}])
    _story(session, source, "Steuerzeichen \x0b im Titel")  # XML cannot carry it: RSS and Atom leave the article out

    document = client.get("/feeds/all.json")
    assert document.status_code == 200
    old = next(i for i in document.json()["items"] if i["title"] == "Alte Zeile")
    assert old["attachments"] == [{"url": IMAGE, "mime_type": "image/jpeg"}]
    for fmt in ("rss", "atom"):
        response = client.get(f"/feeds/all.{fmt}")
        assert response.status_code == 200
        assert b"Gut" in response.content and b"Alte Zeile" in response.content
        assert b"Steuerzeichen" not in response.content
    assert "cannot be rendered" in caplog.text


def test_0015_makes_stored_enclosure_lengths_typed(tmp_path):
    url = f"sqlite:///{tmp_path}/old.db"
    db.upgrade(url, "0014")
    engine = make_engine(url)
    lengths = ["48213", "²", "9" * 5000, "0", "", str(2**60)]
    with Session(engine) as session:
        city = City(slug="fuerth", name="Fürth", kind="city")
        session.add(city)
        session.flush()
        source = Source(city_id=city.id, url="https://www.fuerth.de/rss", canonical_url="https://www.fuerth.de/rss")
        session.add(source)
        for n, site in enumerate(("javascript:alert(1)", "https://www.fuerth.de/", "data:text/html,x", None)):
            session.add(Source(city_id=city.id, url=f"https://{n}.example/", canonical_url=f"https://{n}.example/", site_url=site))
        session.flush()
        for n, length in enumerate(lengths, start=1):
            session.add(
                Article(
                    id=n,
                    source_id=source.id,
                    item_key=f"k{n}",
                    title="T",
                    content_hash="h",
                    published_at=NOW,
                    enclosures=[{"href": IMAGE, "type": "image/jpeg", "length": length}, {"href": "javascript:x", "length": "1"}],
                )
            )
        session.add(Article(id=99, source_id=source.id, item_key="k99", title="T", content_hash="h", published_at=NOW, enclosures=[]))
        session.commit()
    engine.dispose()

    db.upgrade(url, "0015")

    engine = make_engine(url)
    with engine.connect() as connection:
        rows = dict(connection.execute(select(Article.id, Article.enclosures)).all())
        sites = connection.execute(select(Source.site_url).where(Source.url.like("%.example/")).order_by(Source.url)).scalars().all()
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    engine.dispose()
    assert version == "0015"
    assert [rows[n] for n in range(1, len(lengths) + 1)] == [
        [{"href": IMAGE, "type": "image/jpeg", "length": length}] for length in (48213, None, None, 0, None, None)
    ]
    assert rows[99] == []
    assert sites == [None, "https://www.fuerth.de/", None, None]


STAMP = "20261124T100000.000000Z"


@pytest.mark.parametrize(
    "cursor",
    [
        f"{STAMP}-99999999999999999999",  # past a 64-bit integer: OverflowError in the driver
        f"{STAMP}-" + "9" * 5000,  # past int()'s digit limit
        f"{STAMP}-²",
        f"{STAMP}-٣",  # another script's digit, which int() would read
        f"{STAMP}--1",
        f"{STAMP}-1 ",
        f"{STAMP}-1%00",
        "99999999T999999.999999Z-1",
        "00000000T000000.000000Z-1",
        "２０２６1124T100000.000000Z-1",
        "gestern",
        "-",
    ],
)
@pytest.mark.parametrize("path", ["/feeds/all.rss", "/feeds/all.json", "/feeds/topics/mobilitaet.atom"])
def test_hostile_cursors_are_a_400_in_german(client, path, cursor):
    response = client.get(path, params={"before": cursor})
    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    assert detail["reason"] == "invalid_cursor" and "Cursor" in detail["message"] and "ungültig" in detail["message"]


def test_a_valid_cursor_and_hostile_dates_in_headers_still_answer(client):
    assert client.get("/feeds/all.rss", params={"before": f"{STAMP}-{2**62}"}).status_code == 200
    assert client.get("/feeds/all.rss", params={"before": "00010101T000000.000000Z-1"}).status_code == 200
    for since in ("Mon, 01 Jan 99999999999999999999 00:00:00 GMT", "Mon, 01 Jan 2020 99:00:00 GMT", "Mon, 01 Jan 2020 00:00:00 -0000"):
        assert client.get("/feeds/all.rss", headers={"If-Modified-Since": since}).status_code == 200
    for limit in ("99999999999999999999", "9" * 5000, "²"):
        assert client.get("/feeds/all.json", params={"limit": limit}).status_code < 500


SITE_FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Stadt Fürth</title><link>{link}</link>
<item><title>Eins</title><link>https://www.fuerth.de/pm/1</link><guid>pm-1</guid><description>Eins.</description></item>
</channel></rss>"""


@pytest.mark.parametrize(
    "link, expected",
    [
        ("javascript:alert(document.domain)", None),
        ("data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;", None),
        ("https://www.fuerth.de/" + "x" * 3000, None),
        ("/presse/", "{server}/presse/"),  # relative: resolved against the feed's own URL
        ("https://www.fuerth.de/", "https://www.fuerth.de/"),
    ],
)
def test_site_url_is_http_and_bounded(api, runtime, feed_server, link, expected):
    from tests.support.api_fixtures import add_source, make_city

    feed_server.add("/fuerth.xml", SITE_FEED.format(link=link), headers={"Content-Type": "application/rss+xml"})
    with runtime.sessions() as session:
        source = add_source(session, make_city(session, "muenchen"), feed_server.url("/fuerth.xml"))
        assert refresh_source(session, runtime.client, source.id, runtime.refresh_config).status == "new"
    expected = expected and expected.replace("{server}", feed_server.url(""))
    assert api.call("GET", f"/api/v1/sources/{source.id}", "muenchen").json()["site_url"] == expected
    opml = api.call("GET", "/api/v1/cities/muenchen/opml", "muenchen").text
    assert ("htmlUrl" in opml) == (expected is not None) and "javascript" not in opml and "data:" not in opml


@pytest.mark.parametrize(
    "title",
    [
        "&amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt; Titel",  # as the hostile tester's feed gave it
        "&amp;amp;lt;script&amp;amp;gt;alert(1)&amp;amp;lt;/script&amp;amp;gt; Titel",
        "&amp;lt;b&amp;gt;&amp;lt;img src=x onerror=alert(1)&amp;gt;&amp;lt;/b&amp;gt; Titel",
        "<b>&lt;i&gt;&amp;lt;u&amp;gt;Titel&amp;lt;/u&amp;gt;&lt;/i&gt;</b>",
    ],
)
def test_titles_escaped_more_than_once_come_out_as_text(title):
    assert clean_title(title) == "Titel"


def test_title_escaped_twice_in_a_feed_is_stored_as_text():
    feed = parse(
        b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Stadt</title><link>https://www.fuerth.de/</link>'
        b"<item><title>&amp;amp;lt;script&amp;amp;gt;alert(1)&amp;amp;lt;/script&amp;amp;gt; Titel</title>"
        b"<link>https://www.fuerth.de/pm/1</link><description>Text</description></item></channel></rss>"
    )
    assert norm(feed.entries[0]).title == "Titel"


@pytest.mark.parametrize(
    "title, expected",
    [("Preis: 5 &lt; 6", "Preis: 5 < 6"), ("Tom &amp;amp; Jerry", "Tom & Jerry"), ("AT&T", "AT&T"), ("a < b > c", "a < b > c")],
)
def test_titles_with_text_that_looks_like_markup_are_stable(title, expected):
    assert clean_title(title) == expected == clean_title(expected)


def _rss(date: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        "<title>Stadt</title><link>https://www.fuerth.de/</link><item><title>Eins</title><link>https://www.fuerth.de/pm/1</link>"
        f"<pubDate>{date}</pubDate><dc:date>{date}</dc:date></item></channel></rss>"
    ).encode()


def _atom(date: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Stadt</title><id>urn:x</id>'
        f'<entry><title>Eins</title><id>urn:1</id><link href="https://www.fuerth.de/pm/1"/><published>{date}</published>'
        f"<updated>{date}</updated></entry></feed>"
    ).encode()


def _json(date: str) -> bytes:
    return (
        '{"version": "https://jsonfeed.org/version/1.1", "title": "Stadt", "items": [{"id": "1", "url": "https://www.fuerth.de/pm/1",'
        f' "title": "Eins", "content_text": "x", "date_published": "{date}", "date_modified": "{date}"}}]}}'
    ).encode()


@pytest.mark.parametrize("document", [_rss, _atom, _json], ids=["rss", "atom", "json"])
@pytest.mark.parametrize(
    "date, expected",
    [
        ("2026-11-24T10:00:00", datetime(2026, 11, 24, 9, 0, tzinfo=UTC)),  # no zone: Berlin, winter (+1)
        ("2026-07-24T10:00:00", datetime(2026, 7, 24, 8, 0, tzinfo=UTC)),  # no zone: Berlin, summer (+2)
        ("2026-11-24T10:00", datetime(2026, 11, 24, 9, 0, tzinfo=UTC)),
        ("2026-11-24T10:00:00.250", datetime(2026, 11, 24, 9, 0, 0, 250000, tzinfo=UTC)),
        ("2026-11-24T10:00:00Z", datetime(2026, 11, 24, 10, 0, tzinfo=UTC)),
        ("2026-11-24T10:00:00+01:00", datetime(2026, 11, 24, 9, 0, tzinfo=UTC)),
        ("2026-07-24T10:00:00+00:00", datetime(2026, 7, 24, 10, 0, tzinfo=UTC)),
    ],
)
def test_iso_dates_without_a_zone_are_berlin_time(document, date, expected):
    if document is _json and "." in date:
        pytest.skip("feedparser-only form")
    (raw,) = parse(document(date)).entries
    entry = norm(raw)
    assert entry.published_at.replace(microsecond=0) == expected.replace(microsecond=0)
    assert entry.updated_at is not None and entry.updated_at.replace(microsecond=0) == expected.replace(microsecond=0)


@pytest.mark.parametrize(
    "date, expected",
    [
        ("Tue, 24 Nov 2026 10:00:00", datetime(2026, 11, 24, 9, 0, tzinfo=UTC)),
        ("24 Nov 2026 10:00:00", datetime(2026, 11, 24, 9, 0, tzinfo=UTC)),
        ("Fri, 24 Jul 2026 10:00:00", datetime(2026, 7, 24, 8, 0, tzinfo=UTC)),
        ("24 Jul 2026 10:00", datetime(2026, 7, 24, 8, 0, tzinfo=UTC)),
        ("Tue, 24 Nov 2026 10:00:00 +0100", datetime(2026, 11, 24, 9, 0, tzinfo=UTC)),
        ("Tue, 24 Nov 2026 10:00:00 GMT", datetime(2026, 11, 24, 10, 0, tzinfo=UTC)),
        ("Fri, 24 Jul 2026 10:00:00 +0000", datetime(2026, 7, 24, 10, 0, tzinfo=UTC)),
        ("Fri, 24 Jul 2026 10:00:00 EST", datetime(2026, 7, 24, 15, 0, tzinfo=UTC)),
    ],
)
def test_rfc822_dates_without_a_zone_are_berlin_time(date, expected):
    (raw,) = parse(_rss(date).replace(b"<dc:date>", b"<!--").replace(b"</dc:date>", b"-->")).entries
    assert norm(raw).published_at == expected


ADVERTISING_PAGE = """<!DOCTYPE html><html lang="de"><head><meta charset="utf-8"><title>Presse – Stadt Fürth</title>
<link rel="alternate" type="application/rss+xml" title="Pressemitteilungen" href="/presse/rss.xml">
<link rel="alternate" type="application/atom+xml" href="https://www.fuerth.de/presse/atom.xml">
</head><body><h1>Pressemitteilungen</h1><p>Willkommen</p></body></html>"""


@pytest.mark.slow  # starts child processes
def test_a_page_that_advertises_feeds_gets_one_message_from_parse_polling_and_the_api(api, runtime, settings, session, feed_server):
    from tests.support.cli import json_lines, syndicate

    feed_server.add("/presse/", ADVERTISING_PAGE, headers={"Content-Type": "text/html; charset=utf-8"})
    url = feed_server.url("/presse/")
    done = syndicate(settings, "parse", url, "--json")
    (line,) = json_lines(done.stdout)
    assert line["error"]["reason"] == "not_a_feed", done.stderr
    message = line["error"]["message"]
    assert feed_server.url("/presse/rss.xml") in message and "https://www.fuerth.de/presse/atom.xml" in message

    refused = api.call("POST", "/api/v1/cities/muenchen/sources", "muenchen", json={"url": url})
    assert refused.status_code == 422 and message in refused.json()["message"]
    source = make_source(session, url, city="fuerth")
    outcome = refresh_source(session, runtime.client, source.id, runtime.refresh_config)
    assert (outcome.reason, outcome.message) == ("not_a_feed", message)


@pytest.mark.parametrize(
    "status, headers, expected",
    [
        (429, {"Retry-After": "²"}, "deferred"),
        (429, {"Retry-After": "9" * 5000}, "deferred"),
        (503, {"Retry-After": "Mon, 01 Jan 99999999999999999999 00:00:00 GMT"}, "error"),  # no usable Retry-After: a 5xx
        (200, {"Cache-Control": "max-age=" + "9" * 5000}, "new"),
        (200, {"Cache-Control": "max-age=99999999999999999999"}, "new"),
        (200, {"Expires": "Mon, 01 Jan 99999999999999999999 00:00:00 GMT"}, "new"),
        (200, {"Content-Length": "²"}, "error"),  # refused by the HTTP client as a protocol error
    ],
    ids=[
        "retry-after-²",
        "retry-after-5000-digits",
        "retry-after-overflow",
        "max-age-5000-digits",
        "max-age-huge",
        "expires-overflow",
        "length-²",
    ],
)
def test_hostile_numbers_in_a_feeds_headers_end_as_an_outcome(runtime, session, feed_server, status, headers, expected):
    feed_server.add("/fuerth.xml", HOSTILE, status=status, headers={"Content-Type": "application/rss+xml", **headers})
    source = make_source(session, feed_server.url("/fuerth.xml"), city="fuerth", name="Stadt Fürth")
    outcome = refresh_source(session, runtime.client, source.id, runtime.refresh_config)
    assert outcome.status == expected, outcome
    session.expire_all()
    row = session.get(Source, source.id)
    assert row.next_check_at is not None and row.next_check_at - utcnow() <= timedelta(seconds=runtime.refresh_config.backoff_cap + 60)


@pytest.mark.parametrize("ttl", ["²", "9" * 5000, "٣", "-5", "60 Minuten"])
@pytest.mark.parametrize("plain", [True, False], ids=["fastrss", "feedparser"])
def test_hostile_ttl_and_update_frequency_are_no_hint(runtime, session, feed_server, ttl, plain):
    head = (
        f"<ttl>{ttl}</ttl>"
        if plain
        else f"<ttl>{ttl}</ttl><sy:updatePeriod>hourly</sy:updatePeriod><sy:updateFrequency>{'9' * 5000}</sy:updateFrequency>"
    )
    body = HOSTILE.replace("<link>https://www.fuerth.de/</link>", "<link>https://www.fuerth.de/</link>" + head)
    if not plain:
        body = body.replace('<rss version="2.0">', '<rss version="2.0" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/">')
    feed_server.add("/fuerth.xml", body, headers={"Content-Type": "application/rss+xml"})
    source = make_source(session, feed_server.url("/fuerth.xml"), city="fuerth", name="Stadt Fürth")
    assert parse(body.encode()).ttl_minutes is None
    assert refresh_source(session, runtime.client, source.id, runtime.refresh_config).status == "new"


@pytest.mark.parametrize(
    "document",
    [
        _json("9999-12-31T23:59:59-10:00"),
        _json("0001-01-01T00:00:00+10:00"),
        _json("0001-01-01T00:00:00"),
        _rss("0001-01-01T00:00:00"),
        _atom("0001-01-01T00:00:00"),
        _rss("31.12.9999 23:59 -10:00"),
        _rss("01.01.0001 00:30"),
        _rss("Mon, 01 Jan 0001 00:00:00"),
    ],
    ids=["json-9999-west", "json-0001-east", "json-0001", "rss-0001", "atom-0001", "german-9999-west", "german-0001", "rfc822-0001"],
)
def test_dates_at_the_calendars_ends_are_no_date(document):
    (raw,) = parse(document).entries
    entry = norm(raw)
    assert entry.published_at == NOW and entry.date_estimated


def test_an_entry_that_fails_to_normalise_costs_only_that_entry(runtime, session, feed_server, monkeypatch, caplog):
    """Fault injection: normalise bounds every value a feed can send, so only a bug of ours could still
    fail on one entry; that must cost the entry, not the document or the source."""
    from syndicate.ingest import refresh

    real = refresh.normalise_entry

    def failing_on_one(raw, **kwargs):
        if raw.title == "Viele Neunen":
            raise RuntimeError("a bug that only this entry meets")
        return real(raw, **kwargs)

    monkeypatch.setattr(refresh, "normalise_entry", failing_on_one)
    feed_server.add("/fuerth.xml", HOSTILE, headers={"Content-Type": "application/rss+xml"})
    source = make_source(session, feed_server.url("/fuerth.xml"), city="fuerth", name="Stadt Fürth")
    outcome = refresh_source(session, runtime.client, source.id, runtime.refresh_config)
    assert (outcome.status, outcome.new) == ("new", 2)
    assert sorted(session.scalars(select(Article.title)).all()) == ["Gutes Bild", "Hochgestellt"]
    assert "could not be normalised" in caplog.text
