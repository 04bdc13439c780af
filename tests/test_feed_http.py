"""HTTP behaviour of the merged feeds: 304 by ETag and by date, HEAD, gzip, Link headers, paging with a
before= cursor and RFC 5005 links, the render cache, and the OPML of all feeds."""

from __future__ import annotations

import json
from datetime import timedelta
from email.utils import format_datetime, parsedate_to_datetime
from xml.etree import ElementTree as ET

import feedparser
import httpx
import pytest
from fastapi.testclient import TestClient

from syndicate.ingest.refresh import refresh_source
from syndicate.publish import feeds as publish
from syndicate.web.app import create_app
from tests.conftest import make_source
from tests.support.stories import fixture, poll_all
from tests.test_publish import NEWEST_FIRST

BASE = "http://127.0.0.1:8000"


@pytest.fixture
def client(settings, runtime, topics):
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def stories(runtime, session, topics, server):
    return poll_all(runtime, session, server)


def add_regensburg(runtime, session, server):
    server.add("/regensburg.xml", fixture("doppelt.xml"))
    source = make_source(session, server.url("/regensburg.xml"), city="regensburg", name="Stadt Regensburg")
    assert refresh_source(session, runtime.client, source.id, runtime.refresh_config).new == 2


def test_if_modified_since_and_last_modified(client, stories):
    first = client.get("/feeds/all.rss")
    last_modified = first.headers["last-modified"]
    date = parsedate_to_datetime(last_modified)
    assert date.year >= 2025

    assert client.get("/feeds/all.rss", headers={"If-Modified-Since": last_modified}).status_code == 304
    later = format_datetime(date + timedelta(hours=1), usegmt=True)
    assert client.get("/feeds/all.rss", headers={"If-Modified-Since": later}).status_code == 304
    earlier = format_datetime(date - timedelta(seconds=1), usegmt=True)
    assert client.get("/feeds/all.rss", headers={"If-Modified-Since": earlier}).status_code == 200
    assert client.get("/feeds/all.rss", headers={"If-Modified-Since": "kein Datum"}).status_code == 200
    # If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2)
    assert client.get("/feeds/all.rss", headers={"If-None-Match": '"other"', "If-Modified-Since": later}).status_code == 200
    not_modified = client.get("/feeds/all.rss", headers={"If-None-Match": f'"x", {first.headers["etag"]}'})
    assert not_modified.status_code == 304 and not_modified.headers["last-modified"] == last_modified


def test_head_gives_the_headers_without_a_body(client, stories):
    get = client.get("/feeds/topics/it-sicherheit.atom")
    head = client.head("/feeds/topics/it-sicherheit.atom")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == get.headers["etag"] and head.headers["content-type"] == get.headers["content-type"]
    assert head.headers["last-modified"] == get.headers["last-modified"]
    assert client.head("/feeds/topics/it-sicherheit.atom", headers={"If-None-Match": get.headers["etag"]}).status_code == 304
    assert client.head("/feeds/topics/raumfahrt.atom").status_code == 404


def test_gzip_cache_control_and_hub_links(client, stories):
    with httpx.Client(transport=client._transport, base_url="http://testserver") as raw:
        response = raw.get("/feeds/all.atom", headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    plain = client.get("/feeds/all.atom", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert response.content == plain.content  # httpx undid the gzip
    assert response.headers["cache-control"] == "public, max-age=300" and "Accept-Encoding" in response.headers["vary"]
    assert f'<{BASE}/websub>; rel="hub"' in response.headers["link"]
    assert f'<{BASE}/feeds/all.atom>; rel="self"' in response.headers["link"]


def _next(document, fmt):
    if fmt == "json":
        return document.get("next_url")
    links = {link.get("rel"): link.get("href") for link in document.feed.get("links", [])}
    if "next" in links:
        assert links["prev-archive"] == links["next"] and links["first"].startswith(BASE)
    return links.get("next")


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
def test_paging_walks_back_through_every_story(client, stories, fmt):
    url, seen, pages = f"/feeds/all.{fmt}?limit=1", [], 0
    while url:
        response = client.get(url.removeprefix(BASE))
        assert response.status_code == 200, response.text
        if fmt == "json":
            document = response.json()
            seen += [item["title"] for item in document["items"]]
        else:
            document = feedparser.parse(response.content)
            assert document.bozo == 0
            seen += [entry.title for entry in document.entries]
        url, pages = _next(document, fmt), pages + 1
        assert pages <= len(NEWEST_FIRST)
    assert seen == NEWEST_FIRST


def test_paging_keeps_filters_and_rejects_bad_cursors(client, stories):
    first = feedparser.parse(client.get("/feeds/all.atom?city=augsburg,nuernberg&limit=2").content)
    links = {link.rel: link.href for link in first.feed.links}
    assert "city=augsburg%2Cnuernberg" in links["next"] and "before=" in links["next"]
    second = feedparser.parse(client.get(links["next"].removeprefix(BASE) + "&limit=2").content)
    assert [e.title for e in first.entries + second.entries] == [t for t in NEWEST_FIRST if t != "Neue Radwege in der Maxvorstadt"]
    assert "next" not in {link.rel for link in second.feed.links}
    bad = client.get("/feeds/all.atom?before=gestern")
    assert bad.status_code == 400 and bad.json()["detail"]["reason"] == "invalid_cursor"


def test_render_cache_hits_without_rendering_and_invalidates_on_change(client, runtime, session, stories, server, monkeypatch):
    renders = []
    real = publish.render
    monkeypatch.setattr(publish, "render", lambda *a, **k: renders.append(1) or real(*a, **k))
    first = client.get("/feeds/topics/it-sicherheit.rss")
    assert len(renders) == 1
    for _ in range(3):
        assert client.get("/feeds/topics/it-sicherheit.rss").content == first.content
    client.get("/feeds/topics/it-sicherheit.rss", headers={"If-None-Match": first.headers["etag"]})
    assert len(renders) == 1  # hits and 304s render nothing

    client.get("/feeds/topics/klimaschutz.rss")
    assert len(renders) == 2
    add_regensburg(runtime, session, server)  # changes the all feed, not the IT-Sicherheit one
    client.get("/feeds/topics/it-sicherheit.rss")
    assert len(renders) == 2
    changed = client.get("/feeds/all.rss")
    assert len(renders) == 3 and "Christkindlmarkt" in changed.text

    # an edited article in the feed invalidates it
    from syndicate.clock import utcnow
    from syndicate.models import Article

    for article in session.query(Article).filter(Article.title.like("%Phishing%")):
        article.title, article.changed_at = "Warnung: neue Phishing-Welle", utcnow()
    session.commit()
    edited = client.get("/feeds/topics/it-sicherheit.rss")
    assert len(renders) == 4 and edited.headers["etag"] != first.headers["etag"]
    assert client.get("/feeds/topics/it-sicherheit.rss", headers={"If-None-Match": first.headers["etag"]}).status_code == 200


def test_opml_lists_every_feed(client, stories):
    response = client.get("/feeds/opml")
    assert response.status_code == 200 and "attachment" in response.headers["content-disposition"]
    outlines = ET.fromstring(response.content).findall("./body/outline")
    urls = [o.get("xmlUrl") for o in outlines]
    assert (
        f"{BASE}/feeds/all.atom" in urls
        and f"{BASE}/feeds/topics/klimaschutz.atom" in urls
        and f"{BASE}/feeds/cities/augsburg.atom" in urls
    )
    assert all(o.get("type") == "rss" and o.get("text") for o in outlines)
    rss = ET.fromstring(client.get("/feeds/opml?format=rss").content)
    assert all(o.get("xmlUrl").endswith(".rss") for o in rss.findall("./body/outline"))
    assert json.loads(client.get("/feeds/all.json").content)["feed_url"] == f"{BASE}/feeds/all.json"


def test_a_fresh_cache_entry_is_served_without_any_query(session, stories):
    """With feed_cache_seconds > 0 a hit within that time skips even the version-stamp query."""
    cache = publish.FeedCache(fresh_for=60)
    query = publish.FeedQuery("topic", "it-sicherheit")
    assert cache.peek(query, "rss", BASE) is None  # nothing cached yet
    rendered = cache.get(session, query, "rss", BASE)
    session.close()
    assert cache.peek(query, "rss", BASE) is rendered
    assert publish.FeedCache(fresh_for=0).peek(query, "rss", BASE) is None
