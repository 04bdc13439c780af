"""Which sources are due, and the leases that give each source to one claim at a time.

A source row carries its lease (migration 0008): ``lease_state`` (None, ``queued``, ``running``),
``lease_token`` (which claim holds it) and ``lease_until`` (when the lease runs out by itself)::

    free ──claim_due (beat)──▶ queued ──RunLease.take (task)──▶ running ──RunLease.release──▶ free
           new token T,                 same T, until now + run_lease,
           until now + QUEUED_LEASE     renewed every run_lease / 3

    queued or running, lease_until passed    claimable again (message lost, worker killed)
    queued, refresh queue seen empty         claimable again at once (claim_due(lost_before=…))
    running, the refresh raised              queued again for the task's retry; otherwise free,
                                             the next check FAILED_RUN_DELAY ahead

- ``claim_due`` is one statement, ``WITH picked AS (due, enabled, lease free; oldest first;
  LIMIT n) UPDATE … RETURNING id``. On PostgreSQL the pick is ``FOR UPDATE SKIP LOCKED``: two beats
  split the due rows between them. On SQLite the statement is a write from its first step
  (single writer, waiting on the busy timeout), so a second beat runs after it and finds the
  rows leased. The claim does not touch ``next_check_at``; only the refresh schedules.
- A task runs only after ``RunLease.take``, one conditional UPDATE: it matches when the
  message's token holds a *queued* lease, or when the lease is free or expired (and, for a beat
  message, the source is still due). A second message for the same source — a duplicate, a stale
  claim, a redelivery — matches nothing and is skipped, so no source is polled by two workers at
  once. Manual refreshes (no token) take a free lease.
- While the refresh runs, the process's lease-renewal thread renews the run lease with one short
  UPDATE every third of ``run_lease`` (``SYNDICATE_RUN_LEASE``). A worker killed with ``kill -9`` stops renewing; its
  source is claimable ``run_lease`` seconds later, at the next beat tick.
- Lost messages (a broker restarted without persistence): a queued lease only expires after
  QUEUED_LEASE, long enough for a backlogged queue. But when the broker reports the refresh queue
  empty, every queued claim made before that reading has lost its message, or a worker holds it
  (just taken, prefetched, a retry waiting for its countdown) and ``take`` will refuse it:
  ``claim_due(lost_before=…)`` claims them again at once.
- The release is one more statement in the refresh's last transaction (``release_in``, handed
  to refresh.py, which owns its transactions), or its own UPDATE when the refresh ended early.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import BindParameter, Connection, Engine, and_, bindparam, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from syndicate.clock import utcnow
from syndicate.models import BeatTick, Source

log = logging.getLogger("syndicate.due")

QUEUED, RUNNING = "queued", "running"
FREE = {"lease_state": None, "lease_token": None, "lease_until": None}
QUEUED_LEASE = timedelta(minutes=10)  # a claimed source waits this long for its message, however long the queue
FAILED_RUN_DELAY = timedelta(minutes=10)  # a refresh that crashed (not retried) is tried again after this


@dataclass(frozen=True)
class Claim:
    token: str  # one per claim; each claimed source's message carries it
    ids: list[int]  # oldest due first


def new_token() -> str:
    return secrets.token_hex(16)


def _free(now: datetime):
    return or_(Source.lease_until.is_(None), Source.lease_until < now)


def claim_due(session: Session, now: datetime, limit: int = 500, lost_before: datetime | None = None) -> Claim:
    """Lease due sources to one new claim (state queued) and return them.

    ``lost_before``: the moment the broker reported the refresh queue empty; queued claims made
    before it lost their message and are claimed again.
    """
    claimable = _free(now)
    if lost_before is not None:  # claimed at lease_until - QUEUED_LEASE
        claimable = or_(claimable, and_(Source.lease_state == QUEUED, Source.lease_until < lost_before + QUEUED_LEASE))
    pick = (
        select(Source.id)
        .where(Source.enabled.is_(True), Source.next_check_at <= now, claimable)
        .order_by(Source.next_check_at, Source.id)
        .limit(limit)
    )
    postgresql = session.get_bind().dialect.name == "postgresql"
    if postgresql:
        pick = pick.with_for_update(skip_locked=True)
    picked = pick.cte("picked")
    if postgresql:
        picked = picked.prefix_with("MATERIALIZED")  # the locking pick runs once, before the update
    token = new_token()
    rows = session.execute(
        update(Source)
        .where(Source.id.in_(select(picked.c.id)))
        .values(lease_state=QUEUED, lease_token=token, lease_until=now + QUEUED_LEASE)
        .returning(Source.id, Source.next_check_at),
        execution_options={"synchronize_session": False},
    ).all()
    session.commit()
    return Claim(token, [source_id for source_id, _ in sorted(rows, key=lambda row: (row[1], row[0]))])


_LEASES = Source.__table__
_ID: BindParameter[int] = bindparam("b_id")
_TOKEN: BindParameter[str] = bindparam("b_token")
_NOW: BindParameter[datetime] = bindparam("b_now")
_FREE_AT = or_(_LEASES.c.lease_until.is_(None), _LEASES.c.lease_until < _NOW)
_TAKE = {"lease_state": RUNNING, "lease_token": bindparam("b_new_token"), "lease_until": bindparam("b_until")}
# the few statements every poll runs, built once (a statement costs more to build than to run)
_TAKE_MANUAL = update(_LEASES).where(_LEASES.c.id == _ID, _FREE_AT).values(**_TAKE)
_TAKE_CLAIMED = (
    update(_LEASES)
    .where(
        _LEASES.c.id == _ID,
        or_(
            and_(_LEASES.c.lease_token == _TOKEN, _LEASES.c.lease_state == QUEUED),
            and_(_FREE_AT, _LEASES.c.next_check_at <= _NOW),
        ),
    )
    .values(**_TAKE)
)
_RENEW = (
    update(_LEASES)
    .where(_LEASES.c.id == _ID, _LEASES.c.lease_token == _TOKEN, _LEASES.c.lease_state == RUNNING)
    .values(lease_until=bindparam("b_until"))
)
_RELEASE = update(_LEASES).where(_LEASES.c.id == _ID, _LEASES.c.lease_token == _TOKEN).values(**FREE)


class RunLease:
    """The lease of one refresh run: take it, keep it renewed while working, release it.

    Every step is one short UPDATE in its own transaction on ``engine`` (not the refresh's session),
    matched on the run's token, so a lease that was lost and taken by someone else is never touched.
    """

    def __init__(self, engine: Engine, source_id: int, token: str | None, length: timedelta):
        self.engine, self.source_id, self.claim_token, self.length = engine, source_id, token, length
        self.token = token or new_token()  # a manual refresh (no claim) runs under a token of its own
        self.released = False

    def _statement(self, *where, **values):
        return update(Source).where(Source.id == self.source_id, *where).values(**values)

    def _update(self, *where, **values) -> bool:
        with self.engine.begin() as connection:
            return connection.execute(self._statement(*where, **values)).rowcount == 1

    def _run(self, statement, **params) -> bool:
        with self.engine.begin() as connection:
            return connection.execute(statement, {"b_id": self.source_id, **params}).rowcount == 1

    def take(self, now: datetime) -> bool:
        """Start running; False when another claim or runner holds the source (or it is gone, or no longer due)."""
        return take_all([self], now)[0]

    def _take_in(self, connection: Connection, now: datetime) -> bool:
        statement = _TAKE_MANUAL if self.claim_token is None else _TAKE_CLAIMED
        return (
            connection.execute(
                statement,
                {
                    "b_id": self.source_id,
                    "b_token": self.claim_token,
                    "b_now": now,
                    "b_new_token": self.token,
                    "b_until": now + self.length,
                },
            ).rowcount
            == 1
        )

    def renew(self, now: datetime) -> bool:
        return self._run(_RENEW, b_token=self.token, b_until=now + self.length)

    def release(self) -> None:
        """The refresh is done (it scheduled the next check): the source is free."""
        if not self.released:
            self._quietly(self._run, _RELEASE, b_token=self.token)

    def release_in(self, session: Session) -> None:
        """The same release as a statement in the refresh's own last transaction (one commit less per poll)."""
        session.connection().execute(_RELEASE, {"b_id": self.source_id, "b_token": self.token})
        self.released = True

    def fail(self, now: datetime, retrying: bool) -> None:
        """The refresh raised. A retried task finds its claim queued again; otherwise the source is
        free and its next check FAILED_RUN_DELAY ahead, so a source that crashes workers is not polled every tick."""
        mine = Source.lease_token == self.token
        if retrying and self.claim_token is not None:
            self._quietly(self._update, mine, lease_state=QUEUED, lease_until=now + QUEUED_LEASE)
        elif retrying:  # a manual refresh's retry takes a free lease
            self._quietly(self._update, mine, **FREE)
        else:
            self._quietly(self._update, mine, **FREE, next_check_at=now + FAILED_RUN_DELAY)

    def _quietly(self, step, *args, **kwargs) -> None:
        """Database unreachable: the run lease runs out by itself, which is the same outcome, later."""
        try:
            step(*args, **kwargs)
        except SQLAlchemyError as exc:
            log.warning("lease of source %s not updated (it expires by itself): %s", self.source_id, exc.__class__.__name__)

    @contextmanager
    def renewed(self) -> Iterator[RunLease]:
        """Renewed every third of its length while the block runs (by the process's one renewal thread)."""
        _keeper.hold(self)
        try:
            yield self
        finally:
            _keeper.drop(self)


def take_all(leases: list[RunLease], now: datetime) -> list[bool]:
    """``take`` each lease (all on one engine), in one transaction: a group's sources wait once for
    SQLite's write lock, not once each. Each take is still its own conditional UPDATE of its row."""
    if not leases:
        return []
    with leases[0].engine.begin() as connection:
        return [lease._take_in(connection, now) for lease in leases]


class _Keeper:
    """One daemon thread per process renews the run leases being held, each every third of its
    length (a thread started per poll cost more than the poll of an unchanged source)."""

    def __init__(self):
        self._reset()

    def _reset(self) -> None:  # also in a forked child (a prefork pool): no lock or lease of the parent's
        self._lock = threading.Condition()
        self._held: dict[int, tuple[RunLease, float]] = {}  # id(lease) → (lease, when it is due, monotonic)
        self._thread: threading.Thread | None = None
        self._pid = 0

    def hold(self, lease: RunLease) -> None:
        with self._lock:
            self._held[id(lease)] = (lease, time.monotonic() + lease.length.total_seconds() / 3)
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():  # none yet, or forked
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="lease-renewal", daemon=True)
                self._thread.start()
            self._lock.notify()

    def drop(self, lease: RunLease) -> bool:
        """No more renewals; False when it was not held (any more)."""
        with self._lock:
            return self._held.pop(id(lease), None) is not None

    def _run(self) -> None:
        while True:
            with self._lock:
                now = time.monotonic()
                due = [lease for lease, at in self._held.values() if at <= now]
                for lease in due:
                    self._held[id(lease)] = (lease, now + lease.length.total_seconds() / 3)
                if not due:
                    self._lock.wait(timeout=min([at for _l, at in self._held.values()], default=now + 60) - now)
                    continue
            for lease in due:  # outside the lock: a renewal may wait on the database
                try:
                    if not lease.renew(utcnow()) and self.drop(lease):  # still held: not just released meanwhile
                        log.warning("lease of source %s lost: it ran out before it was renewed", lease.source_id)
                except SQLAlchemyError as exc:  # try again at the next renewal; the lease may run out meanwhile
                    log.warning("lease of source %s not renewed: %s", lease.source_id, exc.__class__.__name__)


_keeper = _Keeper()
os.register_at_fork(after_in_child=_keeper._reset)


def batches(ids: list[int], size: int, spread: int = 32, group: int = 1) -> list[list[int]]:
    """Split claimed ids into messages of at most ``size``; with few ids, smaller ones (at least
    ``spread`` messages) so that a short round spreads evenly over the workers. A message holds whole
    groups (``group``: the sources a worker stores in one transaction) where it can: 200 ids make
    50 messages of 4 for groups of 4, not 34 of 6 that a worker stores as 4 + 2."""
    step = max(1, min(size, len(ids) // spread))
    if group > 1 and step > 1:
        step = max(min(group, size), step - step % group)
    return [ids[i : i + step] for i in range(0, len(ids), step)]


def record_tick(session: Session, now: datetime, enqueued: int) -> None:
    tick = session.get(BeatTick, 1) or BeatTick(id=1)
    tick.ticked_at, tick.enqueued = now, enqueued
    session.add(tick)
    session.commit()
