"""/metrics: Prometheus text that prometheus_client's parser reads, counters that move after
real polls, an exact duration histogram, gauges for sources, queues, beat and alerts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select

from syndicate.clock import utcnow
from syndicate.ingest.due import record_tick
from syndicate.models import Article, FetchLog, Source
from tests.conftest import make_source
from tests.support.ops_fixtures import NEWS, client, healthy_and_failing, poll, samples, value


def scrape(c) -> dict:
    response = c.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return samples(response.text)


def test_counters_move_after_a_poll(settings, runtime, session, feed_server, topics):
    with client(settings) as c:
        before = scrape(c)
        assert value(before, "syndicate_database_up") == 1 and value(before, "syndicate_broker_up") == 1
        assert value(before, "syndicate_articles_ingested_total") == 0
        assert not [k for k in before if k[0] == "syndicate_fetches_total"]

        polled = healthy_and_failing(runtime, session, feed_server)
        first = scrape(c)
        assert value(first, "syndicate_fetches_total", status="new", reason="") == 1
        assert value(first, "syndicate_fetches_total", status="error", reason="http_5xx") == 1
        assert value(first, "syndicate_articles_ingested_total") == len(NEWS)
        assert value(first, "syndicate_articles") == len(NEWS) and value(first, "syndicate_articles_today") == len(NEWS)
        assert value(first, "syndicate_fetch_duration_seconds_count", status="new") == 1
        assert value(first, "syndicate_fetch_duration_seconds_count", status="error") == 1
        assert value(first, "syndicate_sources", state="ok") == 1 and value(first, "syndicate_sources", state="failing") == 1
        assert value(first, "syndicate_sources", state="broken") == 0
        ok_success = value(first, "syndicate_source_last_success_timestamp_seconds", source_id=str(polled.ok_id), city="fuerth")
        assert abs(ok_success - utcnow().timestamp()) < 60
        assert value(first, "syndicate_source_last_success_timestamp_seconds", source_id=str(polled.failing_id), city="fuerth") is None
        assert value(first, "syndicate_source_consecutive_errors", source_id=str(polled.failing_id), city="fuerth") == 1
        assert value(first, "syndicate_queue_depth", queue="refresh") is not None
        assert value(first, "syndicate_workers_online") is not None
        assert value(first, "syndicate_alert_active", alert="source_failing") == 0

        poll(runtime, session, polled.ok_id)  # 304 with the ETag
        poll(runtime, session, polled.failing_id)
        second = scrape(c)
    assert value(second, "syndicate_fetches_total", status="not_modified", reason="") == 1
    assert value(second, "syndicate_fetches_total", status="error", reason="http_5xx") == 2
    assert value(second, "syndicate_fetch_duration_seconds_count", status="error") == 2
    assert value(second, "syndicate_articles_ingested_total") == len(NEWS)  # nothing new
    assert value(second, "syndicate_source_consecutive_errors", source_id=str(polled.failing_id), city="fuerth") == 2
    assert value(second, "syndicate_websub_failing_subscriptions") == 0


def test_duration_histogram_buckets(settings, runtime, session):
    source = make_source(session, "http://127.0.0.1:9/feed.xml")
    now = utcnow()
    for ms, fetch_status in [(40, "new"), (300, "new"), (7000, "new"), (12, "error"), (45000, "error")]:
        session.add(FetchLog(source_id=source.id, started_at=now, duration_ms=ms, status=fetch_status, new_items=2, duplicates=1))
    session.commit()
    with client(settings) as c:
        found = scrape(c)
    buckets = {
        le: value(found, "syndicate_fetch_duration_seconds_bucket", status="new", le=le)
        for le in ("0.05", "0.25", "0.5", "5.0", "10.0", "+Inf")
    }
    assert buckets == {"0.05": 1, "0.25": 1, "0.5": 2, "5.0": 2, "10.0": 3, "+Inf": 3}
    assert value(found, "syndicate_fetch_duration_seconds_sum", status="new") == pytest.approx(7.34)
    assert value(found, "syndicate_fetch_duration_seconds_bucket", status="error", le="30.0") == 1
    assert value(found, "syndicate_fetch_duration_seconds_bucket", status="error", le="+Inf") == 2
    assert value(found, "syndicate_articles_ingested_total") == 10
    assert value(found, "syndicate_duplicates_total", kind="stored") == 5


def test_a_folded_run_of_quiet_polls_counts_as_that_many_fetches(settings, runtime, session):
    source = make_source(session, "http://127.0.0.1:9/feed.xml")
    now = utcnow()
    session.add(
        FetchLog(
            source_id=source.id,
            started_at=now,
            duration_ms=20,
            status="not_modified",
            http_status=304,
            repeats=40,
            last_started_at=now + timedelta(hours=5),
        )
    )
    session.add(FetchLog(source_id=source.id, started_at=now, duration_ms=600, status="unchanged", http_status=200))
    session.commit()
    with client(settings) as c:
        found = scrape(c)
    assert value(found, "syndicate_fetches_total", status="not_modified", reason="") == 40
    assert value(found, "syndicate_fetches_total", status="unchanged", reason="") == 1
    assert value(found, "syndicate_fetch_duration_seconds_bucket", status="not_modified", le="0.05") == 40
    assert value(found, "syndicate_fetch_duration_seconds_sum", status="not_modified") == pytest.approx(0.8)


def test_alerts_and_beat_lag_in_metrics(settings, runtime, session, feed_server, topics):
    polled = healthy_and_failing(runtime, session, feed_server)
    failing = session.get(Source, polled.failing_id)
    failing.first_error_at = utcnow() - timedelta(hours=7)  # failing longer than ops_failing_alert_after (6 h)
    session.commit()
    record_tick(session, utcnow() - timedelta(seconds=600), 3)
    with client(settings, beat_interval=30) as c:
        found = scrape(c)
        html = c.get("/ops").text
    assert value(found, "syndicate_sources", state="broken") == 1 and value(found, "syndicate_sources_broken") == 1
    assert value(found, "syndicate_alert_active", alert="source_failing") == 1
    assert value(found, "syndicate_alert_active", alert="beat_lag") == 1
    assert value(found, "syndicate_beat_lag_seconds") == pytest.approx(600, abs=30)
    assert 'data-alert="source_failing"' in html and 'data-alert="beat_lag"' in html and ">defekt<" in html


def test_websub_subscriptions_by_state(settings, runtime, session):
    from syndicate.models import WebSubSubscription

    for i, (state, failures) in enumerate([("active", 0), ("active", 3), ("pending", 0)]):
        session.add(
            WebSubSubscription(
                callback=f"http://127.0.0.1:9/cb/{i}",
                topic="http://127.0.0.1:8000/feeds/all.atom",
                state=state,
                lease_seconds=3600,
                failures=failures,
            )
        )
    session.commit()
    with client(settings) as c:
        found = scrape(c)
    assert value(found, "syndicate_websub_subscriptions", state="active") == 2
    assert value(found, "syndicate_websub_subscriptions", state="pending") == 1
    assert value(found, "syndicate_websub_failing_subscriptions") == 1


def test_metrics_without_the_database(settings):
    with client(settings, database_url="postgresql+psycopg://x@127.0.0.1:1/x") as c:  # loopback; nothing listens
        found = scrape(c)
    assert value(found, "syndicate_database_up") == 0
    assert value(found, "syndicate_broker_up") == 1 and value(found, "syndicate_queue_depth", queue="refresh") is not None
    assert not [k for k in found if k[0] == "syndicate_fetches_total"]


def test_ingest_delay_histogram(settings, runtime, session):
    """Publication → first seen, of the articles published in the last week; a source's backlog is no delay."""
    from syndicate.models import Article

    now = utcnow()
    source = make_source(session, "http://127.0.0.1:9/feed.xml")
    source.created_at = now - timedelta(days=2)
    articles = {  # item: (published, first seen)
        "future": (now - timedelta(minutes=5), now - timedelta(minutes=10)),  # dated ahead: a delay of 0
        "fast": (now - timedelta(hours=1), now - timedelta(hours=1) + timedelta(seconds=90)),
        "slow": (now - timedelta(hours=2), now - timedelta(hours=2) + timedelta(minutes=20)),
        "night": (now - timedelta(days=1), now - timedelta(days=1) + timedelta(hours=5)),
        "backlog": (now - timedelta(days=3), now - timedelta(days=2)),  # published before the source was registered
        "old": (now - timedelta(days=9), now - timedelta(days=9) + timedelta(minutes=1)),  # outside the week
    }
    for key, (published, first_seen) in articles.items():
        session.add(
            Article(source_id=source.id, item_key=key, title=key, content_hash=key, published_at=published, first_seen_at=first_seen)
        )
    session.commit()
    with client(settings) as c:
        found = scrape(c)
    buckets = {
        le: value(found, "syndicate_ingest_delay_seconds_bucket", le=le) for le in ("60.0", "120.0", "900.0", "1800.0", "21600.0", "+Inf")
    }
    assert buckets == {"60.0": 1, "120.0": 2, "900.0": 2, "1800.0": 3, "21600.0": 4, "+Inf": 4}


def test_whole_table_counts_are_reused_until_an_article_is_added_or_they_age(session, runtime, feed_server, topics):
    """/ops and /metrics hold their counts of articles and stories per process (syndicate.ops.counts)."""
    from syndicate.ops import counts

    clock = [0.0]
    cache = counts.CountCache(60.0, clock=lambda: clock[0])
    assert cache.get(session) == counts.Counts(0, 0, 0)
    polled = healthy_and_failing(runtime, session, feed_server)  # stores NEWS: a larger article id
    assert cache.get(session).articles == len(NEWS)
    oldest = session.scalar(select(func.min(Article.id)).where(Article.source_id == polled.ok_id))
    session.execute(delete(Article).where(Article.id == oldest))  # retention deletes the oldest: no new largest id
    session.commit()
    assert cache.get(session).articles == len(NEWS)  # held while young
    clock[0] = 61.0
    assert cache.get(session) == counts.count(session) and counts.count(session).articles == len(NEWS) - 1
