"""parse(): format detection and entries for every supported format, and refusals with reason codes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from syndicate.reader import errors
from syndicate.reader.parse import detect_format, parse
from tests.conftest import FIXTURES

FEEDS = FIXTURES / "feeds"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    "name, fmt, title, count, first_title, first_link, first_guid, first_published",
    [
        (
            "rss091.xml",
            "rss091u",
            "Stadt Augsburg – Pressemitteilungen",
            2,
            "Neues Bürgerbüro im Stadtteil Haunstetten",
            "https://www.augsburg.de/aktuelles/buergerbuero-haunstetten",
            None,
            None,
        ),
        (
            "rss10.rdf",
            "rss10",
            "Stadt Nürnberg – Presse",
            1,
            "Glasfaserausbau in der Südstadt beginnt",
            "https://www.nuernberg.de/presse/mitteilungen/pm_1001.html",
            "https://www.nuernberg.de/presse/mitteilungen/pm_1001.html",
            utc(2026, 3, 3, 8, 30),
        ),
        (
            "rss20.xml",
            "rss20",
            "Rathaus Umschau",
            2,
            "Neue Ladesäulen für Elektroautos",
            "https://stadt.muenchen.de/news/ladesaeulen.html?utm_source=rss&utm_medium=feed",
            "muc-2026-0815",
            utc(2026, 11, 24, 9, 0),
        ),
        (
            "atom03.xml",
            "atom03",
            "AKDB Aktuelles",
            1,
            "OZG-Leistungen für Kommunen",
            "https://www.akdb.de/aktuelles/ozg-leistungen",
            "tag:akdb.de,2026:ozg-leistungen",
            utc(2026, 11, 20, 12, 0),
        ),
        (
            "atom10.xml",
            "atom10",
            "BSI – Sicherheitshinweise",
            2,
            "Kritische Schwachstelle in Webserver-Software",
            "https://www.bsi.bund.de/DE/Service-Navi/Presse/warnung-1.html",
            "urn:uuid:2f1b1c2e-0000-4000-8000-000000000002",
            utc(2026, 11, 22, 7, 0),
        ),
        (
            "jsonfeed10.json",
            "json1",
            "Stadt Augsburg – Klimaschutz",
            2,
            "Solaroffensive auf städtischen Dächern",
            "https://www.augsburg.de/umwelt/klima/solaroffensive",
            "aux-klima-1",
            utc(2026, 11, 19, 9, 0),
        ),
        (
            "jsonfeed11.json",
            "json11",
            "Nürnberg Mobil",
            1,
            "Dichterer U-Bahn-Takt ab Dezember",
            "https://www.nuernberg.de/mobil/u-bahn-takt.html",
            "nbg-mobil-7",
            utc(2026, 11, 17, 5, 0),
        ),
    ],
    ids=["rss091", "rss10", "rss20", "atom03", "atom10", "jsonfeed1.0", "jsonfeed1.1"],
)
def test_formats(name, fmt, title, count, first_title, first_link, first_guid, first_published):
    feed = parse((FEEDS / name).read_bytes())
    assert feed.format == fmt
    assert feed.title == title
    assert len(feed.entries) == count
    first = feed.entries[0]
    assert first.title == first_title
    assert first.link == first_link
    assert first.guid == first_guid
    date = first.published or first.updated  # dc:date arrives as "updated"
    assert date == first_published
    if first_published is not None:
        assert date.utcoffset().total_seconds() == 0  # always UTC, also from JSON Feed offsets


def test_rss20_details():
    feed = parse((FEEDS / "rss20.xml").read_bytes())
    assert feed.language == "de-DE"
    assert feed.ttl_minutes == 30
    assert feed.link == "https://stadt.muenchen.de/rathaus-umschau.html"
    first, second = feed.entries
    assert first.categories == ["Mobilität", "Klimaschutz"]
    assert "Der Ausbau beginnt im Dezember." in first.content  # content:encoded
    assert first.summary == "<p>Die Stadt baut 200 neue Ladesäulen.</p>"
    assert second.guid is None
    assert second.categories == ["IT/Digitalisierung"]


def test_atom10_details():
    feed = parse((FEEDS / "atom10.xml").read_bytes())
    first, second = feed.entries
    assert first.author == "BSI"
    assert first.categories == ["IT-Sicherheit"]
    assert first.updated == utc(2026, 11, 22, 8, 0)
    assert "Ein Update steht bereit." in first.content
    assert second.published is None and second.updated == utc(2026, 11, 21, 9, 0)


def test_json_feed_details():
    feed = parse((FEEDS / "jsonfeed11.json").read_bytes())
    assert feed.language == "de-DE"
    assert feed.link == "https://www.nuernberg.de/mobil/"
    (entry,) = feed.entries
    assert entry.author == "VAG, Stadt Nürnberg"
    assert entry.summary == "Die U1 fährt künftig alle vier Minuten."
    assert entry.updated == utc(2026, 11, 17, 8, 0)
    assert entry.categories == ["Mobilität"]
    assert entry.enclosures == [{"href": "https://www.nuernberg.de/mobil/fahrplan.pdf", "type": "application/pdf"}]

    old = parse((FEEDS / "jsonfeed10.json").read_bytes())
    numeric = old.entries[1]
    assert numeric.guid == "42"  # ids may be numbers in JSON Feed 1.0
    assert numeric.content == "<p>Im Herbst werden 1000 Bäume gepflanzt &amp; gepflegt.</p>"  # content_text escaped
    assert old.entries[0].author == "Umweltamt"


@pytest.mark.parametrize(
    "content, expected",
    [
        (b'{"version": "x"}', "json"),
        (b"\xef\xbb\xbf  \n[1]", "json"),
        (b"<?xml version='1.0'?><rss/>", "xml"),
        (b"  <feed/>", "xml"),
        (b"plain", "xml"),
    ],
    ids=["object", "bom-array", "xml-decl", "leading-space", "other"],
)
def test_detect_format(content, expected):
    assert detect_format(content) == expected


@pytest.mark.parametrize(
    "content, error, reason",
    [
        (b"", errors.EmptyDocument, "not_a_feed"),
        (b"   \r\n\t ", errors.EmptyDocument, "not_a_feed"),
        (b"<!DOCTYPE html><html><head><title>Stadt</title></head><body><p>Willkommen</p></body></html>", errors.NotAFeed, "not_a_feed"),
        (b"<html><body><item><title>looks like an item</title></item></body></html>", errors.NotAFeed, "not_a_feed"),
        (b'{"name": "not a feed", "items": []}', errors.NotAFeed, "not_a_feed"),
        (b'[{"id": 1}]', errors.NotAFeed, "not_a_feed"),
        (b'{"version": "https://example.org/version/1", "items": []}', errors.NotAFeed, "not_a_feed"),
        (b'{"version": "https://jsonfeed.org/version/1", "items": [', errors.MalformedFeed, "parse_error"),
        (b'<?xml version="1.0"?><catalog><book>x</book></catalog>', errors.NotAFeed, "not_a_feed"),
        (b"just some words", errors.MalformedFeed, "parse_error"),
    ],
    ids=[
        "empty",
        "whitespace",
        "html-page",
        "html-with-item",
        "json-object",
        "json-array",
        "json-other-version",
        "json-truncated",
        "other-xml",
        "plain-text",
    ],
)
def test_refusals(content, error, reason):
    with pytest.raises(error) as info:
        parse(content)
    assert info.value.reason == reason
    assert isinstance(info.value, errors.ParseError)


@pytest.mark.parametrize("path_form", ["plain", "file-url"], ids=["path", "file-url"])
def test_body_that_is_a_path_is_not_opened(tmp_path, path_form):
    # a real feed on disk: if parse ever opened the body as a file name, this would succeed with an entry
    secret = tmp_path / "secret-feed.xml"
    secret.write_bytes((FEEDS / "rss20.xml").read_bytes())
    body = str(secret) if path_form == "plain" else secret.as_uri()
    with pytest.raises(errors.ParseError):
        parse(body.encode())


def test_etc_passwd_body_is_not_read():
    with pytest.raises(errors.ParseError) as info:
        parse(b"/etc/passwd")
    assert "root:" not in str(info.value)


def test_empty_items_are_skipped():
    feed = parse((FEEDS / "misbehaving_stray_empty_items.xml").read_bytes())
    assert [e.title for e in feed.entries] == ["Einzige echte Meldung"]
    json_feed = parse(b'{"version": "https://jsonfeed.org/version/1.1", "items": [{}, {"id": null}, 5, {"id": "a"}]}')
    assert [e.guid for e in json_feed.entries] == ["a"]


@pytest.mark.parametrize(
    "items",
    ["5", '"abc"', '{"a": 1}', '[{"id": "x", "tags": "abc", "authors": 5, "attachments": 7, "date_published": 3}]'],
    ids=["number", "string", "object", "bad-item-fields"],
)
def test_json_feed_with_wrong_types_does_not_crash(items):
    feed = parse(b'{"version": "https://jsonfeed.org/version/1", "items": ' + items.encode() + b"}")
    for entry in feed.entries:
        assert entry.categories == []
        assert entry.author is None and entry.enclosures == [] and entry.published is None


def test_feed_without_items_parses_empty():
    feed = parse(b'<?xml version="1.0"?><rss version="2.0"><channel><title>Leer</title></channel></rss>')
    assert feed.format == "rss20" and feed.title == "Leer" and feed.entries == []


def test_bozo_feed_still_parses_with_reason():
    body = b'<?xml version="1.0"?><rss version="2.0"><channel><title>A & B</title><item><title>x</title></item></channel></rss>'
    feed = parse(body)
    assert [e.title for e in feed.entries] == ["x"]
    assert feed.bozo


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/html",
        "text/html; charset=utf-8",
        "application/rss+xml; charset=utf-8",
        "text/xml",
        "text/xml; charset=iso-8859-1",
        "application/octet-stream",
        "text/plain",
    ],
    ids=["none", "html", "html-utf8", "rss-utf8", "text-xml", "text-xml-latin1", "octet-stream", "text-plain"],
)
@pytest.mark.parametrize(
    "name, title",
    [
        ("rss20.xml", "Neue Ladesäulen für Elektroautos"),
        ("misbehaving_windows1252_labelled_latin1.xml", "Gebühren steigen um 5 € „ab sofort“"),
    ],
    ids=["utf8-feed", "cp1252-feed"],
)
def test_wrong_content_type_or_charset_from_server(name, title, content_type):
    feed = parse((FEEDS / name).read_bytes(), url="https://www.muenchen.de/feed", content_type=content_type)
    assert feed.format == "rss20"
    assert feed.entries[0].title == title


def test_relative_links_resolved_against_fetch_url():
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        b"<item><title>a</title><link>/news/1.html</link></item></channel></rss>"
    )
    feed = parse(body, url="https://www.augsburg.de/feed.xml")
    assert feed.entries[0].link == "https://www.augsburg.de/news/1.html"
