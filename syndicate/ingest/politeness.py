"""Per-host politeness shared by every worker through the database (``host_requests`` rows).

A fetch takes a slot on its host first: one row, inserted only while fewer than K slots of
that host are open (``finished_at`` NULL, not expired) and fewer than R rows started in the
last minute. The check and the insert are one statement — ``INSERT … SELECT … WHERE`` — so
two workers cannot both take the last slot: SQLite runs a writing statement under its
database write lock, PostgreSQL first takes a transaction-scoped advisory lock on the host.
A slot left open by a crashed worker expires on its own. Over budget, ``HostBusy`` says when
to try again: the source is deferred, not failed.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import Connection, Engine, String, and_, delete, func, insert, literal, or_, select, text, update

from syndicate.clock import utcnow
from syndicate.models import HostRequest, UTCDateTime
from syndicate.reader.errors import HostBusy

WINDOW = timedelta(seconds=61)  # "per minute", with a second of slack for the way from the slot to the server
KEEP = timedelta(minutes=5)  # finished or expired rows older than this are pruned


@dataclass(frozen=True)
class HostLimits:
    concurrency: int = 2  # 0: no limit
    per_minute: int = 30  # 0: no limit
    overrides: dict[str, tuple[int, int]] = field(default_factory=dict)
    busy_retry: float = 30.0  # seconds (±50 %) until a source refused for concurrency is tried again
    hold: float = 60.0  # a slot expires this long after it was taken (a worker that died never releases it)

    def for_host(self, host: str) -> tuple[int, int]:
        return self.overrides.get(host, (self.concurrency, self.per_minute))


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


@contextmanager
def host_slot(engine: Engine, url: str, limits: HostLimits) -> Iterator[int | None]:
    """Hold one request slot on ``url``'s host for the duration of the block, or raise ``HostBusy``."""
    slot = acquire(engine, host_of(url), limits)
    try:
        yield slot
    finally:
        if slot is not None:
            release(engine, slot)


def acquire(engine: Engine, host: str, limits: HostLimits, now: datetime | None = None) -> int | None:
    """A slot id (None when the host has no limits), or ``HostBusy`` with the seconds to wait."""
    concurrency, per_minute = limits.for_host(host)
    if not concurrency and not per_minute:
        return None
    now = now or utcnow()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(:host))"), {"host": host})
        slot = connection.scalar(_insert_if_free(host, now, concurrency, per_minute, limits.hold))
        if slot is None:
            raise _busy(connection, host, now, concurrency, per_minute, limits.busy_retry)
        connection.execute(
            delete(HostRequest).where(
                HostRequest.host == host,
                HostRequest.started_at < now - KEEP,
                or_(HostRequest.finished_at.is_not(None), HostRequest.expires_at < now),
            )
        )
    return slot


def release(engine: Engine, slot: int, now: datetime | None = None) -> None:
    with engine.begin() as connection:
        connection.execute(update(HostRequest).where(HostRequest.id == slot).values(finished_at=now or utcnow()))


def _open(host: str, now: datetime):
    return and_(HostRequest.host == host, HostRequest.finished_at.is_(None), HostRequest.expires_at > now)


def _recent(host: str, now: datetime):
    return and_(HostRequest.host == host, HostRequest.started_at > now - WINDOW)


def _count(condition):
    return select(func.count()).select_from(HostRequest).where(condition).scalar_subquery()


def _insert_if_free(host: str, now: datetime, concurrency: int, per_minute: int, hold: float):
    conditions = []
    if concurrency:
        conditions.append(_count(_open(host, now)) < concurrency)
    if per_minute:
        conditions.append(_count(_recent(host, now)) < per_minute)
    row = select(literal(host, String()), literal(now, UTCDateTime()), literal(now + timedelta(seconds=hold), UTCDateTime())).where(
        *conditions
    )
    return insert(HostRequest).from_select(["host", "started_at", "expires_at"], row).returning(HostRequest.id)


def _busy(connection: Connection, host: str, now: datetime, concurrency: int, per_minute: int, retry: float) -> HostBusy:
    jitter = random.uniform(0.5, 1.5)
    in_flight = connection.execute(select(func.count()).select_from(HostRequest).where(_open(host, now))).scalar_one()
    if concurrency and in_flight >= concurrency:
        return HostBusy(f"{host}: {in_flight} requests in flight (limit {concurrency})", retry_after=retry * jitter)
    oldest = connection.scalar(select(func.min(HostRequest.started_at)).where(_recent(host, now)))
    wait = max(0.0, (oldest + WINDOW - now).total_seconds()) if oldest else retry
    return HostBusy(
        f"{host}: {per_minute} requests in the last minute (limit {per_minute})",
        retry_after=wait + retry * (jitter - 0.5),
        reason="host_rate",
    )
