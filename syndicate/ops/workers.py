"""Which Celery workers are online, with their active and processed task counts.

Two ways to know, merged by hostname:

- Celery's remote control (``inspect stats`` and ``inspect active``) over Redis or RabbitMQ.
  Workers answer within ``ops_inspect_timeout``; with none online that is how long it takes.
- Heartbeat files in ``var_dir/workers/``: each worker writes one every few seconds (started
  from ``workers/tasks.py``). Kombu's SQLAlchemy transport has no fanout exchange, so broadcasts
  do not reach workers on the embedded broker; there, where everything runs on one machine, the
  files are how the dashboard sees its workers.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from celery import Celery

from syndicate.clock import utcnow
from syndicate.settings import Settings

log = logging.getLogger("syndicate.workers")
HEARTBEAT_EVERY = 5.0  # seconds between heartbeat files
HEARTBEAT_STALE = 3 * HEARTBEAT_EVERY  # an older file belongs to a worker that is gone


@dataclass
class WorkerInfo:
    hostname: str
    active: int
    processed: int
    pid: int | None = None
    seen_at: datetime | None = None
    via: str = "inspect"  # inspect | heartbeat

    def as_dict(self) -> dict:
        data = asdict(self)
        data["seen_at"] = self.seen_at.isoformat() if self.seen_at else None
        return data


@dataclass
class WorkerReport:
    workers: list[WorkerInfo] = field(default_factory=list)
    error: str | None = None  # why inspect gave no answer, when it failed


def embedded(broker_url: str) -> bool:
    return broker_url.startswith("sqla+")


def probe(settings: Settings) -> WorkerReport:
    """Workers by hostname: inspect answers (not on the embedded broker) over heartbeat files."""
    found = {w.hostname: w for w in read_heartbeats(heartbeat_dir(settings.var_dir))}
    error = None
    if not embedded(settings.broker_url):
        try:
            found.update({w.hostname: w for w in inspect_workers(settings.broker_url, settings.ops_inspect_timeout)})
        except Exception as exc:  # broker errors of any transport
            error = f"{exc.__class__.__name__}: {exc}"
    return WorkerReport(sorted(found.values(), key=lambda w: w.hostname), error)


class CachedProbe:
    """``probe`` for the dashboard: the first call waits for the answer; later calls get the last
    answer at once and, when it is older than ``ttl`` seconds, start one refresh in the background
    (inspect waits its whole timeout, which a page render should not).

    An answer older than ``max_age`` is not shown at all but waited for anew: after nobody looked at
    /ops for a while, the old answer would list a worker killed since, until the next page view."""

    def __init__(self, settings: Settings, ttl: float = 10.0, max_age: float = HEARTBEAT_STALE):
        self.settings, self.ttl, self.max_age = settings, ttl, max(ttl, max_age)
        self._lock = threading.Lock()
        self._value: WorkerReport | None = None
        self._at = 0.0
        self._refreshing = False

    def __call__(self) -> WorkerReport:
        with self._lock:
            if self._value is None or time.monotonic() - self._at > self.max_age:
                self._value, self._at = probe(self.settings), time.monotonic()
            elif time.monotonic() - self._at > self.ttl and not self._refreshing:
                self._refreshing = True
                threading.Thread(target=self._refresh, name="syndicate-worker-probe", daemon=True).start()
            return self._value

    def _refresh(self) -> None:
        try:
            value = probe(self.settings)
        finally:
            with self._lock:
                self._refreshing = False
        with self._lock:
            self._value, self._at = value, time.monotonic()


def inspect_workers(broker_url: str, timeout: float) -> list[WorkerInfo]:
    app = Celery("syndicate-ops", broker=broker_url, set_as_current=False)
    app.conf.update(broker_connection_retry_on_startup=False, broker_connection_max_retries=0)
    try:
        with ThreadPoolExecutor(2) as pool:
            stats = pool.submit(lambda: app.control.inspect(timeout=timeout).stats())
            active = pool.submit(lambda: app.control.inspect(timeout=timeout).active())
            stats_by_host, active_by_host = stats.result() or {}, active.result() or {}
    finally:
        app.close()
    now = utcnow()
    return [
        WorkerInfo(
            hostname=host,
            active=len(active_by_host.get(host) or []),
            processed=sum((info.get("total") or {}).values()),
            pid=info.get("pid"),
            seen_at=now,
            via="inspect",
        )
        for host, info in stats_by_host.items()
    ]


# ---------------------------------------------------------------- heartbeat files


def heartbeat_dir(var_dir: Path) -> Path:
    return Path(var_dir) / "workers"


def _file(directory: Path, hostname: str) -> Path:
    return directory / (hostname.replace("/", "_") + ".json")


def write_heartbeat(directory: Path, info: WorkerInfo) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    target = _file(directory, info.hostname)
    temporary = target.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps(info.as_dict()), encoding="utf-8")
    os.replace(temporary, target)


def remove_heartbeat(directory: Path, hostname: str) -> None:
    _file(directory, hostname).unlink(missing_ok=True)


def read_heartbeats(directory: Path, now: datetime | None = None, stale: float = HEARTBEAT_STALE) -> list[WorkerInfo]:
    now = now or utcnow()
    found = []
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            seen = datetime.fromisoformat(data["seen_at"]).astimezone(UTC)
        except (OSError, ValueError, KeyError, TypeError):
            continue  # half-written or foreign file
        if (now - seen).total_seconds() <= stale:
            found.append(WorkerInfo(data["hostname"], int(data["active"]), int(data["processed"]), data.get("pid"), seen, "heartbeat"))
    return found


class Heartbeat(threading.Thread):
    """Runs in a worker's main process: writes its heartbeat file until stopped."""

    def __init__(self, directory: Path, hostname: str, every: float = HEARTBEAT_EVERY):
        super().__init__(name="syndicate-heartbeat", daemon=True)
        self.directory, self.hostname, self.every = directory, hostname, every
        self._stop_event = threading.Event()

    def beat(self) -> None:
        from celery.worker import state  # the worker's own bookkeeping of requests

        info = WorkerInfo(self.hostname, len(state.active_requests), sum(state.total_count.values()), os.getpid(), utcnow(), "heartbeat")
        write_heartbeat(self.directory, info)

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                self.beat()
            except OSError as exc:
                log.warning("heartbeat file not written: %s", exc)
            self._stop_event.wait(self.every)

    def stop(self) -> None:
        self._stop_event.set()
        remove_heartbeat(self.directory, self.hostname)
