"""End to end through real Celery processes: beat ticks, the worker polls a local source,
the article appears in a merged feed. Runs against the embedded broker, or against Redis /
RabbitMQ when SYNDICATE_TEST_BROKER_URL is set (as in CI)."""

from __future__ import annotations

import sys
import uuid

import feedparser
import pytest
from kombu import Connection
from sqlalchemy import func, select

from syndicate.models import Article, FetchLog
from syndicate.publish.feeds import FeedQuery, render_feed
from tests.conftest import ROOT, cli_env, make_source
from tests.support import processes

pytestmark = pytest.mark.celery

FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Stadt Testhausen</title><link>https://testhausen.example/</link>
<item><title>Neue Ladesäulen am Rathausplatz</title><link>https://testhausen.example/pm/{token}</link>
<guid>pm-{token}</guid><pubDate>Mon, 23 Nov 2026 09:00:00 +0100</pubDate>
<category>Mobilität</category><description>&lt;p&gt;Die Stadt eröffnet zwölf neue Ladesäulen für Elektroautos.&lt;/p&gt;</description></item>
</channel></rss>"""


def purge(broker_url: str) -> None:
    with Connection(broker_url) as connection:
        channel = connection.channel()
        for queue in ("refresh", "maintenance"):
            try:
                channel.queue_purge(queue)
            except Exception:  # the queue does not exist yet on this broker
                pass


@pytest.fixture
def celery_processes(settings, tmp_path):
    purge(settings.broker_url)
    env = cli_env(settings, SYNDICATE_BEAT_INTERVAL="1")
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    name = f"e2e-{uuid.uuid4().hex[:8]}@%h"
    worker = processes.start(
        [sys.executable, "-m", "celery", "-A", "workers", "worker", "--pool", "threads", "-c", "2", "-n", name, "--loglevel", "INFO"],
        env,
        tmp_path / "worker.log",
        ROOT,
    )
    beat = processes.start(
        [sys.executable, "-m", "celery", "-A", "workers", "beat", "--loglevel", "INFO", "--schedule", str(tmp_path / "beat-schedule")],
        env,
        tmp_path / "beat.log",
        ROOT,
    )
    yield tmp_path
    processes.stop(beat)
    processes.stop(worker)
    purge(settings.broker_url)


def test_worker_polls_local_source_and_article_reaches_merged_feed(runtime, session, topics, feed_server, celery_processes, settings):
    token = uuid.uuid4().hex[:10]
    route = feed_server.add("/testhausen.xml", FEED.format(token=token), headers={"Content-Type": "application/rss+xml"})
    source = make_source(session, feed_server.url("/testhausen.xml"), city="testhausen", name="Stadt Testhausen")

    def stored():
        with runtime.sessions() as s:
            return s.scalar(select(func.count(Article.id)).where(Article.source_id == source.id))

    found = processes.wait_for(stored, timeout=90)
    logs = {p.name: p.read_text(errors="replace")[-3000:] for p in celery_processes.glob("*.log")}
    assert found == 1, f"worker did not store the article; logs: {logs}"
    assert route.hits >= 1
    # with --loglevel INFO, as docs/production.md says, each refresh is one line in the worker's log
    worker_log = processes.wait_for(
        lambda: (
            (log := (celery_processes / "worker.log").read_text(errors="replace"))
            and f"refresh source={source.id} status=new new=1" in log
            and log
        ),
        timeout=10,
    )
    assert worker_log, logs

    with runtime.sessions() as s:
        body = render_feed(s, FeedQuery(kind="topic", slug="mobilitaet"), "rss", settings.public_url).body
        log = s.scalars(select(FetchLog).where(FetchLog.source_id == source.id)).first()
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0
    assert [e.title for e in parsed.entries] == ["Neue Ladesäulen am Rathausplatz"]
    assert parsed.entries[0].link == f"https://testhausen.example/pm/{token}"
    assert log.status == "new" and log.new_items == 1

    # beat keeps ticking; the source is not due again, so nothing is fetched twice right away
    hits = route.hits
    processes.wait_for(lambda: False, timeout=3)
    assert route.hits == hits
    assert stored() == 1
