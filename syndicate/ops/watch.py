"""Changes an operator must hear about, logged once for the whole installation, not on every look:

    WORKER LOST refresh1@host: last seen …        a worker that was online is gone (killed, lost, stopped)
    WORKER ONLINE refresh1@host                   a worker seen for the first time, or back after it was lost
    BEAT STOPPED: last tick … s ago (limit … s)   beat has not ticked for three intervals
    BEAT RECOVERED: ticking again …               … and ticks again
    SOURCE FAILING source:12 (augsburg) …         a source entered a problem state (failing, broken, gone)
    SOURCE RECOVERED source:12 (augsburg) …       … and left it
    ALERT source_failing source:12: …             an alert of syndicate.ops.alerts was raised
    RESOLVED source_failing source:12             … and ended

``observe`` looks (the summary, the broker's queues and workers, the alerts); ``record`` compares
that with the marks in the ``watch_marks`` table and moves each mark with a conditional UPDATE
(or an INSERT that does nothing on conflict), so that of several API processes watching at once
only the one whose write changed the mark logs the line, and a restarted process does not log
again what was logged before. Every API process runs a ``Watcher`` thread every
SYNDICATE_OPS_WATCH_INTERVAL seconds (beat cannot report its own death); the ``check_alerts``
task runs the same look every minute. While the broker is unreachable nothing is said about
workers (nothing is known about them).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from syndicate.clock import utcnow
from syndicate.db import rowcount
from syndicate.models import Source, WatchMark
from syndicate.ops import alerts, status
from syndicate.ops import workers as workerinfo
from syndicate.settings import Settings

log = logging.getLogger("syndicate.watch")
LOST_KEPT = timedelta(days=7)  # a lost worker's mark (its name may come back) is forgotten after this
_INSERT: dict[str, Callable[..., sqlite.Insert | postgresql.Insert]] = {"sqlite": sqlite_insert, "postgresql": postgresql_insert}


@dataclass
class Observation:
    now: datetime
    workers: dict[str, datetime | None] | None  # hostname → last seen; None: unknown (broker unreachable)
    beat_tick: datetime | None
    beat_age: float | None
    beat_limit: float
    failing: dict[str, dict] = field(default_factory=dict)  # "source:<id>" → status.Summary.failing entry
    alerts: dict[str, alerts.Alert] = field(default_factory=dict)  # "alert:<name> <subject>" → alert

    @property
    def beat_stopped(self) -> bool:
        return self.beat_age is not None and self.beat_age > self.beat_limit


@dataclass(frozen=True)
class Change:
    level: int
    message: str
    fields: dict

    def emit(self) -> None:
        log.log(self.level, "%s", self.message, extra=self.fields)


def observe(
    session: Session,
    settings: Settings,
    trend: alerts.QueueTrend,
    now: datetime | None = None,
    probe: Callable[[], workerinfo.WorkerReport] | None = None,
) -> Observation:
    now = now or utcnow()
    summary = status.summarise(session, now, settings.ops_failing_alert_after)
    broker_error, depths, report = status.broker_view(settings, probe)
    trend.add(now, depths)
    return Observation(
        now=now,
        workers=None if broker_error else {w.hostname: w.seen_at for w in report.workers},
        beat_tick=summary.last_beat_tick,
        beat_age=summary.beat_age_seconds,
        beat_limit=3 * settings.beat_interval,
        failing={f"source:{problem['id']}": problem for problem in summary.failing},
        alerts={f"alert:{alert.key}": alert for alert in alerts.evaluate(summary, trend, settings, now)},
    )


class _Marks:
    """Conditional writes to ``watch_marks``: each returns whether this process made the change."""

    def __init__(self, session: Session):
        self.session = session
        self.found = {mark.key: mark for mark in session.scalars(select(WatchMark))}

    def insert(self, key: str, state: str, since: datetime, seen_at: datetime | None = None, detail: str | None = None) -> bool:
        insert = _INSERT[self.session.get_bind().dialect.name]
        values = {"key": key, "state": state, "since": since, "seen_at": seen_at, "detail": detail}
        statement = insert(WatchMark.__table__).values(values).on_conflict_do_nothing(index_elements=["key"])
        return self.session.execute(statement.returning(WatchMark.__table__.c.key)).first() is not None  # (rowcount: -1 on psycopg)

    def move(self, key: str, old: str, new: str, **values) -> bool:
        statement = update(WatchMark).where(WatchMark.key == key, WatchMark.state == old).values(state=new, **values)
        return rowcount(self.session.execute(statement.execution_options(synchronize_session=False))) == 1

    def drop(self, key: str, old: str) -> bool:
        statement = delete(WatchMark).where(WatchMark.key == key, WatchMark.state == old)
        return rowcount(self.session.execute(statement.execution_options(synchronize_session=False))) == 1

    def kind(self, prefix: str) -> dict[str, WatchMark]:
        return {key: mark for key, mark in self.found.items() if key.startswith(prefix)}


def _newer(seen_at: datetime | None, before: datetime | None) -> bool:
    """A sign of life newer than the last one a lost worker gave (not a stale heartbeat another process read)."""
    return seen_at is not None and (before is None or seen_at > before)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def record(session: Session, seen: Observation, marks: _Marks | None = None) -> list[Change]:
    """Move the marks to what ``seen`` shows and commit; the changes this process made, to be logged.
    ``marks``: the marks as read before (another process may have moved them since: its write wins)."""
    marks = marks or _Marks(session)
    changes = [*_workers(marks, seen), *_beat(marks, seen), *_sources(session, marks, seen), *_alerts(marks, seen)]
    session.commit()
    return changes


def _workers(marks: _Marks, seen: Observation) -> list[Change]:
    if seen.workers is None:
        return []
    changes, known, now = [], marks.kind("worker:"), seen.now
    for hostname, seen_at in seen.workers.items():
        key = f"worker:{hostname}"
        mark = known.get(key)
        fields: dict = {"event": "worker_online", "worker": hostname}
        if mark is None:
            if marks.insert(key, "online", now, seen_at):
                changes.append(Change(logging.INFO, f"WORKER ONLINE {hostname}", fields))
        elif mark.state == "online":
            marks.move(key, "online", "online", seen_at=seen_at)
        elif _newer(seen_at, mark.seen_at) and marks.move(key, "lost", "online", since=now, seen_at=seen_at):
            changes.append(Change(logging.INFO, f"WORKER ONLINE {hostname}: back, lost since {_iso(mark.since)}", fields))
    for key, mark in known.items():
        hostname = key.removeprefix("worker:")
        if mark.state == "online" and hostname not in seen.workers:
            if marks.move(key, "online", "lost", since=now):
                last = _iso(mark.seen_at) or "never"
                fields = {"event": "worker_lost", "worker": hostname, "last_seen": _iso(mark.seen_at)}
                changes.append(Change(logging.WARNING, f"WORKER LOST {hostname}: last seen {last}", fields))
        elif mark.state == "lost" and now - mark.since > LOST_KEPT:
            marks.drop(key, "lost")
    return changes


def _beat(marks: _Marks, seen: Observation) -> list[Change]:
    if seen.beat_tick is None:  # never ticked: a new installation, not a stopped beat
        return []
    mark, tick = marks.found.get("beat"), _iso(seen.beat_tick)
    fields = {"event": "beat_stopped", "last_tick": tick, "beat_age_s": seen.beat_age, "limit_s": seen.beat_limit}
    if seen.beat_stopped:
        moved = (
            marks.insert("beat", "stopped", seen.now, seen.beat_tick)
            if mark is None
            else marks.move("beat", "running", "stopped", since=seen.now)
        )
        if moved:
            message = f"BEAT STOPPED: last tick {tick}, {seen.beat_age:.0f} s ago (limit {seen.beat_limit:.0f} s); is `celery -A workers beat` running?"
            return [Change(logging.WARNING, message, fields)]
    elif mark is None:
        marks.insert("beat", "running", seen.now, seen.beat_tick)
    elif mark.state == "stopped" and marks.move("beat", "stopped", "running", since=seen.now, seen_at=seen.beat_tick):
        fields = {"event": "beat_recovered", "last_tick": tick, "stopped_since": _iso(mark.since)}
        return [Change(logging.INFO, f"BEAT RECOVERED: ticking again, last tick {tick} (stopped since {_iso(mark.since)})", fields)]
    return []


def _sources(session: Session, marks: _Marks, seen: Observation) -> list[Change]:
    changes, known = [], marks.kind("source:")
    for key, problem in seen.failing.items():
        if key not in known:
            detail = f"{problem['reason']} ({problem['errors']} error(s))"
            if marks.insert(key, "failing", seen.now, detail=detail):
                fields = {
                    "event": "source_failing",
                    "source_id": problem["id"],
                    "city": problem["city"],
                    "state": problem["state"],
                    "reason": problem["reason"],
                    "errors": problem["errors"],
                }
                message = f"SOURCE FAILING {key} ({problem['city']}) {problem['url']}: {problem['state']}, {detail}"
                changes.append(Change(logging.WARNING, message, fields))
    ended = {key: mark for key, mark in known.items() if key not in seen.failing}
    ids = [int(key.removeprefix("source:")) for key in ended]
    enabled = dict(session.execute(select(Source.id, Source.url).where(Source.id.in_(ids), Source.enabled)).all()) if ids else {}
    for key, mark in ended.items():
        source_id = int(key.removeprefix("source:"))
        if marks.drop(key, "failing") and source_id in enabled:  # a source switched off or deleted did not recover: no line
            fields = {"event": "source_recovered", "source_id": source_id, "failing_since": _iso(mark.since)}
            message = f"SOURCE RECOVERED {key} {enabled[source_id]}: failing since {_iso(mark.since)}"
            changes.append(Change(logging.INFO, message, fields))
    return changes


def _alerts(marks: _Marks, seen: Observation) -> list[Change]:
    changes, known = [], marks.kind("alert:")
    for key, alert in seen.alerts.items():
        if key not in known and marks.insert(key, "active", seen.now, detail=alert.message):
            fields: dict = {"event": "alert", "alert": alert.name, "subject": alert.subject}
            changes.append(Change(logging.WARNING, f"ALERT {alert.name} {alert.subject}: {alert.message}", fields))
    for key, mark in known.items():
        if key not in seen.alerts and marks.drop(key, "active"):
            name, _, subject = key.removeprefix("alert:").partition(" ")
            fields = {"event": "resolved", "alert": name, "subject": subject, "since": _iso(mark.since)}
            changes.append(Change(logging.INFO, f"RESOLVED {name} {subject} (active since {_iso(mark.since)})", fields))
    return changes


def look(
    sessions: sessionmaker[Session],
    settings: Settings,
    trend: alerts.QueueTrend,
    probe: Callable[[], workerinfo.WorkerReport] | None = None,
) -> tuple[Observation, list[Change]]:
    """One look: observe in one transaction, record in another (short: SQLite locks the file while it writes);
    the changes are logged after their commit."""
    with sessions() as session:
        seen = observe(session, settings, trend, probe=probe)
        session.rollback()
        changes = record(session, seen)
    for change in changes:
        change.emit()
    return seen, changes


class Watcher(threading.Thread):
    """``look`` every ``interval`` seconds in a process that is always up (each API process)."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings, interval: float):
        super().__init__(name="syndicate-ops-watch", daemon=True)
        self.sessions, self.settings, self.interval = sessions, settings, interval
        self.trend = alerts.QueueTrend()
        self._stop_event = threading.Event()
        self._failing: str | None = None

    def once(self) -> list[Change]:
        """One look; a look that fails (database or broker away) is logged once, and once when looking works again."""
        try:
            changes = look(self.sessions, self.settings, self.trend)[1]
        except Exception as exc:
            reason = f"{exc.__class__.__name__}: {exc}".splitlines()[0]
            if self._failing is None:
                log.warning("ops watch cannot look: %s (trying again every %.0f s)", reason, self.interval)
            self._failing = reason
            return []
        if self._failing is not None:
            log.info("ops watch looks again (it could not: %s)", self._failing)
            self._failing = None
        return changes

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            self.once()

    def stop(self) -> None:
        self._stop_event.set()
