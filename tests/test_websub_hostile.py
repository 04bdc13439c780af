"""A real Celery worker verifies and delivers to hostile WebSub callbacks on loopback: one answers
200 MB, one drips a byte per second. The worker's peak memory stays small and every request ends
within the configured deadline, so no callback can hold a worker thread or its memory."""

from __future__ import annotations

import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from syndicate.clock import utcnow
from syndicate.models import WebSubSubscription
from syndicate.web.tasks import WEBSUB_QUEUE, TaskQueue
from tests.conftest import ROOT, cli_env, purge_queues
from tests.support import processes
from tests.test_outbound import Hostile

pytestmark = pytest.mark.celery

DEADLINE = 3.0  # SYNDICATE_WEBSUB_DEADLINE for the worker
SLACK = 1.5  # task pickup, the database write that records the outcome, this test's polling
TOPIC = "http://127.0.0.1:8000/feeds/all.atom"
MB = 1024 * 1024


def huge(server, conn):
    """200 MB without a Content-Length, so only a cap while streaming can stop it."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n")
    chunk = b"x" * MB
    for _ in range(200):
        if server.stopping.is_set():
            return
        conn.sendall(chunk)


def drip(server, conn):
    """A status line, then the headers and body one byte per second: no single read ever waits long."""
    for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 100:
        conn.sendall(bytes([byte]))
        if server.stopping.wait(1.0):
            return


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.fixture
def hostile_callbacks():
    servers = {"huge": Hostile(huge), "drip": Hostile(drip)}
    yield servers
    for server in servers.values():
        server.close()


@pytest.fixture
def websub_worker(settings, tmp_path):
    purge_queues(settings.broker_url)
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    env = cli_env(settings, SYNDICATE_WEBSUB_DEADLINE=str(DEADLINE))
    name = f"websub-{uuid.uuid4().hex[:8]}@%h"
    worker = processes.start(
        [sys.executable, "-m", "celery", "-A", "workers", "worker", "--pool", "threads", "-c", "4", "-Q", WEBSUB_QUEUE, "-n", name],
        env,
        tmp_path / "worker.log",
        ROOT,
    )
    yield worker, tmp_path / "worker.log"
    processes.stop(worker)
    purge_queues(settings.broker_url)


def test_worker_survives_hostile_callbacks_in_memory_and_time(runtime, session, settings, hostile_callbacks, websub_worker):
    servers = hostile_callbacks
    worker, log = websub_worker
    later = utcnow() + timedelta(days=1)
    subs = {}
    for name, server in servers.items():
        subs[f"verify-{name}"] = WebSubSubscription(
            callback=server.url + "?verify", topic=TOPIC, state="pending", lease_seconds=600, pending_mode="subscribe", pending_lease=600
        )
        subs[f"deliver-{name}"] = WebSubSubscription(
            callback=server.url + "?deliver", topic=TOPIC, state="active", lease_seconds=600, expires_at=later
        )
    session.add_all(subs.values())
    session.commit()
    ids = {key: sub.id for key, sub in subs.items()}

    queue = TaskQueue(settings.broker_url)
    for key, sub_id in ids.items():
        task = "syndicate.websub_verify" if key.startswith("verify") else "syndicate.websub_deliver"
        queue.app.send_task(task, args=[sub_id], queue=WEBSUB_QUEUE)

    def outcome(key):
        with runtime.sessions() as s:
            sub = s.get(WebSubSubscription, ids[key])
            return sub.state == "denied" if key.startswith("verify") else sub.failures >= 1 or sub.last_etag is not None

    ended: dict[str, float] = {}

    def all_ended():
        for key in ids:
            if key not in ended and outcome(key):
                ended[key] = time.monotonic()
        return len(ended) == len(ids)

    done = processes.wait_for(all_ended, timeout=60, interval=0.1)
    peak = peak_rss_mb(worker.pid)
    tail = log.read_text(errors="replace")[-3000:]
    assert done, f"not every request ended: {sorted(ended)}; worker log: {tail}"
    with runtime.sessions() as s:
        rows = {key: s.get(WebSubSubscription, sub_id) for key, sub_id in ids.items()}
        errors = {key: row.last_error for key, row in rows.items()}
        delivered = rows["deliver-huge"].last_etag is not None
    durations = {}
    for key in ids:
        mode, name = key.split("-")
        (arrived,) = [t for target, t in servers[name].arrivals.items() if target.startswith(f"/hook?{mode}")]
        durations[key] = round(ended[key] - arrived, 2)
    print(f"worker peak RSS {peak:.0f} MB; seconds from a callback's first request to the recorded outcome: {durations}; {errors}")

    assert peak < 300, f"worker peak RSS {peak:.0f} MB"
    assert durations["verify-drip"] <= DEADLINE + SLACK and durations["deliver-drip"] <= DEADLINE + SLACK, durations
    assert durations["verify-huge"] <= DEADLINE + SLACK, durations
    assert "too_large" in errors["verify-huge"] or "exceeds the limit" in errors["verify-huge"], errors
    assert "timed out" in errors["verify-drip"] and "timed out" in errors["deliver-drip"], errors
    assert delivered and durations["deliver-huge"] <= SLACK, durations  # the answer's status is all a delivery reads
