"""The ops watcher (syndicate/ops/watch.py): a worker lost, beat stopped, a source failing, an alert raised,
and each one's end, logged once for the installation: two processes looking at the same time, or one
looking again and again, write one line per change; a restarted process does not repeat it."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import pytest

from syndicate.clock import utcnow
from syndicate.ingest.due import record_tick
from syndicate.models import Source, WatchMark
from syndicate.ops import alerts, watch
from syndicate.ops import workers as workerinfo
from tests.support import processes
from tests.support.api_fixtures import rss
from tests.support.ops_fixtures import RSS, client, healthy_and_failing, poll


def seen(now, workers=None, beat_tick=None, beat_age=None, failing=None, alert_list=()) -> watch.Observation:
    return watch.Observation(
        now=now,
        workers=workers,
        beat_tick=beat_tick,
        beat_age=beat_age,
        beat_limit=90.0,
        failing=failing or {},
        alerts={f"alert:{a.key}": a for a in alert_list},
    )


def record_in_two_processes(runtime, observation) -> list[str]:
    """Two API processes record the same look: each with its own session, the marks read by both before either writes."""
    with runtime.sessions() as one, runtime.sessions() as two:
        first, second = watch._Marks(one), watch._Marks(two)
        changes = watch.record(one, observation, first) + watch.record(two, observation, second)
    return [change.message for change in changes]


def test_a_lost_worker_is_logged_once_and_when_it_is_back(runtime):
    t0 = utcnow()
    assert record_in_two_processes(runtime, seen(t0, {"one@host": t0, "two@host": t0})) == [
        "WORKER ONLINE one@host",
        "WORKER ONLINE two@host",
    ]
    lines = []
    for n in range(1, 4):  # two was killed: three looks without it, each by two processes
        lines += record_in_two_processes(runtime, seen(t0 + timedelta(seconds=30 * n), {"one@host": t0 + timedelta(seconds=30 * n)}))
    assert lines == [f"WORKER LOST two@host: last seen {t0.isoformat(timespec='seconds')}"]
    assert record_in_two_processes(runtime, seen(t0 + timedelta(seconds=120), None)) == []  # broker down: nothing known, nothing said
    # a process that still reads two's last (stale) heartbeat does not bring it back
    assert record_in_two_processes(runtime, seen(t0 + timedelta(seconds=150), {"one@host": t0, "two@host": t0})) == []
    back = record_in_two_processes(runtime, seen(t0 + timedelta(seconds=180), {"one@host": t0, "two@host": t0 + timedelta(seconds=179)}))
    assert len(back) == 1 and back[0].startswith("WORKER ONLINE two@host: back, lost since"), back


def test_a_stopped_beat_is_logged_once_and_its_recovery_once(runtime):
    now = utcnow()
    assert record_in_two_processes(runtime, seen(now)) == []  # never ticked: a new installation
    assert record_in_two_processes(runtime, seen(now, beat_tick=now, beat_age=5.0)) == []
    lines = []
    for n in range(3):
        lines += record_in_two_processes(runtime, seen(now + timedelta(minutes=n + 2), beat_tick=now, beat_age=120.0 + 60 * n))
    assert len(lines) == 1 and lines[0].startswith("BEAT STOPPED: last tick ") and "limit 90 s" in lines[0], lines
    later = now + timedelta(minutes=6)
    lines = record_in_two_processes(runtime, seen(later, beat_tick=later, beat_age=1.0))
    lines += record_in_two_processes(runtime, seen(later, beat_tick=later, beat_age=2.0))
    assert len(lines) == 1 and lines[0].startswith("BEAT RECOVERED: ticking again"), lines


def test_a_failing_source_and_its_alert_are_logged_once_and_so_is_their_end(settings, runtime, session, feed_server, topics, caplog):
    polled = healthy_and_failing(runtime, session, feed_server)
    record_tick(session, utcnow(), 0)
    session.commit()
    trend = alerts.QueueTrend()
    no_workers = lambda: workerinfo.WorkerReport([])  # noqa: E731
    with caplog.at_level(logging.INFO, logger="syndicate.watch"):
        for _ in range(3):
            watch.look(runtime.sessions, settings, trend, probe=no_workers)
        failing = session.get(Source, polled.failing_id)
        failing.first_error_at = utcnow() - timedelta(hours=7)  # failing longer than ops_failing_alert_after: an alert
        session.commit()
        for _ in range(3):
            watch.look(runtime.sessions, settings, trend, probe=no_workers)
        feed_server.add("/kaputt.xml", rss("Stadt Fürth – Bauamt", ["Baustelle Hauptstraße"], "fuerth-bau"), headers=RSS)
        assert poll(runtime, session, polled.failing_id).status == "new"
        for _ in range(3):
            watch.look(runtime.sessions, settings, trend, probe=no_workers)
    lines = [record.getMessage() for record in caplog.records]
    key = f"source:{polled.failing_id}"
    assert [line.split(":")[0] + ":" + line.split(":")[1].split(" ")[0] for line in lines] == [
        f"SOURCE FAILING {key}",
        f"ALERT source_failing {key}",
        f"SOURCE RECOVERED {key}",
        f"RESOLVED source_failing {key}",
    ], lines
    assert "http_5xx" in lines[0]
    failing_record = caplog.records[0]
    assert (failing_record.event, failing_record.source_id, failing_record.city) == ("source_failing", polled.failing_id, "fuerth")
    assert session.query(WatchMark).filter(WatchMark.key.like("source:%")).count() == 0  # a recovered source leaves no mark


@pytest.mark.celery
def test_the_api_process_watches_and_logs_a_worker_that_went_away_once(settings, runtime, session, caplog):
    """The watcher thread of an API process (SYNDICATE_OPS_WATCH_INTERVAL) sees a worker's heartbeat file go."""
    directory = workerinfo.heartbeat_dir(settings.var_dir)
    workerinfo.write_heartbeat(directory, workerinfo.WorkerInfo("gone@host", 0, 1, 1, utcnow(), "heartbeat"))

    def worker_lines() -> list[str]:
        return [r.getMessage() for r in caplog.records if "gone@host" in r.getMessage()]

    with caplog.at_level(logging.INFO, logger="syndicate.watch"), client(settings, ops_watch_interval=0.2):
        assert processes.wait_for(lambda: worker_lines() == ["WORKER ONLINE gone@host"], timeout=30, interval=0.1), worker_lines()
        workerinfo.remove_heartbeat(directory, "gone@host")
        assert processes.wait_for(lambda: len(worker_lines()) >= 2, timeout=30, interval=0.1), worker_lines()
        time.sleep(1.0)  # five more looks
    lines = worker_lines()
    assert lines[1].startswith("WORKER LOST gone@host: last seen ") and len(lines) == 2, lines
