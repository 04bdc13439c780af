"""The production path of docs/production.md, run as written: the commands are taken from the doc's ``sh``
blocks and started as child processes (migrate, sync, two refresh workers, the delivery worker, beat, two
API processes) from a directory that is not the checkout; a source on 127.0.0.1 is polled and its article
appears in the feeds of both API processes, named with SYNDICATE_PUBLIC_URL.

The processes log JSON lines (SYNDICATE_LOG_FORMAT=json): each refresh is one line with its fields, and
the operator's events are logged once for the installation by the API processes' watchers (two of them
watch at once): a source that fails, a worker killed with ``kill -9``, beat killed and started again.
The API process reached on a port other than SYNDICATE_PUBLIC_URL's warns, once.

It runs on the suite's database and broker: SQLite and the embedded broker here, PostgreSQL and Redis
(or RabbitMQ) in CI through SYNDICATE_TEST_DATABASE_URL / SYNDICATE_TEST_BROKER_URL. Only the concurrency
(``-c``), the worker names and the API port are changed from the doc, so that the test fits a small
machine and a shared broker."""

from __future__ import annotations

import json
import shlex
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import cli_env, purge_queues
from tests.support import processes
from tests.test_production_docs import doc_commands

pytestmark = pytest.mark.celery

FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Stadt Prodhausen</title><link>https://prodhausen.example/</link>
<item><title>Neuer Radweg an der Ringstraße {token}</title><link>https://prodhausen.example/pm/{token}</link>
<guid>pm-{token}</guid><pubDate>Mon, 23 Nov 2026 09:00:00 +0100</pubDate>
<category>Mobilität</category><description>&lt;p&gt;Die Stadt baut einen Radweg.&lt;/p&gt;</description></item>
</channel></rss>"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def documented(kind: str) -> list[list[str]]:
    """The doc's command lines of one kind, split as the shell would."""
    found = []
    for line in doc_commands():
        words = shlex.split(line, comments=True)
        program = words[0] if words[0] != "celery" else (words[3] if len(words) > 3 else "")
        if program == kind:
            found.append(words)
    assert found, kind
    return found


def json_lines(path: Path) -> list[dict]:
    """The JSON log lines of a process's output (Celery's banner and uvicorn's first lines are plain text)."""
    found = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                found.append(json.loads(line))
            except ValueError:
                continue
    return found


def tuned(words: list[str], *, concurrency: str | None = None, name: str | None = None, port: int | None = None) -> list[str]:
    words = list(words)
    for option, value in (("-c", concurrency), ("-n", name), ("--port", None if port is None else str(port))):
        if value is not None:
            words[words.index(option) + 1] = value
    bin_dir = Path(sys.executable).parent
    return [str(bin_dir / words[0]), *words[1:]]


def test_the_documented_production_path_polls_a_source_and_both_api_processes_serve_it(settings, runtime, feed_server, tmp_path):
    token = uuid.uuid4().hex[:10]
    feed_server.add("/prodhausen.xml", FEED.format(token=token), headers={"Content-Type": "application/rss+xml"})
    feed_server.add("/prodhausen-bauamt.xml", b"Wartungsarbeiten", status=500)
    (settings.feeds_dir / "prodhausen.toml").write_text(
        f'[city]\nslug = "prodhausen"\nname = "Stadt Prodhausen"\nkind = "city"\n\n'
        f'[[sources]]\nurl = "{feed_server.url("/prodhausen.xml")}"\ntopics = ["mobilitaet"]\n\n'
        f'[[sources]]\nurl = "{feed_server.url("/prodhausen-bauamt.xml")}"\ntopics = ["mobilitaet"]\n',
        encoding="utf-8",
    )
    ports = [free_port(), free_port()]
    public_url = f"http://127.0.0.1:{ports[0]}"
    env = cli_env(
        settings,
        SYNDICATE_BEAT_INTERVAL="1",
        SYNDICATE_PUBLIC_URL=public_url,
        SYNDICATE_FEED_CACHE_SECONDS="0",
        SYNDICATE_LOG_FORMAT="json",
        SYNDICATE_OPS_WATCH_INTERVAL="1",  # the API processes' watchers look every second (default 30)
    )
    cwd = tmp_path / "elsewhere"  # not the checkout: nothing may depend on the working directory
    cwd.mkdir()
    purge_queues(settings.broker_url)
    if settings.broker_url.startswith("sqla+"):
        # the embedded broker only: worker and beat creating the same queue row at once, one of them dies
        # (syndicate up does the same); Redis and RabbitMQ declare idempotently
        from syndicate.cli.up import declare_queues

        declare_queues(settings.broker_url)

    for words in documented("syndicate"):
        if words[1] == "status":
            continue  # after the processes started
        result = subprocess.run(tuned(words), env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, (words, result.stdout, result.stderr)

    suffix = uuid.uuid4().hex[:6]
    started = []
    try:
        workers = documented("worker")
        refresh, delivery = workers[0], workers[1]
        assert "refresh" in refresh[refresh.index("-Q") + 1] and "websub" in delivery[delivery.index("-Q") + 1]
        for i, (words, name) in enumerate(
            ((refresh, f"refresh1-{suffix}@%h"), (refresh, f"refresh2-{suffix}@%h"), (delivery, f"delivery-{suffix}@%h"))
        ):
            started.append(processes.start(tuned(words, concurrency="2", name=name), env, tmp_path / f"worker{i}.log", cwd))
        started.append(processes.start(tuned(documented("beat")[0]), env, tmp_path / "beat.log", cwd))
        for port in ports:
            started.append(processes.start(tuned(documented("uvicorn")[0], port=port), env, tmp_path / f"api{port}.log", cwd))

        def served(port: int):
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/feeds/cities/prodhausen.json", timeout=5)
            except httpx.HTTPError:
                return None
            if response.status_code != 200:
                return None
            items = response.json()["items"]
            return items if any(token in item["title"] for item in items) else None

        def logs() -> dict[str, str]:
            return {p.name: p.read_text(errors="replace")[-2500:] for p in tmp_path.glob("*.log")}

        for port in ports:
            items = processes.wait_for(lambda port=port: served(port), timeout=120, interval=1)
            assert items, (port, logs())
        feed = httpx.get(f"http://127.0.0.1:{ports[1]}/feeds/cities/prodhausen.json", timeout=5).json()
        assert feed["feed_url"].startswith(public_url), feed["feed_url"]  # named with SYNDICATE_PUBLIC_URL, on either port
        assert all(process.poll() is None for process in started), logs()
        assert all(json_lines(path) for path in tmp_path.glob("*.log")), logs()  # every process writes JSON lines
        # one JSON line per refresh, its values as fields; the failing source's with its reason
        refreshes = [line for i in range(2) for line in json_lines(tmp_path / f"worker{i}.log") if line.get("source_id")]
        fetched = [line for line in refreshes if line.get("outcome") == "new"]
        assert fetched and fetched[0]["city"] == "prodhausen" and fetched[0]["new_items"] == 1, refreshes
        assert isinstance(fetched[0]["duration_ms"], int) and fetched[0]["message"].startswith("refresh source="), fetched
        failed = processes.wait_for(
            lambda: [x for i in range(2) for x in json_lines(tmp_path / f"worker{i}.log") if x.get("outcome") == "error"], timeout=60
        )
        assert failed and failed[0]["reason"] == "http_5xx" and failed[0]["city"] == "prodhausen", refreshes
        # the doc's health check: workers online, beat ticking; the one failing source is the only problem
        for words in documented("syndicate"):
            if words[1] == "status":
                status = subprocess.run(tuned(words), env=env, cwd=cwd, capture_output=True, text=True, timeout=60)
                assert status.returncode == 1, (words, status.stdout, status.stderr, logs())
                if "--json" in words:
                    (report,) = [json.loads(line) for line in status.stdout.splitlines() if line.strip()]
                    assert report["problems"] == ["1 source(s) failing"], report

        def api_events(text: str) -> list[dict]:
            return [line for port in ports for line in json_lines(tmp_path / f"api{port}.log") if line["message"].startswith(text)]

        # logged once by the two watching API processes together
        assert processes.wait_for(lambda: api_events("SOURCE FAILING"), timeout=30), logs()
        names = [f"refresh1-{suffix}@", f"refresh2-{suffix}@", f"delivery-{suffix}@"]
        online = lambda: [n for n in names if any(n in e["message"] for e in api_events("WORKER ONLINE"))]  # noqa: E731
        assert processes.wait_for(lambda: len(online()) == 3, timeout=60), logs()
        started[1].send_signal(signal.SIGKILL)  # kill -9 of the second refresh worker
        assert processes.wait_for(lambda: api_events(f"WORKER LOST {names[1]}"), timeout=90), logs()
        started[3].send_signal(signal.SIGKILL)  # beat, killed
        assert processes.wait_for(lambda: api_events("BEAT STOPPED"), timeout=60), logs()
        started[3] = processes.start(tuned(documented("beat")[0]), env, tmp_path / "beat2.log", cwd)  # started again
        assert processes.wait_for(lambda: api_events("BEAT RECOVERED"), timeout=60), logs()
        time.sleep(5)  # five more looks of each watcher: nothing is logged again
        assert len(api_events("SOURCE FAILING")) == 1, api_events("SOURCE FAILING")
        lost = api_events(f"WORKER LOST {names[1]}")
        assert len(lost) == 1 and lost[0]["event"] == "worker_lost" and lost[0]["last_seen"], lost
        assert [e["message"].split(":")[0] for e in api_events("BEAT ")] == ["BEAT STOPPED", "BEAT RECOVERED"], api_events("BEAT ")
        assert not api_events(f"WORKER LOST {names[0]}") and not api_events(f"WORKER LOST {names[2]}")
        # the API process reached on another port than SYNDICATE_PUBLIC_URL's says so, once; the other does not
        mismatch = [[x for x in json_lines(tmp_path / f"api{port}.log") if x.get("event") == "public_url_mismatch"] for port in ports]
        assert mismatch[0] == [] and len(mismatch[1]) == 1 and mismatch[1][0]["reached_as"] == f"http://127.0.0.1:{ports[1]}", mismatch
    finally:
        # SIGTERM to each main process at once, as systemd's KillMode=control-group does first: a Celery
        # worker then stops its pool itself (warm shutdown); processes.stop cleans up whatever is left
        for process in started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in reversed(started):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
            processes.stop(process)
        purge_queues(settings.broker_url)
