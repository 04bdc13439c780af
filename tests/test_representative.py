"""Who represents a story in the merged feeds: the member first seen; in one poll round the earliest
plausible claimed date; a claimed date older than its source's registration never reorders. Polled
through the real refresh path from a server on 127.0.0.1 (SQLite, or PostgreSQL with
SYNDICATE_TEST_DATABASE_URL)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import feedparser
import pytest
from sqlalchemy import select

from syndicate.clock import utcnow
from syndicate.dedupe import clusters, tombstones
from syndicate.ingest.refresh import refresh_sources
from syndicate.models import Article, Cluster, Source
from syndicate.publish.feeds import FeedQuery, render_feed
from tests.conftest import make_source
from tests.test_store_lifecycle import RSS, STORY, item, poll, rss

TITLE = "Warnung vor gefälschten E-Mails im Namen des Finanzamts"
T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("a", "b", "first"),
    [
        # (first seen, claimed, registered) of two members; which one represents the story
        ((T0, T0, T0), (T0 + timedelta(hours=1), datetime(2020, 1, 1, tzinfo=UTC), T0), "a"),  # seen first beats an earlier claim
        ((T0, T0, T0), (T0 + timedelta(seconds=1), T0 - timedelta(days=9), T0 - timedelta(days=30)), "a"),  # even a plausible one
        ((T0, T0 - timedelta(days=1), T0 - timedelta(days=30)), (T0, T0 - timedelta(days=2), T0 - timedelta(days=30)), "b"),  # same round
        ((T0, T0 - timedelta(days=1), T0 - timedelta(days=30)), (T0, datetime(2020, 1, 1, tzinfo=UTC), T0 - timedelta(hours=2)), "a"),
        ((T0, T0 - timedelta(days=3), T0 - timedelta(days=30)), (T0, datetime(2020, 1, 1, tzinfo=UTC), T0 - timedelta(days=5)), "b"),
    ],
)
def test_ordering_rule(a, b, first):
    """Same round: the claimed date counts, but never earlier than the source's registration."""
    ranks = {"a": clusters.rank(*a), "b": clusters.rank(*b)}
    assert min(ranks, key=ranks.get) == first
    assert clusters.rank(T0, datetime(2020, 1, 1, tzinfo=UTC), T0 - timedelta(days=1)) == (T0, T0 - timedelta(days=1))  # clamped
    assert clusters.rank(T0, T0 - timedelta(hours=1), None) == (T0, T0 - timedelta(hours=1))  # no registration known


def _feed(city: str, link: str, day: datetime) -> str:
    return rss(item(TITLE, STORY, f"{city}-1", link, day=format_datetime(day)))


def _entry_of(session, fmt: str):
    body = render_feed(session, FeedQuery(kind="all"), fmt, "http://127.0.0.1:8000").body
    if fmt == "json":
        (entry,) = [e for e in json.loads(body)["items"] if e["title"] == TITLE]
        return entry
    (entry,) = [e for e in feedparser.parse(body).entries if e.title == TITLE]
    return entry


def test_a_backdated_copy_registered_later_does_not_take_over_the_story(runtime, session, feed_server):
    published = utcnow() - timedelta(hours=3)
    original_url, copy_url = "https://www.muenchen.de/presse/finanzamt", "https://www.kopie.example/meldung"
    feed_server.add("/muenchen.xml", _feed("muenchen", original_url, published), headers=RSS)
    feed_server.add("/kopie.xml", _feed("kopie", copy_url, datetime(2020, 1, 1, 8, tzinfo=UTC)), headers=RSS)
    original = make_source(session, feed_server.url("/muenchen.xml"), city="muenchen", name="München")
    assert poll(runtime, session, original.id).new == 1
    copier = make_source(session, feed_server.url("/kopie.xml"), city="kopierstadt", name="Kopierstadt")
    assert poll(runtime, session, copier.id).new == 1

    first = session.scalar(select(Article).where(Article.source_id == original.id))
    copy = session.scalar(select(Article).where(Article.source_id == copier.id))
    assert copy.cluster_id == first.cluster_id  # one story
    assert copy.published_at == datetime(2020, 1, 1, 8, tzinfo=UTC)  # the claim is kept for display
    cluster = session.get(Cluster, first.cluster_id)
    assert cluster.representative_id == first.id and cluster.published_at == first.published_at

    for fmt in ("atom", "rss"):
        entry = _entry_of(session, fmt)
        assert entry.link == original_url, fmt
        body = entry.get("content", [{}])[0].get("value") or entry.get("summary", "")
        assert "Auch veröffentlicht von" in body and f'href="{copy_url}"' in body and "Kopierstadt" in body, fmt
    entry = _entry_of(session, "json")
    assert entry["url"] == original_url
    assert entry["_syndicate"]["also_published_by"] == [{"city": "kopierstadt", "name": "Kopierstadt", "url": copy_url}]


def _registered(session, source: Source, days_ago: int) -> Source:
    source.created_at = utcnow() - timedelta(days=days_ago)
    session.commit()
    return source


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 1, 0), (1, 0, 2)])
def test_in_one_poll_round_the_earliest_plausible_claim_represents(runtime, session, feed_server, order):
    """Three feeds stored in one round (one group, one ``now``), in any order: B's 2020 date is older than
    its source's registration (yesterday) and counts as yesterday; C's date five days ago is plausible
    (registered 30 days ago) and beats A's three days ago. A later round cannot take over."""
    now = utcnow()
    claims = {
        "a": now - timedelta(days=3),
        "b": datetime(2020, 1, 1, tzinfo=UTC),
        "c": now - timedelta(days=5),
        "d": now - timedelta(days=9),
    }
    registered = {"a": 30, "b": 1, "c": 30, "d": 30}
    sources = {}
    for name, claimed in claims.items():
        feed_server.add(f"/{name}.xml", _feed(name, f"https://www.{name}.example/1", claimed), headers=RSS)
        sources[name] = _registered(session, make_source(session, feed_server.url(f"/{name}.xml"), city=f"{name}-stadt"), registered[name])
    group = [sources[name].id for name in ("a", "b", "c")]
    refresh_sources(session, runtime.client, [group[i] for i in order], runtime.refresh_config, now)
    session.expire_all()
    stored = {
        name: session.scalar(select(Article).where(Article.source_id == source.id)) for name, source in sources.items() if name != "d"
    }
    assert len({a.cluster_id for a in stored.values()}) == 1
    assert session.get(Cluster, stored["a"].cluster_id).representative_id == stored["c"].id

    refresh_sources(session, runtime.client, [sources["d"].id], runtime.refresh_config, now + timedelta(minutes=5))
    session.expire_all()
    later = session.scalar(select(Article).where(Article.source_id == sources["d"].id))
    assert later.cluster_id == stored["a"].cluster_id
    assert session.get(Cluster, later.cluster_id).representative_id == stored["c"].id


def test_when_the_representative_goes_the_next_first_seen_member_takes_over(runtime, session, feed_server):
    published = utcnow() - timedelta(hours=3)
    feed_server.add("/m.xml", _feed("m", "https://www.m.example/1", published), headers=RSS)
    feed_server.add("/n.xml", _feed("n", "https://www.n.example/1", published + timedelta(hours=1)), headers=RSS)
    feed_server.add("/k.xml", _feed("k", "https://www.k.example/1", datetime(2020, 1, 1, tzinfo=UTC)), headers=RSS)
    polled = []
    for path, city in (("/m.xml", "m-stadt"), ("/n.xml", "n-stadt"), ("/k.xml", "k-stadt")):
        source = make_source(session, feed_server.url(path), city=city)
        poll(runtime, session, source.id)
        polled.append(session.scalar(select(Article).where(Article.source_id == source.id)))
    m, n, k = polled
    assert len({m.cluster_id, n.cluster_id, k.cluster_id}) == 1
    tombstones.bury(session, m, "auf Wunsch der Stadt entfernt")
    session.commit()
    session.expire_all()
    cluster = session.get(Cluster, n.cluster_id)
    assert cluster.representative_id == n.id  # seen before the backdated copy, whose claim is older
