"""Maintenance: retention with tombstones (articles polled from a real server on 127.0.0.1), fetch-log and
housekeeping pruning, database upkeep, the CLI command and the periodic Celery task."""

from __future__ import annotations

import random
import sqlite3
import time
from datetime import datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from sqlalchemy import exists, func, select, text
from sqlalchemy.engine import make_url

from syndicate.clock import utcnow
from syndicate.db import make_engine
from syndicate.dedupe import clusters
from syndicate.ingest.refresh import refresh_source
from syndicate.models import (
    Article,
    ArticleBucket,
    ArticleTopic,
    Cluster,
    FetchLog,
    HostRequest,
    Source,
    Tombstone,
    WebSubSubscription,
)
from syndicate.ops import maintenance
from syndicate.publish.feeds import FeedQuery, load_items
from syndicate.runtime import Runtime
from syndicate.sources import service as sources_service
from tests.conftest import make_source
from tests.support.cli import json_lines, syndicate
from tests.test_store_lifecycle import OTHER, STORY

RSS = {"Content-Type": "application/rss+xml; charset=utf-8"}
WORDS = [
    "Stadtrat",
    "Haushalt",
    "Radweg",
    "Schule",
    "Kita",
    "Brücke",
    "Bürgerhaus",
    "Spielplatz",
    "Wahl",
    "Sitzung",
    "Baustelle",
    "Feuerwehr",
    "Museum",
    "Bibliothek",
    "Friedhof",
    "Markt",
    "Fest",
    "Konzert",
    "Ausstellung",
    "Sanierung",
    "Förderung",
    "Antrag",
    "Bebauungsplan",
    "Wasser",
    "Strom",
    "Müllabfuhr",
    "Winterdienst",
    "Park",
    "Bäume",
    "Jugend",
    "Senioren",
    "Sport",
    "Halle",
    "Bad",
    "Verkehr",
    "Ampel",
    "Parkplatz",
    "Bus",
    "Bahnhof",
]


def filler(seed: int) -> list[str]:
    """Sentences that share no story with any other seed."""
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(12)) + "." for _ in range(4)]


def item(guid: str, published: datetime, title: str | None = None, sentences: list[str] | None = None) -> str:
    body = "".join(f"&lt;p&gt;{s}&lt;/p&gt;" for s in sentences or filler(hash(guid) % 10_000))
    return (
        f"<item><title>{title or 'Meldung ' + guid}</title><link>https://www.example-stadt.de/{guid}</link>"
        f'<guid isPermaLink="false">{guid}</guid><pubDate>{format_datetime(published)}</pubDate>'
        f"<description>{body}</description></item>"
    )


def rss(*items: str, built: datetime | None = None) -> str:
    stamp = format_datetime(built or utcnow())
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Presse</title>'
        f"<link>https://www.example-stadt.de/</link><lastBuildDate>{stamp}</lastBuildDate>{''.join(items)}</channel></rss>"
    )


def poll(runtime, session, source_id: int):
    outcome = refresh_source(session, runtime.client, source_id, runtime.refresh_config)
    session.expire_all()
    return outcome


def count(session, model, *conditions) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*conditions))


def guids(session, source: Source) -> set[str]:
    return set(session.scalars(select(Article.guid).where(Article.source_id == source.id)))


def assert_clusters_consistent(session) -> None:
    """No cluster without members; every representative is a member and the first of them by ``clusters.rank``."""
    assert count(session, Cluster, ~exists().where(Article.cluster_id == Cluster.id)) == 0
    for cluster in session.scalars(select(Cluster)):
        members = session.execute(select(Article, Source.created_at).join(Source).where(Article.cluster_id == cluster.id)).all()
        first, _registered = min(members, key=lambda m: (*clusters.rank(m[0].first_seen_at, m[0].published_at, m[1]), m[0].id))
        assert (cluster.representative_id, cluster.published_at) == (first.id, first.published_at)


# ---------------------------------------------------------------- retention


def test_retention_by_age_buries_old_articles_and_hands_their_clusters_on(runtime, session, feed_server, topics):
    now = utcnow()
    a_items = [
        item("a-story", now - timedelta(days=368), "Warnung vor gefälschten E-Mails", STORY),
        item("a-other", now - timedelta(days=400), "Bibliothek sonntags geöffnet", OTHER),
        item("a-recent", now - timedelta(days=10)),
    ]
    route = feed_server.add("/a.xml", rss(*a_items), headers=RSS)
    feed_server.add("/b.xml", rss(item("b-story", now - timedelta(days=362), "Warnung vor gefälschten E-Mails", STORY)), headers=RSS)
    a = make_source(session, feed_server.url("/a.xml"), city="augsburg", topics=["it-sicherheit"])
    b = make_source(session, feed_server.url("/b.xml"), city="nuernberg")
    assert poll(runtime, session, a.id).new == 3 and poll(runtime, session, b.id).new == 1
    story, other, b_story = (session.scalar(select(Article).where(Article.guid == g)) for g in ("a-story", "a-other", "b-story"))
    story_cluster, other_cluster = story.cluster_id, other.cluster_id
    assert b_story.cluster_id == story_cluster and session.get(Cluster, story_cluster).representative_id == story.id
    victims = [story.id, other.id]
    assert count(session, ArticleTopic, ArticleTopic.article_id.in_(victims)) == 2  # the source's default topic
    assert count(session, ArticleBucket, ArticleBucket.article_id.in_(victims)) > 0

    report = maintenance.retain(session, now, max_age_days=365, per_source=0)

    assert (report.by_age, report.by_count, report.complete) == (2, 0, True)
    session.expire_all()
    assert guids(session, a) == {"a-recent"} and guids(session, b) == {"b-story"}
    cluster = session.get(Cluster, story_cluster)
    assert (cluster.representative_id, cluster.published_at) == (b_story.id, b_story.published_at)  # handed on
    assert session.get(Cluster, other_cluster) is None  # its only member went
    assert count(session, ArticleTopic, ArticleTopic.article_id.in_(victims)) == 0
    assert count(session, ArticleBucket, ArticleBucket.article_id.in_(victims)) == 0
    assert_clusters_consistent(session)
    (feed_entry,) = [e for e in load_items(session, FeedQuery()) if e.cluster_id == story_cluster]
    assert feed_entry.article.guid == "b-story"
    assert set(session.scalars(select(Tombstone.item_key).where(Tombstone.source_id == a.id))) == {story.item_key, other.item_key}
    assert {t.reason for t in session.scalars(select(Tombstone))} == {"retention: older than 365 days"}

    # tombstones are kept, however old: the feed still carries both items and they must stay gone
    session.execute(Tombstone.__table__.update().values(created_at=now - timedelta(days=3650)))
    session.commit()
    again = maintenance.run(session, now, maintenance.Limits.from_settings(runtime.settings))  # 365 days, 1000 per source
    assert again.retain.by_age == 0 and count(session, Tombstone) == 2
    route.body = rss(*a_items, item("a-new", now - timedelta(hours=1))).encode()
    outcome = poll(runtime, session, a.id)
    assert (outcome.status, outcome.new) == ("new", 1)  # the document was stored: only the new item came in
    assert guids(session, a) == {"a-recent", "a-new"}


def test_retention_per_source_keeps_the_newest_n_of_each_source(runtime, session, feed_server):
    now = utcnow()
    a_items = [item(f"a-{n}", now - timedelta(days=n)) for n in range(1, 6)]
    route = feed_server.add("/a.xml", rss(*a_items), headers=RSS)
    feed_server.add("/b.xml", rss(*(item(f"b-{n}", now - timedelta(days=30 + n)) for n in range(1, 3))), headers=RSS)
    a = make_source(session, feed_server.url("/a.xml"), city="augsburg")
    b = make_source(session, feed_server.url("/b.xml"), city="nuernberg")
    assert poll(runtime, session, a.id).new == 5 and poll(runtime, session, b.id).new == 2

    report = maintenance.retain(session, now, max_age_days=0, per_source=2, batch=2)  # two batches for one source

    assert (report.by_age, report.by_count, report.complete) == (0, 3, True)
    assert guids(session, a) == {"a-1", "a-2"} and guids(session, b) == {"b-1", "b-2"}
    assert count(session, Tombstone, Tombstone.source_id == a.id, Tombstone.reason == "retention: beyond the newest 2") == 3
    assert_clusters_consistent(session)

    route.body = rss(*a_items, item("a-0", now - timedelta(hours=2))).encode()  # the feed still carries all five
    assert poll(runtime, session, a.id).new == 1
    assert guids(session, a) == {"a-0", "a-1", "a-2"}
    assert maintenance.retain(session, now, max_age_days=0, per_source=2).by_count == 1
    assert guids(session, a) == {"a-0", "a-1"} and count(session, Tombstone) == 4


def test_dry_run_counts_what_a_run_deletes_and_a_deadline_stops_between_batches(runtime, session, feed_server):
    now = utcnow()
    feed_server.add(
        "/a.xml", rss(item("old", now - timedelta(days=400)), *(item(f"a-{n}", now - timedelta(days=n)) for n in range(2, 6))), headers=RSS
    )
    a = make_source(session, feed_server.url("/a.xml"))
    assert poll(runtime, session, a.id).new == 5

    dry = maintenance.retain(session, now, 365, 2, dry_run=True)
    assert (dry.by_age, dry.by_count, dry.dry_run) == (1, 2, True)
    assert count(session, Article) == 5 and count(session, Tombstone) == 0

    stopped = maintenance.retain(session, now, 365, 2, deadline=time.monotonic())
    assert (stopped.by_age, stopped.by_count, stopped.complete) == (0, 0, False)
    done = maintenance.retain(session, now, 365, 2)
    assert (done.by_age, done.by_count, done.complete) == (1, 2, True)
    assert guids(session, a) == {"a-2", "a-3"} and count(session, Tombstone) == 3


# ---------------------------------------------------------------- fetch log and housekeeping


def add_fetches(session, source: Source, now: datetime, days: list[int]) -> None:
    session.add_all(FetchLog(source_id=source.id, started_at=now - timedelta(days=d, minutes=1), status="new") for d in days)
    session.commit()


def fetch_days(session, source: Source, now: datetime) -> list[int]:
    """Ages (days) of the rows the API and the dashboard read, newest first."""
    return [(now - row.started_at).days for row in sources_service.fetch_log(session, source, 200)]


def test_fetch_log_pruning_keeps_young_rows_and_the_newest_of_each_source(session):
    now = utcnow()
    busy, quiet, stale = (make_source(session, f"https://www.example-stadt.de/{n}.xml") for n in ("busy", "quiet", "stale"))
    add_fetches(session, busy, now, list(range(10)))
    add_fetches(session, quiet, now, [30, 31, 32])
    add_fetches(session, stale, now, list(range(10, 18)))

    assert maintenance.prune_fetch_log(session, now, keep_days=0, keep_per_source=5).fetch_log == 0  # 0: kept whatever their age
    assert maintenance.prune_fetch_log(session, now, 3, 5, dry_run=True).fetch_log == 8 and count(session, FetchLog) == 21
    report = maintenance.prune_fetch_log(session, now, keep_days=3, keep_per_source=5, batch=2)

    assert (report.fetch_log, report.complete) == (8, True)
    assert fetch_days(session, busy, now) == [0, 1, 2, 3, 4]  # days 3 and 4 are old, but among the newest 5
    assert fetch_days(session, quiet, now) == [30, 31, 32]  # fewer than 5: all stay
    assert fetch_days(session, stale, now) == [10, 11, 12, 13, 14]
    assert maintenance.prune_fetch_log(session, now, keep_days=3, keep_per_source=0).fetch_log == 10
    assert fetch_days(session, busy, now) == [0, 1, 2] and fetch_days(session, quiet, now) == []


def test_a_run_of_quiet_polls_is_pruned_by_its_latest_attempt(session):
    now = utcnow()
    source = make_source(session, "https://www.example-stadt.de/ruhig.xml")
    session.add_all(
        [
            FetchLog(
                source_id=source.id,
                started_at=now - timedelta(days=40),
                last_started_at=now - timedelta(days=20),
                status="not_modified",
                repeats=900,
            ),  # a run that ended 20 days ago: goes
            FetchLog(
                source_id=source.id,
                started_at=now - timedelta(days=19),
                last_started_at=now - timedelta(hours=1),
                status="unchanged",
                repeats=2000,
            ),  # began 19 days ago, polled an hour ago: stays
        ]
    )
    session.commit()
    assert maintenance.prune_fetch_log(session, now, keep_days=14, keep_per_source=0).fetch_log == 1
    assert [row.repeats for row in sources_service.fetch_log(session, source, 10)] == [2000]


def test_housekeeping_drops_spent_host_slots_and_unverified_websub_requests(session):
    now = utcnow()
    old, hold = now - timedelta(minutes=10), timedelta(seconds=60)
    session.add_all(
        [
            HostRequest(host="finished.de", started_at=old, expires_at=old + hold, finished_at=old + timedelta(seconds=2)),
            HostRequest(host="crashed.de", started_at=old, expires_at=old + hold),  # never released, expired
            HostRequest(host="slow.de", started_at=old, expires_at=now + hold),  # still held
            HostRequest(
                host="recent.de", started_at=now - timedelta(seconds=20), expires_at=now + hold, finished_at=now
            ),  # counts for the rate
        ]
    )
    week_ago = now - timedelta(days=8)
    for state, expires, created in [
        ("denied", None, week_ago),
        ("pending", None, week_ago),
        ("active", now + timedelta(days=3), week_ago),
        ("denied", None, now - timedelta(hours=1)),
    ]:
        session.add(
            WebSubSubscription(
                callback=f"https://abo.example/{state}/{created:%s}",
                topic="http://127.0.0.1:8000/feeds/all.atom",
                state=state,
                lease_seconds=600,
                expires_at=expires,
                created_at=created,
                failures=0,
            )
        )
    session.commit()

    report = maintenance.prune_housekeeping(session, now, batch=1)

    assert (report.host_requests, report.websub_requests) == (2, 2)
    assert set(session.scalars(select(HostRequest.host))) == {"slow.de", "recent.de"}
    left = session.execute(select(WebSubSubscription.state, WebSubSubscription.created_at)).all()
    assert sorted(state for state, _ in left) == ["active", "denied"] and min(c for _, c in left) == week_ago


def test_bucket_rows_left_without_their_article_are_pruned_slice_by_slice(runtime, session, feed_server):
    now = utcnow()
    feed_server.add("/a.xml", rss(item("a-story", now - timedelta(days=3), "Warnung vor gefälschten E-Mails", STORY)), headers=RSS)
    source = make_source(session, feed_server.url("/a.xml"), city="augsburg")
    assert poll(runtime, session, source.id).new == 1
    kept = count(session, ArticleBucket)
    assert kept > 20
    gone = session.scalar(select(func.max(Article.id))) + 1000  # an article deleted by hand (no bury): its rows stay behind
    draw = random.Random(7)
    edges = [-(2**63), -1, 0, 2**63 - 1, *(draw.randrange(-(2**63), 2**63) for _ in range(40))]
    session.add_all(ArticleBucket(bucket=b, published=0, article_id=gone) for b in edges)
    session.commit()

    assert maintenance.prune_buckets(session, dry_run=True) == (len(edges), True)
    assert count(session, ArticleBucket) == kept + len(edges)
    assert maintenance.prune_buckets(session, deadline=time.monotonic() - 1) == (0, False)  # out of time before a slice
    assert maintenance.prune_housekeeping(session, now).buckets == len(edges)
    assert count(session, ArticleBucket) == kept and count(session, ArticleBucket, ArticleBucket.article_id == gone) == 0


# ---------------------------------------------------------------- database upkeep


def test_upkeep_on_sqlite_checkpoints_the_wal(runtime, session):
    if runtime.engine.dialect.name != "sqlite":
        pytest.skip("the suite runs on PostgreSQL")
    add_fetches(session, make_source(session, "https://www.example-stadt.de/a.xml"), utcnow(), list(range(50)))
    session.close()
    wal = Path(make_url(runtime.settings.database_url).database + "-wal")
    assert wal.stat().st_size > 0

    report = maintenance.upkeep(runtime.engine)

    assert report.dialect == "sqlite" and report.done[0] == "PRAGMA optimize"
    # a database syndicate created has incremental auto-vacuum: freed pages go back to the file system
    assert report.done[1].startswith("incremental vacuum freed") and not report.skipped
    assert report.done[2].startswith("WAL checkpoint(TRUNCATE)") and wal.stat().st_size == 0


def test_upkeep_reports_a_database_without_auto_vacuum(tmp_path):
    with sqlite3.connect(tmp_path / "old.db", isolation_level=None) as connection:
        connection.execute("CREATE TABLE blobs (data BLOB)")  # made before syndicate's pragmas: auto_vacuum stays off
    connection.close()
    engine = make_engine(f"sqlite:///{tmp_path}/old.db")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA auto_vacuum").scalar() == 0
    report = maintenance.upkeep(engine)
    assert any(step.startswith("VACUUM (") and "auto_vacuum is off" in step for step in report.skipped)
    engine.dispose()


def test_a_new_database_gets_incremental_auto_vacuum(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/new.db")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA auto_vacuum").scalar() == 2  # INCREMENTAL
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA mmap_size").scalar() == 1 << 30
    engine.dispose()


def test_upkeep_runs_incremental_vacuum_when_sqlite_has_it_enabled(tmp_path):
    with sqlite3.connect(tmp_path / "incremental.db", isolation_level=None) as connection:
        connection.execute("PRAGMA auto_vacuum=INCREMENTAL")  # before anything else is written
        connection.execute("CREATE TABLE blobs (data BLOB)")
        connection.executemany("INSERT INTO blobs VALUES (zeroblob(8000))", [()] * 200)
        connection.execute("DELETE FROM blobs")
        free = connection.execute("PRAGMA freelist_count").fetchone()[0]
    connection.close()
    assert free > 200
    engine = make_engine(f"sqlite:///{tmp_path}/incremental.db")

    report = maintenance.upkeep(engine)

    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA freelist_count").scalar() == 0
    assert f"incremental vacuum freed {free} of {free} free pages" in report.done
    assert not any(step.startswith("VACUUM") for step in report.skipped)
    engine.dispose()


def test_upkeep_on_postgresql_vacuums_and_analyzes_the_hot_tables(runtime, session):
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("the suite runs on SQLite")
    add_fetches(session, make_source(session, "https://www.example-stadt.de/a.xml"), utcnow(), list(range(5)))
    started = session.scalar(text("SELECT now()"))
    session.close()

    report = maintenance.upkeep(session)

    assert report.done == [f"VACUUM (ANALYZE, SKIP_LOCKED) {', '.join(maintenance.HOT_TABLES)}"]
    with runtime.engine.connect() as connection:
        stats = dict(connection.execute(text("SELECT relname, greatest(last_vacuum, last_autovacuum) FROM pg_stat_user_tables")).all())
    assert all(stats[table] is not None and stats[table] >= started for table in ("fetch_log", "articles", "clusters"))


# ---------------------------------------------------------------- CLI and the periodic task


def seed_old_and_new(runtime, session, feed_server) -> Source:
    now = utcnow()
    feed_server.add("/a.xml", rss(item("old", now - timedelta(days=400)), item("new", now - timedelta(days=1))), headers=RSS)
    source = make_source(session, feed_server.url("/a.xml"))
    assert poll(runtime, session, source.id).new == 2
    add_fetches(session, source, now, [20, 21, 22])
    return source


@pytest.mark.slow
def test_maintenance_run_command_dry_run_then_for_real(settings, runtime, session, feed_server):
    source = seed_old_and_new(runtime, session, feed_server)
    limits = {"SYNDICATE_RETENTION_DAYS": "365", "SYNDICATE_FETCH_LOG_DAYS": "14", "SYNDICATE_FETCH_LOG_PER_SOURCE": "2"}

    dry = syndicate(settings, "maintenance", "run", "--dry-run", "--json", **limits)
    assert dry.returncode == 0, dry.stderr
    steps = {line.pop("step"): line for line in json_lines(dry.stdout)}
    assert steps == {
        "retain": {"by_age": 1, "by_count": 0, "complete": True, "dry_run": True},
        "prune": {
            "fetch_log": 2,
            "host_requests": 0,
            "websub_requests": 0,
            "mail_signups": 0,
            "buckets": 0,
            "complete": True,
            "dry_run": True,
        },
    }
    human = syndicate(settings, "maintenance", "run", "--dry-run", **limits)
    assert human.stdout.splitlines() == [
        "dry run: would delete 1 articles (1 by age, 0 over the per-source limit), 2 fetch-log rows, "
        "0 host slots, 0 unverified WebSub requests, 0 unconfirmed e-mail sign-ups, 0 orphaned bucket rows"
    ]
    session.expire_all()
    assert count(session, Article) == 2 and count(session, FetchLog) == 4

    done = syndicate(settings, "maintenance", "run", **limits)
    assert done.returncode == 0, done.stderr
    deleted, upkept = done.stdout.splitlines()
    assert deleted.startswith("deleted 1 articles (1 by age, 0 over the per-source limit), 2 fetch-log rows")
    assert upkept.startswith(
        "sqlite: PRAGMA optimize, incremental vacuum freed" if runtime.engine.dialect.name == "sqlite" else "postgresql: VACUUM"
    )
    session.expire_all()
    assert guids(session, source) == {"new"} and count(session, Tombstone, Tombstone.source_id == source.id) == 1
    assert count(session, FetchLog) == 2  # the refresh's row and the newest old one


def test_beat_schedules_the_maintenance_task_on_the_maintenance_queue():
    import celeryconfig
    from syndicate.settings import get_settings
    from workers import app

    (entry,) = [e for e in celeryconfig.beat_schedule.values() if e["task"] == "syndicate.maintenance"]
    assert entry["schedule"] == get_settings().maintenance_interval == 3600.0
    assert "syndicate.maintenance" in app.tasks
    assert app.amqp.router.route({}, "syndicate.maintenance")["queue"].name == "maintenance"


def test_the_task_runs_the_maintenance_with_the_settings(settings, runtime, session, feed_server, monkeypatch):
    import workers.tasks
    from workers.maintenance import run_maintenance

    source = seed_old_and_new(runtime, session, feed_server)
    worker = Runtime(settings.model_copy(update={"retention_days": 365, "fetch_log_days": 14, "fetch_log_per_source": 1}))
    monkeypatch.setattr(workers.tasks, "_runtime", worker)
    try:
        result = run_maintenance.apply().get()
    finally:
        worker.close()

    assert (result["retain"]["by_age"], result["prune"]["fetch_log"]) == (1, 3)
    assert result["upkeep"]["dialect"] == runtime.engine.dialect.name and result["upkeep"]["done"]
    session.expire_all()
    assert guids(session, source) == {"new"} and count(session, FetchLog) == 1
