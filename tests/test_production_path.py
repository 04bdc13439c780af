"""The production path of docs/production.md, run as written: the commands are taken from the doc's ``sh``
blocks and started as child processes (migrate, sync, two refresh workers, the delivery worker, beat, two
API processes) from a directory that is not the checkout; a source on 127.0.0.1 is polled and its article
appears in the feeds of both API processes, named with SYNDICATE_PUBLIC_URL.

It runs on the suite's database and broker: SQLite and the embedded broker here, PostgreSQL and Redis
(or RabbitMQ) in CI through SYNDICATE_TEST_DATABASE_URL / SYNDICATE_TEST_BROKER_URL. Only the concurrency
(``-c``), the worker names and the API port are changed from the doc, so that the test fits a small
machine and a shared broker."""

from __future__ import annotations

import json
import re
import shlex
import signal
import socket
import subprocess
import sys
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
    (settings.feeds_dir / "prodhausen.toml").write_text(
        f'[city]\nslug = "prodhausen"\nname = "Stadt Prodhausen"\nkind = "city"\n\n'
        f'[[sources]]\nurl = "{feed_server.url("/prodhausen.xml")}"\ntopics = ["mobilitaet"]\n',
        encoding="utf-8",
    )
    ports = [free_port(), free_port()]
    public_url = f"http://127.0.0.1:{ports[0]}"
    env = cli_env(settings, SYNDICATE_BEAT_INTERVAL="1", SYNDICATE_PUBLIC_URL=public_url, SYNDICATE_FEED_CACHE_SECONDS="0")
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
        worker_logs = "".join((tmp_path / f"worker{i}.log").read_text(errors="replace") for i in range(2))
        assert re.search(r"refresh source=\d+ status=new new=1", worker_logs), logs()
        # the doc's health check: nothing failing, workers online, beat ticking
        for words in documented("syndicate"):
            if words[1] == "status":
                status = subprocess.run(tuned(words), env=env, cwd=cwd, capture_output=True, text=True, timeout=60)
                assert status.returncode == 0, (words, status.stdout, status.stderr, logs())
                if "--json" in words:
                    assert [json.loads(line) for line in status.stdout.splitlines() if line.strip()]
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
