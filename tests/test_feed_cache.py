"""The render cache of the merged feeds (publish.feeds.FeedCache): bounded by bytes, least recently
used evicted first, and keyed by the canonical query so that trivial variations share one entry."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from syndicate.publish import feeds as publish
from syndicate.settings import Settings
from syndicate.web.app import create_app
from tests.support.stories import poll_all

BASE = "http://127.0.0.1:8000"


@pytest.fixture
def stories(runtime, session, topics, server):
    return poll_all(runtime, session, server)


def held(cache: publish.FeedCache) -> int:
    """The bytes the cache holds, counted from its entries rather than taken from its own tally."""
    return sum(publish.FeedCache.cost(rendered) for _, rendered in cache._entries.values())


def test_the_default_budget_is_64_mib():
    assert Settings().feed_cache_bytes == 64 * 1024 * 1024
    assert publish.FeedCache().max_bytes == 64 * 1024 * 1024


def test_many_distinct_feeds_never_hold_more_than_the_byte_budget(settings, stories):
    app = create_app(settings.model_copy(update={"feed_cache_bytes": 1}))
    with TestClient(app) as client:
        sizes = [len(client.get(f"/feeds/all.{fmt}?limit=3").content) for fmt in ("rss", "atom", "json")]
    budget = 3 * (max(sizes) + publish.FeedCache.ENTRY_OVERHEAD)  # room for about three pages of three entries
    app = create_app(settings.model_copy(update={"feed_cache_bytes": budget}))
    with TestClient(app) as client:
        for limit in range(1, 31):
            for fmt in ("rss", "atom", "json"):
                assert client.get(f"/feeds/all.{fmt}?limit={limit}").status_code == 200
                cache = app.state.feed_cache
                assert cache.size == held(cache) <= budget, (limit, fmt)
        assert cache.misses == 90 and 1 <= len(cache) < 90  # it keeps what fits, and no more
        assert cache.max_bytes == budget


def test_least_recently_used_goes_first_and_a_feed_over_the_budget_is_served_but_not_kept(session, stories):
    queries = [publish.FeedQuery(limit=n) for n in (1, 2, 3)]
    sizes = [publish.FeedCache.cost(publish.render_feed(session, q, "rss", BASE)) for q in queries]
    cache = publish.FeedCache(max_bytes=sizes[0] + sizes[1] + sizes[2] - 1)  # not all three
    first, second, third = (cache.get(session, q, "rss", BASE) for q in queries[:1] + queries[1:2] + queries[:1])
    assert third is first and (cache.hits, cache.misses) == (1, 2)  # the first is now the most recently used
    cache.get(session, queries[2], "rss", BASE)  # evicts the second, not the first
    assert cache.get(session, queries[0], "rss", BASE) is first and cache.hits == 2
    cache.get(session, queries[1], "rss", BASE)
    assert cache.misses == 4 and cache.size == held(cache) <= cache.max_bytes

    tiny = publish.FeedCache(max_bytes=sizes[0] - 1)
    assert tiny.get(session, queries[0], "rss", BASE).body == first.body
    assert len(tiny) == 0 and tiny.size == 0


@pytest.mark.parametrize(
    "path, variants",
    [
        ("/feeds/all.rss", ["?city=muenchen,augsburg", "?city=augsburg,muenchen", "?city=%20augsburg,,muenchen,augsburg&utm_source=x"]),
        ("/feeds/all.atom", ["?q=phishing", "?q=Phishing", "?q=PHISHING&unbekannt=1"]),
        ("/feeds/all.json", ["?limit=200", "?limit=201", "?limit=100000"]),
        ("/feeds/cities/muenchen.rss", ["", "?city=muenchen", "?city=muenchen,nuernberg"]),
        ("/feeds/topics/it-sicherheit.rss", ["", "?topic=it-sicherheit", "?topic="]),
    ],
)
def test_trivial_variations_of_a_query_share_one_cache_entry(settings, stories, path, variants):
    app = create_app(settings)
    with TestClient(app) as client:
        bodies = []
        for variant in variants:
            response = client.get(path + variant)
            assert response.status_code == 200, response.text
            bodies.append(response.content)
        cache = app.state.feed_cache
        assert (cache.misses, cache.hits, len(cache)) == (1, len(variants) - 1, 1)
    assert len(set(bodies)) == 1


def test_the_paging_cursor_is_keyed_by_what_it_means(session, stories):
    first = publish.render_feed(session, publish.FeedQuery(limit=1), "rss", BASE)
    cursor = first.body.decode().split("before=")[1].split('"')[0]
    stamp, _, cluster_id = cursor.rpartition("-")
    cache = publish.FeedCache()
    a = cache.get(session, publish.FeedQuery(limit=1, before=cursor), "rss", BASE)
    b = cache.get(session, publish.FeedQuery(limit=1, before=f"{stamp}-000{cluster_id}"), "rss", BASE)
    assert b is a and (cache.misses, cache.hits) == (1, 1)
    with pytest.raises(publish.InvalidCursor):
        publish.FeedCache(fresh_for=60).peek(publish.FeedQuery(before="kein-cursor"), "rss", BASE)
