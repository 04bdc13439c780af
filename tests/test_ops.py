"""The operator dashboard /ops, a source's page, access rules, /readyz, queue depth per broker,
worker status from a real worker, alerts and ``syndicate status``."""

from __future__ import annotations

import json
import logging
import re
import socket
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from kombu import Connection, Exchange
from kombu import Queue as KombuQueue
from sqlalchemy import select

import syndicate.access
from syndicate.access import tokens
from syndicate.clock import utcnow
from syndicate.ingest.due import record_tick
from syndicate.models import ApiToken, Source
from syndicate.ops import alerts, queues, status
from syndicate.ops import workers as workerinfo
from syndicate.web.opsaccess import client_allowed
from syndicate.web.tasks import TaskQueue
from tests.conftest import ROOT, cli_env, make_source, purge_queues
from tests.support import processes
from tests.support.api_fixtures import make_city
from tests.support.cli import syndicate as run_cli
from tests.support.ops_fixtures import NEWS, card, client, healthy_and_failing, poll, rows, serve


@pytest.fixture
def polled(runtime, session, feed_server, topics):
    return healthy_and_failing(runtime, session, feed_server)


# ---------------------------------------------------------------- dashboard


def test_dashboard_shows_the_failing_source_as_failing(settings, polled):
    purge_queues(settings.broker_url)  # earlier tests may have left tasks on the shared test broker
    with client(settings) as c:
        response = c.get("/ops")

    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    html = response.text
    assert rows(html) == {polled.failing_id: "failing", polled.ok_id: "ok"}
    assert list(rows(html)) == [polled.failing_id, polled.ok_id]  # problems first
    failing_row = html.split(f'<tr data-source="{polled.failing_id}"')[1].split("</tr>")[0]
    assert ">fehlerhaft<" in failing_row and "<code>http_5xx</code>" in failing_row and "Stadt Fürth" in failing_row
    assert (card(html, "ok"), card(html, "failing"), card(html, "broken"), card(html, "gone")) == ("1", "1", "0", "0")
    assert card(html, "articles_today") == str(len(NEWS)) and card(html, "clusters_today") == str(len(NEWS))
    assert card(html, "queue_depth") == "0" and card(html, "beat") == "nie"
    assert 'http-equiv="refresh"' not in html and "<script" not in html and "<style>" in html
    assert not re.search(r'(src|href)="(https?:)?//', html)  # no CDN: nothing is loaded from elsewhere
    assert "Quellen fehlerhaft" in html and "Worker online" in html and "Änderungsprotokoll" in html
    ok_row = html.split(f'<tr data-source="{polled.ok_id}"')[1].split("</tr>")[0]
    assert "<polyline points=" in ok_row and f"{len(NEWS)} Meldungen in 14 Tagen" in ok_row


def test_dashboard_filters_and_sorts(settings, runtime, session, polled, feed_server):
    other = make_source(session, feed_server.url("/rathaus.xml?muc"), city="muenchen", name="Landeshauptstadt München")
    with client(settings) as c:
        only_failing = rows(c.get("/ops", params={"state": "failing"}).text)
        problems = rows(c.get("/ops", params={"state": "problem"}).text)
        munich = rows(c.get("/ops", params={"city": "muenchen"}).text)
        searched = rows(c.get("/ops", params={"q": "HTTP_5XX"}).text)
        by_city = list(rows(c.get("/ops", params={"sort": "city"}).text))
        by_city_desc = list(rows(c.get("/ops", params={"sort": "city", "order": "desc"}).text))
        invalid = c.get("/ops", params={"sort": "nonsense"})

    assert only_failing == problems == searched == {polled.failing_id: "failing"}
    assert munich == {other.id: "new"}
    assert by_city[0] == other.id and by_city_desc[-1] == other.id  # "Landeshauptstadt München" < "Stadt Fürth"
    assert invalid.status_code == 422


def test_the_source_table_comes_in_pages(settings, session):
    """6,000 sources were one 5 MB table: it is shown 250 rows a page (?seite=N), filter and order kept."""
    from syndicate.ops.dashboard import PAGE_SIZE

    city = make_city(session, "bamberg")
    session.add_all(
        Source(city_id=city.id, url=f"https://bamberg.example/{n}.xml", canonical_url=f"https://bamberg.example/{n}.xml", origin="api")
        for n in range(PAGE_SIZE + 7)
    )
    session.commit()
    with client(settings) as c:
        first = c.get("/ops", params={"sort": "source"}).text
        second = c.get("/ops", params={"sort": "source", "seite": "2"}).text
        beyond = rows(c.get("/ops", params={"sort": "source", "seite": "99"}).text)
        lenient = rows(c.get("/ops", params={"seite": "zwei"}).text)

    assert len(rows(first)) == PAGE_SIZE and len(rows(second)) == 7
    assert not rows(first).keys() & rows(second).keys()
    assert f"({PAGE_SIZE + 7} von {PAGE_SIZE + 7}, Seite 1 von 2)" in first
    assert 'href="/ops?sort=source&amp;order=asc&amp;seite=2#quellen" rel="next">Nächste Seite<' in first
    assert 'rel="prev">Vorherige Seite<' in second and "Nächste Seite" not in second
    assert beyond == rows(second)  # past the last page: the last page
    assert len(lenient) == PAGE_SIZE  # not a number: the first page


def test_source_page_has_fetch_log_and_latency_chart(settings, runtime, session, polled):
    poll(runtime, session, polled.failing_id)  # a second failure
    with client(settings) as c:
        page = c.get(f"/ops/sources/{polled.failing_id}")
        missing = c.get("/ops/sources/999999")

    assert page.status_code == 200
    html = page.text
    assert 'id="state">fehlerhaft<' in html and "2× in Folge" in html
    fetch_rows = html.split('<table id="fetches">')[1].split("</table>")[0].count('<tr class="error">')
    assert fetch_rows == 2
    chart = html.split('<svg id="latency"')[1].split("</svg>")[0]
    assert chart.count('<circle class="error"') == 2 and "<polyline" in chart
    assert missing.status_code == 404


def test_source_page_shows_a_run_of_quiet_polls_as_one_row(settings, runtime, session, polled):
    for _ in range(3):
        assert poll(runtime, session, polled.ok_id).status == "not_modified"
    with client(settings) as c:
        html = c.get(f"/ops/sources/{polled.ok_id}").text
    table = html.split('<table id="fetches">')[1].split("</table>")[0]
    assert table.count("<tr class=") == 2  # the first poll, and the three 304s folded into one row
    assert "3×, zuletzt" in table


# ---------------------------------------------------------------- access


@pytest.mark.parametrize(
    "host, allowed, expected",
    [
        ("127.0.0.1", "127.0.0.1/32,::1/128", True),
        ("::1", "127.0.0.1/32,::1/128", True),
        ("::ffff:127.0.0.1", "127.0.0.1/32", True),
        ("127.0.0.2", "127.0.0.1/32,::1/128", False),
        ("10.1.2.3", "10.0.0.0/8", True),
        ("10.1.2.3", "127.0.0.1/32, 192.168.0.0/16", False),
        ("testclient", "127.0.0.1/32,::1/128", False),
        ("testclient", "127.0.0.1/32,testclient", True),
        ("127.0.0.1", "", False),
        ("127.0.0.1", "not-a-network/99", False),
        (None, "127.0.0.1/32", False),
    ],
)
def test_client_allowed(host, allowed, expected):
    assert client_allowed(host, allowed) is expected


def test_ops_and_metrics_need_an_allowed_network_or_an_operator_token(settings, runtime, session, polled):
    operator = tokens.create(session)[1]
    city = tokens.create(session, city="fuerth")[1]
    revoked_row, revoked = tokens.create(session)
    tokens.revoke(session, revoked_row.id)
    with client(settings, ops_allow_networks="127.0.0.1/32,::1/128") as c:  # the default: "testclient" is not loopback
        for path in ("/ops", "/metrics", f"/ops/sources/{polled.ok_id}"):
            assert c.get(path).status_code == 403, path
            assert c.get(path, headers={"Authorization": f"Bearer {operator}"}).status_code == 200, path
            for wrong in (city, revoked, "syn_unknown", ""):
                assert c.get(path, headers={"Authorization": f"Bearer {wrong}"}).status_code == 403, (path, wrong)
        assert "Betreiber-Token" in c.get("/ops").json()["detail"]
        assert c.get("/healthz").status_code == 200 and c.get("/readyz").status_code == 200  # probes stay open


def test_operator_token_check_without_the_tokens_module(settings, runtime, session, polled, monkeypatch):
    operator = tokens.create(session)[1]
    revoked_row, revoked = tokens.create(session)
    tokens.revoke(session, revoked_row.id)
    monkeypatch.delattr(syndicate.access, "tokens")
    monkeypatch.setitem(sys.modules, "syndicate.access.tokens", None)  # `from syndicate.access import tokens` now fails
    with client(settings, ops_allow_networks="") as c:
        assert c.get("/ops", headers={"Authorization": f"Bearer {operator}"}).status_code == 200
        assert c.get("/ops", headers={"Authorization": f"Bearer {revoked}"}).status_code == 403
    assert session.scalar(select(ApiToken.scope).where(ApiToken.id == revoked_row.id)) == "operator"


# ---------------------------------------------------------------- /readyz


def test_readyz_ok_then_503_for_a_stale_beat(settings, runtime, session):
    with client(settings, beat_interval=10) as c:
        assert c.get("/readyz").json() == {"status": "ok", "problems": {}}
        record_tick(session, utcnow() - timedelta(seconds=25), 0)  # younger than 3 intervals
        assert c.get("/readyz").status_code == 200
        record_tick(session, utcnow() - timedelta(seconds=31), 0)
        stale = c.get("/readyz")
    assert stale.status_code == 503
    assert list(stale.json()["problems"]) == ["beat"] and "limit 30s" in stale.json()["problems"]["beat"]


def test_readyz_503_with_the_database_down(settings):
    down = "postgresql+psycopg://x@127.0.0.1:1/x"  # loopback; nothing listens on port 1
    with client(settings, database_url=down) as c:
        response = c.get("/readyz")
        dashboard = c.get("/ops")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail" and list(body["problems"]) == ["database"]
    assert "OperationalError" in body["problems"]["database"]
    assert dashboard.status_code == 503 and "Datenbank nicht erreichbar" in dashboard.text


def test_readyz_503_with_the_broker_down(settings, runtime):
    with client(settings, broker_url="redis://127.0.0.1:1/0") as c:
        response = c.get("/readyz")
        dashboard = c.get("/ops")
    assert response.status_code == 503 and list(response.json()["problems"]) == ["broker"]
    assert dashboard.status_code == 200  # the dashboard still renders and says so
    assert "Broker nicht erreichbar" in dashboard.text and card(dashboard.text, "queue_depth") == "?"


def test_readyz_tells_the_public_only_ok_or_not_and_operators_why(settings, runtime, session):
    make_city(session, "fuerth", "Stadt Fürth")
    operator = tokens.create(session)[1]
    city = tokens.create(session, city="fuerth")[1]
    public = {"ops_allow_networks": "127.0.0.1/32,::1/128"}  # the default: "testclient" is not loopback
    with client(settings, **public) as c:
        assert (c.get("/readyz").status_code, c.get("/readyz").json()) == (200, {"status": "ok"})
    with client(settings, broker_url="redis://127.0.0.1:1/0", **public) as c:
        anonymous = c.get("/readyz")
        as_city = c.get("/readyz", headers={"Authorization": f"Bearer {city}"})
        as_operator = c.get("/readyz", headers={"Authorization": f"Bearer {operator}"})
    for answer in (anonymous, as_city):
        assert (answer.status_code, answer.json()) == (503, {"status": "fail"})
        assert "127.0.0.1" not in answer.text and "Error" not in answer.text
    assert as_operator.status_code == 503 and list(as_operator.json()["problems"]) == ["broker"]
    with client(settings, broker_url="redis://127.0.0.1:1/0", ops_allow_networks="testclient") as c:  # an allowed network
        assert list(c.get("/readyz").json()["problems"]) == ["broker"]


def test_readyz_without_a_database_answers_503_also_to_a_token_it_cannot_check(settings):
    down = "postgresql+psycopg://x@127.0.0.1:1/x"  # loopback; nothing listens on port 1
    with client(settings, database_url=down, ops_allow_networks="") as c:
        answer = c.get("/readyz", headers={"Authorization": "Bearer syn_whatever"})
    assert (answer.status_code, answer.json()) == (503, {"status": "fail"})


# ---------------------------------------------------------------- queue depth per broker type


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", port)) == 0


def drop_queue(url: str, name: str) -> None:
    """Leave no queue of ours on a shared Redis/RabbitMQ: declare it here (so this connection knows
    its binding, which Redis keeps as keys) and delete it."""
    with Connection(url) as connection:
        bound = KombuQueue(name, Exchange(name), name)(connection.channel())
        bound.declare()
        bound.delete()


BROKERS = [
    pytest.param("embedded", id="embedded"),
    pytest.param(
        "redis://127.0.0.1:6379/14", id="redis", marks=pytest.mark.skipif(not port_open(6379), reason="no Redis on 127.0.0.1:6379")
    ),
    pytest.param(
        "amqp://guest:guest@127.0.0.1:5672//",
        id="rabbitmq",
        marks=pytest.mark.skipif(not port_open(5672), reason="no RabbitMQ on 127.0.0.1:5672"),
    ),
]


def settled(read, expected, timeout: float = 10.0):
    """Read until the value equals ``expected`` or the timeout passes; return the last value."""
    deadline = time.monotonic() + timeout
    value = read()
    while value != expected and time.monotonic() < deadline:
        time.sleep(0.1)
        value = read()
    return value


@pytest.mark.parametrize("broker", BROKERS)
def test_queue_depth_counts_waiting_messages(broker, tmp_path):
    url = f"sqla+sqlite:///{tmp_path}/broker.db" if broker == "embedded" else broker
    name = f"ops-test-{uuid.uuid4().hex[:8]}"  # a queue of our own: other runs may use the real ones
    assert queues.depth(url, (name,)) == {name: 0}  # not declared yet: 0, and nothing is created
    with Connection(url) as connection:
        queue = connection.SimpleQueue(name)
        try:
            for i in range(3):
                queue.put({"n": i})
            # RabbitMQ counts published messages a moment later (publishing is asynchronous): wait for it
            expected = {name: 3, "ops-test-none": 0}
            assert settled(lambda: queues.depth(url, (name, "ops-test-none")), expected) == expected
            queue.get_nowait().ack()  # basic_get: no consumer that could prefetch the others
            assert settled(lambda: queues.depth(url, (name,)), {name: 2}) == {name: 2}
        finally:
            queue.clear()
            queue.close()
            if broker != "embedded":
                drop_queue(url, name)


def test_queue_depth_of_an_unreachable_broker_fails_fast():
    for url in ("redis://127.0.0.1:1/0", "amqp://guest:guest@127.0.0.1:1//"):
        with pytest.raises(queues.QueueError):
            queues.depth(url)
    with pytest.raises(queues.QueueError, match="not supported"):
        queues.depth("memory://")


# ---------------------------------------------------------------- workers


def test_heartbeat_files(tmp_path):
    directory = workerinfo.heartbeat_dir(tmp_path)
    now = utcnow()
    workerinfo.write_heartbeat(directory, workerinfo.WorkerInfo("w1@host", 1, 7, 42, now, "heartbeat"))
    workerinfo.write_heartbeat(directory, workerinfo.WorkerInfo("w2@host", 0, 3, 43, now - timedelta(minutes=5), "heartbeat"))
    (directory / "garbage.json").write_text("{", encoding="utf-8")

    found = workerinfo.read_heartbeats(directory, now)
    assert [(w.hostname, w.active, w.processed, w.pid) for w in found] == [("w1@host", 1, 7, 42)]  # w2 is stale
    workerinfo.remove_heartbeat(directory, "w1@host")
    assert workerinfo.read_heartbeats(directory, now) == []


def test_cached_probe_answers_at_once_and_refreshes_in_the_background(settings, monkeypatch):
    calls = []

    def slow_probe(_settings):
        calls.append(1)
        time.sleep(1.0)
        return workerinfo.WorkerReport([workerinfo.WorkerInfo(f"w{len(calls)}@host", 0, 0)])

    monkeypatch.setattr(workerinfo, "probe", slow_probe)
    cached = workerinfo.CachedProbe(settings, ttl=1.0)
    assert cached().workers[0].hostname == "w1@host" and len(calls) == 1  # the first call waits
    assert cached().workers[0].hostname == "w1@host" and len(calls) == 1  # fresh: cached
    time.sleep(1.1)
    started = time.monotonic()
    assert cached().workers[0].hostname == "w1@host"  # stale: the old answer at once …
    assert time.monotonic() - started < 0.5  # … well before a probe (1 s) could have answered
    assert processes.wait_for(lambda: len(calls) == 2, timeout=2, interval=0.01)  # … and a refresh behind it
    assert cached().workers[0].hostname == "w1@host" and len(calls) == 2  # one refresh at a time
    assert processes.wait_for(lambda: cached().workers[0].hostname == "w2@host", timeout=5, interval=0.05)


@pytest.mark.celery
def test_a_real_worker_appears_with_its_processed_tasks(settings, runtime, session, feed_server, tmp_path):
    """Heartbeat files on the embedded broker; Celery inspect on Redis/RabbitMQ (CI)."""
    serve(feed_server)
    source = make_source(session, feed_server.url("/rathaus.xml"), city="fuerth", name="Stadt Fürth")
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    queue, name = f"ops-{uuid.uuid4().hex[:8]}", f"ops-{uuid.uuid4().hex[:8]}@%h"
    hostname = name.replace("%h", socket.gethostname())
    worker = processes.start(  # a queue of its own: it takes no other test's tasks
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "workers",
            "worker",
            "--pool",
            "threads",
            "-c",
            "2",
            "-n",
            name,
            "-Q",
            queue,
            "--loglevel",
            "INFO",
        ],
        cli_env(settings),
        tmp_path / "worker.log",
        ROOT,
    )
    probe_settings = settings.model_copy(update={"ops_inspect_timeout": 0.5})

    def seen(processed: int):
        workers = workerinfo.probe(probe_settings).workers
        return next((w for w in workers if w.hostname == hostname and w.processed >= processed), None)

    try:
        found = processes.wait_for(lambda: seen(0), timeout=40)
        assert found is not None, (tmp_path / "worker.log").read_text(errors="replace")[-3000:]
        assert found.active == 0 and found.processed == 0
        assert found.via == ("heartbeat" if workerinfo.embedded(settings.broker_url) else "inspect")
        TaskQueue(settings.broker_url).app.send_task("syndicate.refresh_source", args=[source.id], queue=queue)
        done = processes.wait_for(lambda: seen(1), timeout=30)
        assert done is not None and done.processed == 1, (tmp_path / "worker.log").read_text(errors="replace")[-3000:]
        with client(settings) as c:
            html = c.get("/ops").text
        workers_panel = html.split('<section id="workers">')[1].split("</section>")[0]
        assert hostname in workers_panel and card(html, "workers_online") != "0"
        assert rows(html)[source.id] == "ok"  # the worker polled it
    finally:
        processes.stop(worker)
        drop_queue(settings.broker_url, queue)
    remaining = workerinfo.read_heartbeats(workerinfo.heartbeat_dir(settings.var_dir))
    assert hostname not in [w.hostname for w in remaining]  # a clean shutdown removes the heartbeat file


# ---------------------------------------------------------------- alerts


def test_queue_trend_tells_growing_from_draining():
    trend, start = alerts.QueueTrend(), utcnow()
    for minute, (refresh, maintenance) in enumerate([(0, 5), (2, 9), (4, 3), (4, 8), (9, 2), (15, 0)]):
        trend.add(start + timedelta(minutes=minute * 3), {"refresh": refresh, "maintenance": maintenance})
    assert trend.growing_for("refresh") == 15 * 60
    assert trend.growing_for("maintenance") == 0
    assert trend.growing_for("unknown") == 0


def test_alerts_are_evaluated(settings):
    now = utcnow()
    summary = status.Summary(
        failing=[
            {
                "id": 7,
                "url": "https://x.example/feed",
                "city": "fuerth",
                "state": "broken",
                "reason": "http_5xx",
                "errors": 30,
                "since": (now - timedelta(hours=7)).isoformat(),
            },
            {
                "id": 8,
                "url": "https://y.example/feed",
                "city": "fuerth",
                "state": "failing",
                "reason": "timeout",
                "errors": 1,
                "since": (now - timedelta(minutes=5)).isoformat(),
            },
        ],
        last_beat_tick=now - timedelta(seconds=200),
        beat_age_seconds=200.0,
    )
    state = alerts.AlertState()
    for minute in range(0, 12):
        state.trend.add(now - timedelta(minutes=12 - minute), {"refresh": minute * 10})
    found = state.check(summary, {"refresh": 130}, settings, now)
    again = state.check(summary, {"refresh": 140}, settings, now + timedelta(seconds=60))
    assert [a.key for a in found] == ["source_failing source:7", "beat_lag beat", "queue_growing queue:refresh"]
    assert [a.key for a in again] == [a.key for a in found]
    assert "seit 7.0 h" in found[0].message
    assert state.check(status.Summary(), {"refresh": 0}, settings, now + timedelta(seconds=120)) == []


def test_check_alerts_task_logs_a_source_failing_too_long_once(runtime, session, polled, monkeypatch, caplog):
    from workers import tasks

    monkeypatch.setattr(tasks, "_runtime", runtime)
    assert tasks.check_alerts.run() == []
    failing = session.get(Source, polled.failing_id)
    failing.first_error_at = utcnow() - timedelta(hours=7)
    session.commit()
    with caplog.at_level(logging.WARNING, logger="syndicate.watch"):
        assert tasks.check_alerts.run() == [f"source_failing source:{polled.failing_id}"]
        assert tasks.check_alerts.run() == [f"source_failing source:{polled.failing_id}"]  # a minute later: not logged again
    assert [r.getMessage().split(":")[0] for r in caplog.records if r.getMessage().startswith("ALERT")] == ["ALERT source_failing source"]


# ---------------------------------------------------------------- states


def _row(**values):
    base = dict(
        enabled=True,
        error_count=0,
        last_error_reason=None,
        first_error_at=None,
        last_checked_at=None,
        last_success_at=None,
        last_http_status=None,
    )
    return SimpleNamespace(**{**base, **values})


NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "row, expected",
    [
        (_row(enabled=False, error_count=3), "disabled"),
        (_row(error_count=2, last_error_reason="http_410", first_error_at=NOW - timedelta(days=3)), "gone"),
        (_row(error_count=1, last_error_reason="http_404", first_error_at=NOW), "gone"),
        (_row(error_count=9, last_error_reason="timeout", first_error_at=NOW - timedelta(hours=7)), "broken"),
        (_row(error_count=9, last_error_reason="timeout", first_error_at=NOW - timedelta(hours=5)), "failing"),
        (_row(error_count=1, last_error_reason="http_5xx", last_checked_at=NOW - timedelta(hours=6)), "broken"),
        (_row(last_http_status=429, last_success_at=NOW - timedelta(days=1)), "deferred"),
        (_row(last_http_status=503), "deferred"),
        (_row(last_http_status=304, last_success_at=NOW), "ok"),
        (_row(), "new"),
    ],
)
def test_source_state(row, expected):
    assert status.source_state(row, NOW, broken_after=6 * 3600) == expected


@pytest.mark.parametrize(
    "now, start",
    [
        (datetime(2026, 11, 2, 23, 30, tzinfo=UTC), datetime(2026, 11, 2, 23, 0, tzinfo=UTC)),  # 00:30 in Munich
        (datetime(2026, 11, 2, 22, 30, tzinfo=UTC), datetime(2026, 11, 1, 23, 0, tzinfo=UTC)),
        (datetime(2026, 7, 1, 21, 30, tzinfo=UTC), datetime(2026, 6, 30, 22, 0, tzinfo=UTC)),  # summer time
    ],
)
def test_today_is_a_bavarian_day(now, start):
    assert status.start_of_today(now) == start


# ---------------------------------------------------------------- syndicate status


@pytest.mark.slow
def test_status_command_with_a_failing_source(settings, runtime, polled):
    result = run_cli(settings, "status", "--json")
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["sources"] == {"ok": 1, "failing": 1}
    assert [(f["id"], f["state"], f["reason"]) for f in report["failing"]] == [(polled.failing_id, "failing", "http_5xx")]
    assert set(report["queues"]) == set(queues.QUEUES) and report["broker_error"] is None
    assert {"workers_online", "workers", "beat_stale", "articles_today"} <= set(report)
    assert report["problems"] == ["1 source(s) failing", "no worker online", "beat: never ticked"]

    table = run_cli(settings, "status", COLUMNS="200")
    assert table.returncode == 1
    for row in ("sources failing", "sources ok", "queue refresh", "workers online", "last beat tick", "never"):
        assert row in table.stdout, table.stdout
    assert f"failing: #{polled.failing_id}" in table.stdout and "problem: 1 source(s) failing" in table.stderr
    assert "problem: no worker online" in table.stderr and "problem: beat: never ticked" in table.stderr


@pytest.mark.slow
def test_status_command_exits_1_for_a_stale_beat(settings, runtime, session):
    record_tick(session, utcnow() - timedelta(hours=1), 0)
    result = run_cli(settings, "status", "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["failing"] == [] and report["beat_stale"] is True and report["problems"][-1].startswith("beat: last tick")
