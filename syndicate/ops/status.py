"""The operator summary: sources by state, today's articles, beat, broker, queues, workers.

One summary for ``syndicate status``, ``/ops``, ``/metrics`` and ``/readyz``. A source's state
comes from ``syndicate.ops.states``, the one model that the API shows as well. gone, broken and
failing are problems: ``syndicate status`` exits 1 when any source is in one, and also when no
worker is online or beat has not ticked within three intervals (``Overview.problems``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from kombu import Connection
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from syndicate.clock import utcnow
from syndicate.models import Article, BeatTick, City, Cluster, MailSubscription, Source
from syndicate.ops import queues
from syndicate.ops import workers as workerinfo
from syndicate.ops.counts import Counts
from syndicate.ops.states import PROBLEM_STATES, source_state
from syndicate.ops.states import STATES as STATES  # the summary counts these; its callers list them from here
from syndicate.settings import Settings

LOCAL_TIME = ZoneInfo("Europe/Berlin")  # "today" on the dashboard is a Bavarian day

# the columns a state needs, plus what the operator views show; rows of these work like Source objects
SOURCE_COLUMNS = (
    Source.id,
    Source.url,
    Source.title,
    Source.feed_title,
    Source.enabled,
    Source.error_count,
    Source.last_error_reason,
    Source.last_error_message,
    Source.first_error_at,
    Source.last_checked_at,
    Source.last_success_at,
    Source.last_http_status,
    Source.next_check_at,
    City.slug.label("city"),
    City.name.label("city_name"),
)


def source_rows(session: Session, *filters) -> list:
    return list(session.execute(select(*SOURCE_COLUMNS).join(City, Source.city_id == City.id).where(*filters)))


def source_rows_by_id(session: Session, ids: list[int]) -> dict:
    """``source_rows`` of these sources by id, read in bounded lists of bound ids (for views that read every
    source's few state columns first and whole rows only for those they show)."""
    found: dict[int, Any] = {}
    for start in range(0, len(ids), 500):
        found.update((row.id, row) for row in source_rows(session, Source.id.in_(ids[start : start + 500])))
    return found


@dataclass
class Counted:
    """Sources counted by state from plain values, with the whole rows of those in a problem state."""

    by_state: dict[str, int]
    rows: dict[int, Any]  # whole rows (``source_rows``) of the problem sources, by id
    problem_rows: list
    problem_states: list[str]


def count_states(session: Session, ids: list[int], states: Sequence[str], now: datetime, broken_after: float) -> Counted:
    """For views that work out every source's state from a few columns (``states.state_of``): the count per
    state, and the whole rows of the sources in a problem state, which the summary lists (and the alerts read)."""
    by_state: dict[str, int] = {}
    for state in states:
        by_state[state] = by_state.get(state, 0) + 1
    problems = [source_id for source_id, state in zip(ids, states) if state in PROBLEM_STATES]
    rows = source_rows_by_id(session, problems)
    problem_rows = [rows[i] for i in problems if i in rows]
    return Counted(by_state, rows, problem_rows, [source_state(row, now, broken_after) for row in problem_rows])


def start_of_today(now: datetime) -> datetime:
    local = now.astimezone(LOCAL_TIME)
    return datetime.combine(local.date(), time(0), tzinfo=LOCAL_TIME).astimezone(now.tzinfo)


@dataclass
class Summary:
    sources: dict[str, int] = field(default_factory=dict)  # state → count, states with sources only
    articles: int = 0
    clusters: int = 0
    articles_today: int = 0
    clusters_today: int = 0
    last_beat_tick: datetime | None = None
    beat_age_seconds: float | None = None
    failing: list[dict] = field(default_factory=list)  # sources in a problem state
    # e-mail subscriptions by state (pending, active, suspended): counts only, never an address
    mail_subscriptions: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["last_beat_tick"] = self.last_beat_tick.isoformat() if self.last_beat_tick else None
        return data

    def count(self, state: str) -> int:
        return self.sources.get(state, 0)


def summarise(
    session: Session,
    now: datetime | None = None,
    broken_after: float = 6 * 3600,
    rows: list | None = None,
    totals: Counts | None = None,
    states: list[str] | None = None,
    by_state: dict[str, int] | None = None,
) -> Summary:
    """``rows``: ``source_rows(session)`` when the caller has them already (with ``states``, their states in
    the same order, when it has those too); ``totals``: the whole-table counts when the caller holds them
    (``counts.CountCache``), else they are counted here. ``by_state``: the sources per state when the
    caller counted them; ``rows`` are then only those in a problem state, for ``failing``."""
    now = now or utcnow()
    summary = Summary()
    rows = source_rows(session) if rows is None else rows
    for row, state in zip(rows, states if states is not None else (source_state(row, now, broken_after) for row in rows)):
        if by_state is None:
            summary.sources[state] = summary.sources.get(state, 0) + 1
        if state in PROBLEM_STATES:
            summary.failing.append(_problem(row, state))
    if by_state is not None:
        summary.sources = {state: count for state, count in by_state.items() if count}
    today = start_of_today(now)
    if totals is None:
        summary.articles = session.scalar(select(func.count(Article.id))) or 0
        summary.clusters = session.scalar(select(func.count(Cluster.id))) or 0
    else:
        summary.articles, summary.clusters = totals.articles, totals.clusters
    summary.articles_today = session.scalar(select(func.count(Article.id)).where(Article.first_seen_at >= today)) or 0
    summary.clusters_today = session.scalar(select(func.count(Cluster.id)).where(Cluster.created_at >= today)) or 0
    summary.last_beat_tick, summary.beat_age_seconds = beat_age(session, now)
    counts = session.execute(select(MailSubscription.state, func.count()).group_by(MailSubscription.state))
    summary.mail_subscriptions = dict(counts.tuples().all())
    return summary


def failing_sources(session: Session, now: datetime | None = None, broken_after: float = 6 * 3600) -> list[dict]:
    """``Summary.failing`` alone: the sources in a problem state, read without counting anything else
    (every problem state has errors, so only rows with ``error_count`` > 0 are read)."""
    now = now or utcnow()
    found = []
    for row in source_rows(session, Source.enabled.is_(True), Source.error_count > 0):
        state = source_state(row, now, broken_after)
        if state in PROBLEM_STATES:
            found.append(_problem(row, state))
    return found


def _problem(row, state: str) -> dict:
    since = row.first_error_at or row.last_checked_at
    return {
        "id": row.id,
        "url": row.url,
        "city": row.city,
        "state": state,
        "reason": row.last_error_reason,
        "errors": row.error_count,
        "message": row.last_error_message,
        "since": since.isoformat() if since else None,
    }


def beat_age(session: Session, now: datetime | None = None) -> tuple[datetime | None, float | None]:
    """The last beat tick and its age in seconds, or (None, None) when beat never ticked."""
    tick = session.get(BeatTick, 1)
    if tick is None:
        return None, None
    return tick.ticked_at, round(((now or utcnow()) - tick.ticked_at).total_seconds(), 1)


def check_database(session: Session) -> str | None:
    try:
        session.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means "not ready"
        session.rollback()
        return f"{exc.__class__.__name__}: {exc}"
    return None


def check_broker(broker_url: str, timeout: float = 3.0) -> str | None:
    try:
        with Connection(broker_url, connect_timeout=timeout) as connection:
            connection.ensure_connection(max_retries=0, timeout=math.ceil(timeout))  # one attempt, fail fast; kombu takes whole seconds
    except Exception as exc:  # kombu raises driver-specific errors
        return f"{exc.__class__.__name__}: {exc}"
    return None


@dataclass
class Overview:
    """The summary plus what the broker says: reachability, queue depth, workers."""

    summary: Summary
    broker_error: str | None
    queues: dict[str, int]
    workers: workerinfo.WorkerReport
    beat_limit: float  # seconds; an older beat tick is stale

    @property
    def queue_depth(self) -> int:
        return sum(self.queues.values())

    @property
    def beat_stale(self) -> bool:
        age = self.summary.beat_age_seconds
        return age is not None and age > self.beat_limit

    @property
    def problems(self) -> list[str]:
        """Why ``syndicate status`` exits 1: failing sources, an unreachable broker, no worker online,
        a beat that never ticked or ticked longer than three intervals ago. Nothing running is not
        healthy: a monitoring check that reads the exit code must see that nothing polls."""
        found = [f"{len(self.summary.failing)} source(s) failing"] if self.summary.failing else []
        if self.broker_error:
            found.append(f"broker: {self.broker_error}")
        if not self.workers.workers:
            found.append("no worker online")
        if self.summary.last_beat_tick is None:
            found.append("beat: never ticked")
        elif self.beat_stale:
            found.append(f"beat: last tick {self.summary.beat_age_seconds:.0f}s ago (limit {self.beat_limit:.0f}s)")
        return found

    def as_dict(self) -> dict:
        return {
            **self.summary.as_dict(),
            "broker_error": self.broker_error,
            "queues": self.queues,
            "queue_depth": self.queue_depth,
            "workers_online": len(self.workers.workers),
            "workers": [w.as_dict() for w in self.workers.workers],
            "workers_error": self.workers.error,
            "beat_stale": self.beat_stale,
            "problems": self.problems,
        }


def broker_view(
    settings: Settings, probe: Callable[[], workerinfo.WorkerReport] | None = None
) -> tuple[str | None, dict[str, int], workerinfo.WorkerReport]:
    """(broker error, queue depth per queue, workers); no worker probe when the broker is down."""
    error = check_broker(settings.broker_url)
    depths: dict[str, int] = {}
    if error is None:
        try:
            depths = queues.depth(settings.broker_url)
        except queues.QueueError as exc:
            error = str(exc)
    if error is not None:
        return error, depths, workerinfo.WorkerReport([], "broker unreachable")
    return None, depths, (probe or (lambda: workerinfo.probe(settings)))()


def overview(
    session: Session,
    settings: Settings,
    now: datetime | None = None,
    probe: Callable[[], workerinfo.WorkerReport] | None = None,
    rows: list | None = None,
    totals: Counts | None = None,
    states: list[str] | None = None,
    by_state: dict[str, int] | None = None,
) -> Overview:
    """Everything ``syndicate status`` and ``/ops`` show; ``probe`` may be a cached worker probe."""
    summary = summarise(session, now, settings.ops_failing_alert_after, rows, totals, states, by_state)
    return Overview(summary, *broker_view(settings, probe), beat_limit=3 * settings.beat_interval)


def beat_problem(session: Session, settings: Settings, now: datetime | None = None) -> str | None:
    """For ``/readyz``: a beat tick older than three intervals (no tick yet counts as starting up)."""
    _, age = beat_age(session, now)
    limit = 3 * settings.beat_interval
    if age is not None and age > limit:
        return f"last beat tick {age:.0f}s ago (limit {limit:.0f}s)"
    return None
