"""The app's fast path for merged feeds (syndicate.web.cachedfeeds): while the render cache is fresh, a feed
without a query is answered from it before routing, with no database work; everything else reaches the app."""

from __future__ import annotations

import feedparser
import pytest
from fastapi.testclient import TestClient

from syndicate.web.app import create_app


@pytest.fixture
def app_client(settings, runtime, fuerth):
    app = create_app(settings.model_copy(update={"feed_cache_seconds": 3600.0}))
    with TestClient(app) as client:
        yield app, client


def without_database(app, monkeypatch) -> list[str]:
    """Every later use of the app's sessions is recorded and fails."""
    used: list[str] = []

    def refused():
        used.append("session")
        raise RuntimeError("the database was used")

    monkeypatch.setattr(app.state.runtime, "sessions", refused)
    return used


def test_a_fresh_cached_feed_is_served_without_the_database(app_client, monkeypatch):
    app, client = app_client
    first = client.get("/feeds/cities/fuerth.atom")
    assert first.status_code == 200
    used = without_database(app, monkeypatch)

    again = client.get("/feeds/cities/fuerth.atom", headers={"Accept-Encoding": "identity"})
    assert again.status_code == 200 and again.content == first.content
    assert {k: again.headers[k] for k in ("etag", "last-modified", "cache-control", "content-type", "link")} == {
        k: first.headers[k] for k in ("etag", "last-modified", "cache-control", "content-type", "link")
    }
    assert int(again.headers["content-length"]) == len(first.content)
    assert client.get("/feeds/cities/fuerth.atom", headers={"If-None-Match": first.headers["etag"]}).status_code == 304
    assert client.get("/feeds/cities/fuerth.atom", headers={"If-Modified-Since": first.headers["last-modified"]}).status_code == 304
    head = client.head("/feeds/cities/fuerth.atom", headers={"Accept-Encoding": "identity"})
    assert head.status_code == 200 and head.content == b"" and head.headers["content-length"] == str(len(first.content))
    zipped = client.get("/feeds/cities/fuerth.atom", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip" and zipped.content == first.content  # decoded by the client
    assert used == []


def test_queries_misses_and_other_paths_reach_the_app(app_client, monkeypatch):
    app, client = app_client
    client.get("/feeds/all.rss")
    used = without_database(app, monkeypatch)
    with pytest.raises(RuntimeError):
        client.get("/feeds/all.rss?limit=1")  # a query string is never answered from the fast path
    with pytest.raises(RuntimeError):
        client.get("/feeds/all.json")  # another format: not cached yet
    assert used == ["session", "session"]


def test_the_fast_path_serves_what_the_app_renders(app_client):
    _app, client = app_client
    rendered = client.get("/feeds/all.rss", headers={"Accept-Encoding": "identity"})
    cached = client.get("/feeds/all.rss", headers={"Accept-Encoding": "gzip"})
    assert cached.headers["content-encoding"] == "gzip" and cached.content == rendered.content
    assert [e.title for e in feedparser.parse(cached.content).entries] == ["Stadtrat tagt", "Neue Radwege"]
