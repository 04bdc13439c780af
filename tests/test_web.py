"""HTTP: merged feeds with ETag/304 and errors, the German index page, /healthz and /readyz."""

from __future__ import annotations

import time
from html.parser import HTMLParser

import feedparser
import pytest
from fastapi.testclient import TestClient

from syndicate.ingest.refresh import refresh_source
from syndicate.web.app import create_app
from tests.conftest import make_source
from tests.support.stories import PHISHING, fixture, poll_all
from tests.test_publish import NEWEST_FIRST, OSTERN, RADWEGE, SOLAR

TOPIC_TITLES = ["IT-Sicherheit", "Digitalisierung", "Klimaschutz", "Mobilität", "Bürgerservice"]
CITY_NAMES = ["Landeshauptstadt München", "Stadt Nürnberg", "Stadt Augsburg"]


@pytest.fixture
def client(settings, runtime, topics):
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def stories(runtime, session, topics, server):
    return poll_all(runtime, session, server)


def entries(response) -> list[str]:
    assert response.status_code == 200, response.text
    parsed = feedparser.parse(response.content)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return [entry.title for entry in parsed.entries]


@pytest.mark.parametrize(
    "fmt, content_type, version", [("rss", "application/rss+xml", "rss20"), ("atom", "application/atom+xml", "atom10")]
)
def test_all_feed_as_rss_and_atom(client, stories, fmt, content_type, version):
    response = client.get(f"/feeds/all.{fmt}")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith(content_type)
    parsed = feedparser.parse(response.content)
    assert parsed.bozo == 0 and parsed.version == version
    assert [e.title for e in parsed.entries] == NEWEST_FIRST
    shared = [e for e in parsed.entries if e.title == PHISHING]
    assert len(shared) == 1
    body = shared[0].content[0].value if "content" in shared[0] else shared[0].description
    assert "Auch veröffentlicht von" in body and "Stadt Augsburg" in body and "Stadt Nürnberg" in body  # München, seen first, is the entry


def test_all_feed_as_json_feed(client, stories):
    response = client.get("/feeds/all.json")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/feed+json")
    document = response.json()
    assert document["version"] == "https://jsonfeed.org/version/1.1"
    assert [item["title"] for item in document["items"]] == NEWEST_FIRST
    shared = document["items"][-1]
    assert [p["name"] for p in shared["_syndicate"]["also_published_by"]] == ["Stadt Nürnberg", "Stadt Augsburg"]
    assert "Auch veröffentlicht von" in shared["content_html"]
    assert [item["title"] for item in client.get("/feeds/topics/klimaschutz.json").json()["items"]] == [SOLAR]


@pytest.mark.parametrize(
    "path, expected",
    [
        ("/feeds/topics/it-sicherheit.rss", [PHISHING]),
        ("/feeds/topics/mobilitaet.atom", [RADWEGE]),
        ("/feeds/topics/digitalisierung.rss", []),
        ("/feeds/cities/augsburg.rss", [OSTERN, PHISHING]),
        ("/feeds/cities/nuernberg.atom", [SOLAR, PHISHING]),
        ("/feeds/all.rss?city=augsburg,nuernberg", [SOLAR, OSTERN, PHISHING]),
        ("/feeds/all.rss?city=muenchen&topic=it-sicherheit", [PHISHING]),
        ("/feeds/all.atom?topic=klimaschutz", [SOLAR]),
        ("/feeds/all.rss?q=Photovoltaik", [SOLAR]),
        ("/feeds/all.rss?q=%C3%96ffnungszeiten", [OSTERN]),
        ("/feeds/all.rss?limit=2", [SOLAR, OSTERN]),
        ("/feeds/topics/it-sicherheit.rss?city=augsburg", [PHISHING]),
        ("/feeds/cities/muenchen.rss?city=augsburg", []),
    ],
)
def test_scopes_and_filters(client, stories, path, expected):
    assert entries(client.get(path)) == expected


def test_city_feed_links_the_citys_own_copy(client, stories):
    parsed = feedparser.parse(client.get("/feeds/cities/muenchen.atom").content)
    shared = parsed.entries[-1]
    assert shared.title == PHISHING and shared.author == "Landeshauptstadt München"
    assert shared.link == "https://www.bayern.de/presse/warnung-phishing-2025"


@pytest.mark.parametrize("path", ["/feeds/all.rss?limit=0", "/feeds/all.rss?limit=viele"])
def test_invalid_limit_is_rejected(client, path):
    assert client.get(path).status_code == 422


def test_limit_is_capped(settings, runtime, session, stories):
    capped = settings.model_copy(update={"feed_limit": 1, "feed_limit_max": 2})
    with TestClient(create_app(capped)) as client:
        assert entries(client.get("/feeds/all.rss")) == NEWEST_FIRST[:1]  # the default limit
        assert entries(client.get("/feeds/all.rss?limit=100000")) == NEWEST_FIRST[:2]  # the maximum


@pytest.mark.parametrize(
    "path, reason",
    [
        ("/feeds/topics/raumfahrt.rss", "unknown_feed"),
        ("/feeds/cities/atlantis.json", "unknown_feed"),
        ("/feeds/all.xml", "unknown_format"),
        ("/feeds/topics/it-sicherheit.pdf", "unknown_format"),
        ("/feeds/cities/muenchen.html", "unknown_format"),
    ],
)
def test_unknown_feed_or_format_is_404_with_reason(client, path, reason):
    response = client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["detail"]["reason"] == reason


def test_etag_and_304(client, runtime, session, stories, server):
    first = client.get("/feeds/all.atom")
    etag = first.headers["etag"]
    assert etag.startswith('"') and "max-age" in first.headers["cache-control"]

    again = client.get("/feeds/all.atom", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert client.get("/feeds/all.rss", headers={"If-None-Match": etag}).status_code == 200  # other format, other tag

    # a new article changes the feed and its tag; the old tag gets the full feed
    server.add("/regensburg.xml", fixture("doppelt.xml"))
    source = make_source(session, server.url("/regensburg.xml"), city="regensburg", name="Stadt Regensburg")
    assert refresh_source(session, runtime.client, source.id, runtime.refresh_config).new == 2
    changed = client.get("/feeds/all.atom", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert "Christkindlmarkt" in changed.text


def test_empty_feed_gets_304_too(client):
    first = client.get("/feeds/topics/digitalisierung.atom")
    assert first.status_code == 200
    time.sleep(0.01)
    assert client.get("/feeds/topics/digitalisierung.atom", headers={"If-None-Match": first.headers["etag"]}).status_code == 304


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.alternates, self.anchors, self.lang = [], [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "html":
            self.lang = attrs.get("lang")
        elif tag == "link" and attrs.get("rel") == "alternate":
            self.alternates.append(attrs)
        elif tag == "a":
            self.anchors.append(attrs.get("href"))


def test_index_page_lists_every_feed_in_german(client, stories, settings):
    response = client.get("/abonnieren")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    links = _Links()
    links.feed(page)
    assert links.lang == "de"
    assert "Kommunaler Feed-Verbund Bayern" in page and "Abonnieren" in page
    for title in TOPIC_TITLES:
        assert title in page
    for name in CITY_NAMES:
        assert name in page
    slugs = ["it-sicherheit", "digitalisierung", "klimaschutz", "mobilitaet", "buergerservice"]
    paths = ["/feeds/all"] + [f"/feeds/topics/{s}" for s in slugs] + [f"/feeds/cities/{c}" for c in ("muenchen", "nuernberg", "augsburg")]
    for path in paths:
        for fmt in ("rss", "atom", "json"):
            assert f"{path}.{fmt}" in links.anchors
    discovered = {link["href"]: link for link in links.alternates}
    base = settings.public_url.rstrip("/")
    for path in paths:
        link = discovered[f"{base}{path}.atom"]
        assert link["type"] == "application/atom+xml" and link.get("title")
    # every advertised link really serves a feed
    for href in list(discovered)[:3]:
        assert client.get(href.removeprefix(base)).status_code == 200


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_with_database_and_broker(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ok"


def test_readyz_names_an_unreachable_broker(settings, runtime):
    # loopback, nothing listens on port 1; the test client counts as an operator network, which sees the details
    closed = settings.model_copy(update={"broker_url": "redis://127.0.0.1:1/0", "ops_allow_networks": "testclient"})
    with TestClient(create_app(closed)) as client:
        started = time.monotonic()
        response = client.get("/readyz")
        elapsed = time.monotonic() - started
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert set(body["problems"]) == {"broker"}
    assert body["problems"]["broker"]
    assert elapsed < 10
