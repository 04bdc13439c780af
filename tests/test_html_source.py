"""HTML newsroom sources: extraction with selectors, German dates, pagination, detection, article
pages, and refresh_source end to end against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest
from sqlalchemy import select

from syndicate.ingest.refresh import refresh_source
from syndicate.models import Article, ArticleTopic, FetchLog, Source, Topic
from syndicate.publish.feeds import FeedQuery, render_feed
from syndicate.reader import html_source
from syndicate.reader.errors import SelectorsMatchedNothing
from syndicate.reader.html_source import Selectors
from syndicate.sources.registry import SourceEntry
from tests.conftest import make_source

FIXTURES = Path(__file__).parent / "fixtures" / "html"
HTML = {"Content-Type": "text/html; charset=utf-8"}

NUERNBERG = Selectors(
    item="div.pm-liste > div.pm-eintrag",
    title="h3",
    link="h3 a@href",
    date="span.datum",
    summary="p.teaser",
    next="a[rel~=next]",
    max_pages=2,
)
AKDB = Selectors(
    item="article.news-teaser",
    title="xpath:.//h2",
    link="h2 a",
    date=".news-teaser__date",
    summary="p.news-teaser__text",
    image="img",
    categories="ul.news-teaser__tags a",
)
BSI = Selectors(
    item=".c-search-result-list__item",
    title=".c-teaser__headline",
    link="a.c-teaser__link",
    date=".c-teaser__date",
    summary=".c-teaser__text",
    next=".c-pagination__item--next a",
)
AUGSBURG = Selectors(
    item=".news-list-view .article",
    title="h3 [itemprop=headline]",
    link="h3 a",
    date="time",
    summary=".teaser-text p",
    categories=".news-list-category",
    next="li.next a",
)


def page(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def poll(runtime, session, source_id):
    outcome = refresh_source(session, runtime.client, source_id, runtime.refresh_config)
    session.expire_all()
    return outcome


def html_source_row(session, url, selectors: Selectors | None, city="nuernberg", **values) -> Source:
    source = make_source(session, url, city=city)
    source.kind, source.extraction = "html", selectors.as_dict() if selectors else None
    for name, value in values.items():
        setattr(source, name, value)
    session.commit()
    return source


# ---------------------------------------------------------------- extraction (values in, values out)


def test_nuernberg_list_with_explicit_selectors():
    feed = html_source.extract(page("nuernberg_list.html"), "https://www.nuernberg.de/presse/mitteilungen/", NUERNBERG)
    assert feed.format == "html" and feed.title == "Pressemitteilungen – Stadt Nürnberg"
    assert [(e.title, e.link, e.published) for e in feed.entries] == [
        ("Neue Radwege am Frauentorgraben freigegeben", "https://www.nuernberg.de/presse/mitteilungen/pm_4711.html", utc(2026, 10, 13, 22)),
        ("Bürgeramt Nord: geänderte Öffnungszeiten", "https://www.nuernberg.de/presse/mitteilungen/pm_4710.html", utc(2026, 10, 12, 22)),
        (
            "Klimaschutzfahrplan: Stadtrat beschließt Wärmeplanung",
            "https://www.nuernberg.de/presse/mitteilungen/pm_4709.html",
            utc(2026, 10, 11, 22),
        ),
    ]
    assert feed.entries[0].summary.startswith("Der Oberbürgermeister hat heute")


def test_akdb_news_with_xpath_base_href_tags_and_images():
    feed = html_source.extract(page("akdb_news.html"), "https://www.akdb.de/newsroom/", AKDB)
    first = feed.entries[0]
    assert first.link == "https://www.akdb.de/newsroom/news/bayernid-fuer-alle-kommunen/"  # relative to <base href>
    assert first.published == utc(2020, 10, 13, 22)  # 14.10.2020, Europe/Berlin (CEST) → UTC
    assert first.categories == ["IT/Digitalisierung", "IT-Sicherheit"]
    assert first.enclosures == [{"href": "https://www.akdb.de/fileadmin/news/bayernid.jpg", "type": "image/jpeg"}]
    assert [e.categories for e in feed.entries[1:]] == [["IT-Sicherheit"], ["IT/Digitalisierung"]]


def test_augsburg_typo3_archive_with_time_elements_and_categories():
    feed = html_source.extract(page("augsburg_archiv.html"), "https://www.augsburg.de/presse-archiv/", AUGSBURG)
    assert [e.title for e in feed.entries] == [
        "Stadtwerke bauen Fernwärme aus",
        "Neue Ladesäulen in der Innenstadt",
        "Online-Terminvergabe im Bürgerbüro",
    ]
    assert [e.published for e in feed.entries] == [utc(2026, 10, 13, 22), utc(2026, 10, 12, 22), utc(2026, 10, 9, 22)]
    assert [e.categories for e in feed.entries] == [["Umwelt"], ["Mobilität"], ["Bürgerservice"]]
    assert all(e.link.startswith("https://www.augsburg.de/buergerservice-rathaus/") for e in feed.entries)
    assert (
        html_source.next_page(page("augsburg_archiv.html"), "https://www.augsburg.de/presse-archiv/", AUGSBURG)
        == "https://www.augsburg.de/presse-archiv/page-2"
    )


def test_bsi_government_site_builder_page():
    feed = html_source.extract(page("bsi_gsb.html"), "https://www.bsi.bund.de/DE/Presse/pressemitteilungen_node.html", BSI)
    assert [(e.title, e.link, e.published) for e in feed.entries] == [
        (
            "Die Lage der IT-Sicherheit in Deutschland 2026",
            "https://www.bsi.bund.de/SharedDocs/Pressemitteilungen/DE/2026/lagebericht-2026_141026.html",
            utc(2026, 10, 13, 22),
        ),
        (
            "Mehr Cyberresilienz für Kommunen",
            "https://www.bsi.bund.de/SharedDocs/Pressemitteilungen/DE/2026/kommunen-cyberresilienz_021026.html",
            utc(2026, 10, 1, 22),
        ),
    ]  # "Datum 14.10.2026"; the session id is gone from the link
    assert feed.entries[0].summary.startswith("Das BSI hat heute")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("14.10.2026", utc(2026, 10, 13, 22)),
        ("14. Oktober 2026", utc(2026, 10, 13, 22)),
        ("3. März 2026, 9:30 Uhr", utc(2026, 3, 3, 8, 30)),
        ("2020-10-14T10:15:00+02:00", utc(2020, 10, 14, 8, 15)),
        ("2026-01-05", utc(2026, 1, 4, 23)),
        ("irgendwann", None),
    ],
)
def test_dates_german_and_iso_to_utc(text, expected):
    assert html_source.parse_date(text) == expected


def test_redesigned_page_is_selectors_matched_nothing():
    with pytest.raises(SelectorsMatchedNothing) as caught:
        html_source.extract(page("redesigned.html"), "https://www.nuernberg.de/presse/mitteilungen/", NUERNBERG)
    assert caught.value.reason == "selectors_matched_nothing"
    with pytest.raises(SelectorsMatchedNothing):  # and nothing to detect either
        html_source.extract(page("redesigned.html"), "https://www.nuernberg.de/presse/mitteilungen/", None)


# ---------------------------------------------------------------- detection and probing


def test_detection_prefers_an_advertised_feed():
    found = html_source.detect(page("with_feed.html"), "https://www.landkreis.example/aktuelles/")
    assert [link.url for link in found.feeds] == ["https://www.landkreis.example/aktuelles/rss.xml"]
    assert found.selectors is None


@pytest.mark.parametrize(
    "name, url, explicit",
    [
        ("nuernberg_list.html", "https://www.nuernberg.de/presse/mitteilungen/", NUERNBERG),
        ("akdb_news.html", "https://www.akdb.de/newsroom/", AKDB),
        ("augsburg_archiv.html", "https://www.augsburg.de/presse-archiv/", AUGSBURG),
        ("bsi_gsb.html", "https://www.bsi.bund.de/DE/Presse/pressemitteilungen_node.html", BSI),
    ],
)
def test_detected_blocks_extract_the_same_items_as_explicit_selectors(name, url, explicit):
    found = html_source.detect(page(name), url)
    assert not found.feeds and found.selectors is not None
    want = [(e.title, e.link, e.published, e.categories) for e in html_source.extract(page(name), url, explicit).entries]
    assert [(e.title, e.link, e.published, e.categories) for e in found.items] == want
    # the proposed TOML, pasted into a city file, is accepted by the registry and extracts the same items
    table = tomllib.loads(html_source.selectors_toml(url, found.selectors))["sources"][0]
    entry = SourceEntry.model_validate(table)
    pasted = Selectors.from_dict(entry.html.model_dump(exclude_none=True))
    assert [(e.title, e.link, e.published, e.categories) for e in html_source.extract(page(name), url, pasted).entries] == want


def test_article_page_metadata_from_json_ld_og_time_and_tags():
    meta = html_source.article_metadata(page("akdb_article.html"), "https://www.akdb.de/newsroom/news/bayernid-fuer-alle-kommunen/")
    assert meta.published == utc(2020, 10, 14, 8, 15)  # JSON-LD datePublished wins over og and <time>
    assert meta.updated == utc(2020, 10, 15, 6)
    assert meta.categories == ["IT/Digitalisierung", "IT-Sicherheit"]
    assert "zentrale Nutzerkonto des Freistaats" in meta.content and "300 Kommunen" in meta.content
    without_ld = page("akdb_article.html").replace(b'"datePublished"', b'"x"')
    assert html_source.article_metadata(without_ld, "https://www.akdb.de/x/").published == utc(2020, 10, 14, 7, 30)  # og
    only_time = b'<html><body><article><time datetime="2020-10-14">14.10.2020</time><p>Text</p></article></body></html>'
    assert html_source.article_metadata(only_time, "https://www.akdb.de/x/").published == utc(2020, 10, 13, 22)


def test_registry_accepts_html_sources_and_refuses_bad_selectors():
    entry = SourceEntry.model_validate(
        {
            "url": "https://www.nuernberg.de/presse/mitteilungen/",
            "kind": "html",
            "html": {"item": "div.pm-eintrag", "date": "span.datum", "max_pages": 3},
        }
    )
    assert entry.html.item == "div.pm-eintrag"
    with pytest.raises(ValueError, match="kein gültiger CSS-Selektor"):
        SourceEntry.model_validate({"url": "https://a.example/", "kind": "html", "html": {"item": "div[[["}})
    with pytest.raises(ValueError, match="kind"):
        SourceEntry.model_validate({"url": "https://a.example/", "html": {"item": "div"}})


# ---------------------------------------------------------------- refresh_source end to end


def test_refresh_html_source_pagination_bound_and_quiet_repoll(runtime, session, feed_server):
    feed_server.add("/presse/mitteilungen/index.html", page("nuernberg_list.html"), headers=HTML)
    second = feed_server.add("/presse/mitteilungen/index_2.html", page("nuernberg_list_2.html"), headers=HTML)
    third = feed_server.add("/presse/mitteilungen/index_3.html", page("nuernberg_list_3.html"), headers=HTML)
    source = html_source_row(session, feed_server.url("/presse/mitteilungen/index.html"), NUERNBERG)

    first = poll(runtime, session, source.id)
    assert (first.status, first.new) == ("new", 5), first  # 3 + 2: max_pages = 2 stops before page 3
    assert (second.hits, third.hits) == (1, 0)
    stored = session.scalars(select(Article).where(Article.source_id == source.id).order_by(Article.published_at.desc())).all()
    assert stored[0].title == "Neue Radwege am Frauentorgraben freigegeben"
    assert stored[0].url == feed_server.url("/presse/mitteilungen/pm_4711.html")
    assert stored[0].published_at == utc(2026, 10, 13, 22)

    again = poll(runtime, session, source.id)
    assert (again.status, again.new, again.updated) == ("unchanged", 0, 0)
    assert second.hits == 1  # later polls read the first list page only


def test_refresh_changed_list_updates_in_place_and_redesign_is_an_error(runtime, session, feed_server):
    route = feed_server.add("/liste", page("nuernberg_list.html"), headers=HTML)
    source = html_source_row(session, feed_server.url("/liste"), NUERNBERG, min_interval=60)
    assert poll(runtime, session, source.id).new == 3
    route.body = page("nuernberg_list.html").replace(b"ab 12 Uhr geschlossen", b"ab 13 Uhr geschlossen")
    changed = poll(runtime, session, source.id)
    assert (changed.status, changed.new, changed.updated) == ("new", 0, 1)
    assert "ab 13 Uhr" in session.scalar(select(Article.summary_html).where(Article.title.like("Bürgeramt%")))
    route.body = page("redesigned.html")
    broken = poll(runtime, session, source.id)
    assert (broken.status, broken.reason) == ("error", "selectors_matched_nothing")
    row = session.get(Source, source.id)
    assert row.error_count == 1 and row.last_error_reason == "selectors_matched_nothing"
    assert len(session.scalars(select(Article).where(Article.source_id == source.id)).all()) == 3  # kept


def test_refresh_akdb_with_article_pages_fills_topics_and_costs_one_request_per_article(runtime, session, feed_server, topics):
    listing = page("akdb_news.html").replace(b"https://www.akdb.de/", feed_server.url("/").encode())
    news = feed_server.add("/newsroom/", listing, headers=HTML, etag='"v1"')
    articles = {
        path: feed_server.add(path, page("akdb_article.html"), headers=HTML)
        for path in (
            "/newsroom/news/bayernid-fuer-alle-kommunen/",
            "/newsroom/pressemitteilungen/akdb-rechenzentrum-zertifiziert/",
            "/newsroom/ereport/ozg-umsetzung-in-bayern",
        )
    }
    selectors = Selectors(**{**AKDB.as_dict(), "article_pages": True})
    source = html_source_row(session, feed_server.url("/newsroom/"), selectors, city="akdb")

    first = poll(runtime, session, source.id)
    assert first.new == 3
    assert news.hits == 1 and all(route.hits == 1 for route in articles.values())  # 1 + 3 requests
    stored = session.scalar(select(Article).where(Article.url.like("%bayernid%")))
    assert stored.published_at == utc(2020, 10, 14, 8, 15)  # from the article's JSON-LD
    assert "zentrale Nutzerkonto" in stored.content_html
    slugs = set(session.scalars(select(Topic.slug).join(ArticleTopic).where(ArticleTopic.article_id == stored.id)))
    assert {"it-sicherheit", "digitalisierung"} <= slugs
    for topic in ("it-sicherheit", "digitalisierung"):  # and subscribers of both topic feeds see it
        feed = feedparser.parse(render_feed(session, FeedQuery(kind="topic", slug=topic), "atom", "http://127.0.0.1:8000").body)
        assert feed.bozo == 0 and stored.url in [e.link for e in feed.entries], topic

    again = poll(runtime, session, source.id)
    assert (again.status, again.new) == ("not_modified", 0)
    assert news.hits == 2 and all(route.hits == 1 for route in articles.values())  # one 304, no article page again
    assert session.scalar(select(FetchLog.status).where(FetchLog.source_id == source.id).order_by(FetchLog.id.desc())) == "not_modified"


def test_refresh_html_source_without_selectors_detects_blocks(runtime, session, feed_server):
    feed_server.add("/archiv/", page("augsburg_archiv.html"), headers=HTML)
    source = html_source_row(session, feed_server.url("/archiv/"), None, city="augsburg")
    outcome = poll(runtime, session, source.id)
    assert (outcome.status, outcome.new) == ("new", 3)
    titles = set(session.scalars(select(Article.title).where(Article.source_id == source.id)))
    assert "Neue Ladesäulen in der Innenstadt" in titles


# ---------------------------------------------------------------- CLI: sources probe, sources add


def _cli(settings, *args):
    from tests.support.cli import json_lines, syndicate

    done = syndicate(settings, *args, "--json")
    return done, json_lines(done.stdout)


@pytest.mark.slow
def test_cli_probe_proposes_selectors_and_add_registers_an_html_source(runtime, settings, feed_server):
    feed_server.add("/presse/", page("akdb_news.html").replace(b'<base href="https://www.akdb.de/">', b""), headers=HTML)
    feed_server.add("/mit-feed/", page("with_feed.html"), headers=HTML)
    done, (probe,) = _cli(settings, "sources", "probe", feed_server.url("/presse/"))
    assert done.returncode == 0, done.stderr
    assert probe["kind"] == "html" and len(probe["items"]) == 3
    assert probe["items"][0]["categories"] == ["IT/Digitalisierung", "IT-Sicherheit"]
    assert probe["items"][0]["published_at"] == "2020-10-13T22:00:00Z"
    assert "[sources.html]" in probe["toml"] and probe["selectors"]["item"] == "article.news-teaser.col-md-4"

    done, (advertised,) = _cli(settings, "sources", "probe", feed_server.url("/mit-feed/"))
    assert advertised["kind"] == "advertised_feeds" and advertised["feeds"] == [feed_server.url("/aktuelles/rss.xml")]

    with runtime.sessions() as s:
        make_source(s, "https://placeholder.example/x.xml", city="akdb")  # the city must exist
    done, (added,) = _cli(settings, "sources", "add", feed_server.url("/presse/"), "--city", "akdb")
    assert done.returncode == 0, done.stderr
    assert added["kind"] == "html" and added["items"] == 3 and added["warning"] is None
    with runtime.sessions() as s:
        row = s.get(Source, added["id"])
        assert row.kind == "html" and row.extraction["item"] == probe["selectors"]["item"]


def test_twenty_entries_cost_twenty_one_requests_then_one_per_poll(runtime, session, feed_server):
    items = "".join(
        f'<li class="meldung"><a href="/pm_{n}.html">Meldung Nummer {n}</a> <span>{n:02d}.09.2026</span></li>' for n in range(1, 21)
    )
    listing = feed_server.add("/liste.html", f"<html><body><ul class='pm'>{items}</ul></body></html>", headers=HTML, etag='"a"')
    pages = [
        feed_server.add(
            f"/pm_{n}.html",
            f"<html><body><time datetime='2026-09-{n:02d}T10:00:00+02:00'></time><p>Text {n}</p></body></html>",
            headers=HTML,
        )
        for n in range(1, 21)
    ]
    source = html_source_row(session, feed_server.url("/liste.html"), Selectors(item="li.meldung", article_pages=True))
    assert poll(runtime, session, source.id).new == 20
    assert listing.hits + sum(p.hits for p in pages) == 21
    assert session.scalar(select(Article.published_at).where(Article.url == feed_server.url("/pm_7.html"))) == utc(2026, 9, 7, 8)
    assert poll(runtime, session, source.id).status == "not_modified"
    assert listing.hits + sum(p.hits for p in pages) == 22


# ---------------------------------------------------------------- API


def test_api_registers_a_newsroom_page_without_feed_as_html_source(settings, runtime, topics, session, feed_server):
    from tests.support.api_fixtures import build_api

    api = build_api(settings, runtime)
    feed_server.add("/presse/", page("nuernberg_list.html"), headers=HTML)
    answer = api.call("POST", "/api/v1/cities/muenchen/sources", "muenchen", json={"url": feed_server.url("/presse/")})
    assert answer.status_code == 201, answer.text
    created = answer.json()
    assert created["source"]["kind"] == "html" and created["source"]["extraction"]["item"] == "div.pm-eintrag"
    assert created["preview"]["format"] == "html" and created["preview"]["item_count"] == 3

    feed_server.add("/neu/", page("redesigned.html"), headers=HTML)
    explicit = {"url": feed_server.url("/neu/"), "kind": "html", "extraction": NUERNBERG.as_dict()}
    refused = api.call("POST", "/api/v1/cities/muenchen/sources", "muenchen", json=explicit)
    assert refused.status_code == 422 and refused.json()["reason"] == "selectors_matched_nothing"
    bad = api.call("POST", "/api/v1/cities/muenchen/sources", "muenchen", json={**explicit, "extraction": {"item": "div[[["}})
    assert bad.status_code == 422
