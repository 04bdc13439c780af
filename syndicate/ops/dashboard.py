"""Queries behind the operator dashboard: the source table, a source's fetch log, the audit tail.

The table is filtered and sorted here (by query parameters, so it works without JavaScript);
states come from ``status.source_state``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from syndicate.access import audit
from syndicate.clock import utcnow
from syndicate.models import Article, AuditEntry, City, FetchLog, Source
from syndicate.ops import alerts, counts, status
from syndicate.ops.states import state_of
from syndicate.settings import Settings

SPARK_DAYS = 14
PAGE_SIZE = 250  # source rows per page of the table (``?seite=N``): 6,000 rows were 5 MB of HTML and most of /ops' time
# problems first: the order of the default sort
STATE_ORDER = {state: i for i, state in enumerate(("broken", "gone", "failing", "deferred", "new", "ok", "disabled"))}


@dataclass
class SourceLine:
    id: int
    city: str
    city_name: str
    title: str
    url: str
    state: str
    last_success_at: datetime | None
    last_checked_at: datetime | None
    reason: str | None
    message: str | None
    errors: int
    next_check_at: datetime | None
    failing_since: datetime | None
    per_day: list[int] = field(default_factory=list)  # articles published per UTC day, oldest first

    @property
    def items(self) -> int:
        return sum(self.per_day)


@dataclass(frozen=True)
class TableQuery:
    state: str | None = None
    city: str | None = None
    q: str | None = None
    sort: str = "state"
    desc: bool = False
    page: int = 1


def _stamp(value: datetime | None) -> float:
    return value.timestamp() if value else float("-inf")


def _title(row) -> str:
    return row.title or row.feed_title or ""


# sort keys of a source row, its state and its articles of the sparkline's days (used when sorted by them)
SORTS = {
    "state": lambda row, state, items: (STATE_ORDER.get(state, 99), row.city, row.id),
    "city": lambda row, state, items: (row.city_name.casefold(), row.id),
    "source": lambda row, state, items: ((_title(row) or row.url).casefold(), row.id),
    "last_success": lambda row, state, items: (_stamp(row.last_success_at), row.id),
    "reason": lambda row, state, items: (row.last_error_reason or "", row.id),
    "next_check": lambda row, state, items: (_stamp(row.next_check_at), row.id),
    "items": lambda row, state, items: (items, row.id),
}


def _day(column, dialect: str):
    """The UTC calendar day of a timestamp column as 'YYYY-MM-DD'."""
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.substr(column, 1, 10)  # SQLite stores 'YYYY-MM-DD HH:MM:SS…' in UTC


def spark_days(now: datetime, days: int = SPARK_DAYS) -> list[str]:
    today = now.date()
    return [(today - timedelta(days=offset)).isoformat() for offset in range(days - 1, -1, -1)]


def items_per_day(session: Session, now: datetime, days: int = SPARK_DAYS, *filters) -> dict[int, list[int]]:
    """Articles published per source and UTC day over the last ``days`` days."""
    labels = spark_days(now, days)
    start = datetime.fromisoformat(labels[0]).replace(tzinfo=now.tzinfo)
    day = _day(Article.published_at, session.get_bind().dialect.name)
    query = (
        select(Article.source_id, day, func.count())
        .where(Article.published_at >= start, Article.published_at <= now, *filters)
        .group_by(Article.source_id, day)
    )
    position = {label: i for i, label in enumerate(labels)}
    series: dict[int, list[int]] = {}
    for source_id, label, count in session.execute(query):
        if label in position:
            series.setdefault(source_id, [0] * days)[position[label]] = count
    return series


def source_lines(session: Session, rows: list, now: datetime, broken_after: float, *, with_days: bool = True) -> list[SourceLine]:
    """``with_days=False``: the sparklines are left empty (``add_days`` fills those of the lines shown)."""
    only = (Article.source_id == rows[0].id,) if len(rows) == 1 else ()
    per_day = items_per_day(session, now, SPARK_DAYS, *only) if with_days else {}
    empty = [0] * SPARK_DAYS
    return [
        SourceLine(
            id=row.id,
            city=row.city,
            city_name=row.city_name,
            title=row.title or row.feed_title or "",
            url=row.url,
            state=status.source_state(row, now, broken_after),
            last_success_at=row.last_success_at,
            last_checked_at=row.last_checked_at,
            reason=row.last_error_reason,
            message=row.last_error_message,
            errors=row.error_count,
            next_check_at=row.next_check_at,
            failing_since=row.first_error_at if row.error_count else None,
            per_day=per_day.get(row.id, empty),
        )
        for row in rows
    ]


def select_rows(rows: list, states: list[str], query: TableQuery, items: dict[int, int] | None = None) -> list[tuple]:
    """The (row, state) pairs the filter leaves, in the table's order (``items``: articles per source over
    the sparkline's days, when sorted by them). Rows, not lines: a line is made only for the page shown."""
    needle = query.q.casefold() if query.q else None
    chosen = [
        (row, state)
        for row, state in zip(rows, states)
        if (not query.state or state == query.state or (query.state == "problem" and state in status.PROBLEM_STATES))
        and (not query.city or row.city == query.city)
        and (not needle or needle in f"{_title(row)} {row.url} {row.last_error_reason or ''}".casefold())
    ]
    key = SORTS.get(query.sort, SORTS["state"])
    counts_of = items or {}
    return sorted(chosen, key=lambda pair: key(pair[0], pair[1], counts_of.get(pair[0].id, 0)), reverse=query.desc)


def add_days(session: Session, lines: list[SourceLine], now: datetime) -> None:
    """The sparklines of these lines: articles per day of their sources only (bound ids, in bounded lists)."""
    ids = [line.id for line in lines]
    per_day: dict[int, list[int]] = {}
    for start in range(0, len(ids), 500):
        per_day.update(items_per_day(session, now, SPARK_DAYS, Article.source_id.in_(ids[start : start + 500])))
    for line in lines:
        line.per_day = per_day.get(line.id, [0] * SPARK_DAYS)


def cities(rows: list) -> list[tuple[str, str]]:
    """(slug, name) of the cities of these source rows (or lines), by name."""
    return sorted({(row.city, row.city_name) for row in rows}, key=lambda pair: pair[1].casefold())


@dataclass
class SourcePage:
    line: SourceLine
    fetches: list[FetchLog]  # newest first


def source_page(session: Session, source_id: int, now: datetime, broken_after: float, limit: int = 100) -> SourcePage | None:
    rows = status.source_rows(session, Source.id == source_id)
    if not rows:
        return None
    line = source_lines(session, rows, now, broken_after)[0]
    fetches = list(
        session.scalars(
            select(FetchLog).where(FetchLog.source_id == source_id).order_by(FetchLog.started_at.desc(), FetchLog.id.desc()).limit(limit)
        )
    )
    return SourcePage(line, fetches)


def audit_tail(session: Session, limit: int = 20) -> list[tuple[AuditEntry, str | None]]:
    return audit.entries(session, limit=limit)


@dataclass
class Dashboard:
    now: datetime
    overview: status.Overview
    lines: list[SourceLine]  # filtered and sorted: the page's
    total: int  # sources before filtering
    cities: list[tuple[str, str]]
    alerts: list[alerts.Alert]
    audit: list[tuple[AuditEntry, str | None]]
    days: list[str] = field(default_factory=list)  # sparkline labels, oldest first
    matched: int = 0  # sources the filter leaves, on all pages
    page: int = 1
    pages: int = 1


def table_rows(session: Session, sort: str) -> list:
    """Every source with what its state, the table's filter and its order need, but no timestamps unless
    sorted by one: psycopg's parsing and the UTC conversion of four timestamps were ~17 ms of 5,928 rows."""
    columns = [
        Source.id,
        Source.enabled,
        Source.error_count,
        Source.last_error_reason,
        case((Source.error_count > 0, func.coalesce(Source.first_error_at, Source.last_checked_at))).label("failing_since"),
        Source.last_http_status,
        Source.last_success_at.is_not(None).label("succeeded"),
        Source.url,
        Source.title,
        Source.feed_title,
        City.slug.label("city"),
        City.name.label("city_name"),
    ]
    if sort in ("last_success", "next_check"):
        columns += [Source.last_success_at, Source.next_check_at]
    return list(session.execute(select(*columns).join(City, Source.city_id == City.id)))


def dashboard(
    session: Session,
    settings: Settings,
    query: TableQuery,
    probe,
    alert_state: alerts.AlertState,
    now: datetime | None = None,
    totals: counts.CountCache | None = None,
) -> Dashboard:
    now = now or utcnow()
    rows = table_rows(session, query.sort)
    broken_after = settings.ops_failing_alert_after
    states: list[str] = [
        state_of(r.enabled, r.error_count, r.last_error_reason, r.failing_since, r.last_http_status, r.succeeded, now, broken_after)
        for r in rows
    ]  # once, for the summary too
    counted = status.count_states(session, [row.id for row in rows], states, now, broken_after)
    full = counted.rows
    totals_now = totals.get(session) if totals else None
    overview = status.overview(session, settings, now, probe, counted.problem_rows, totals_now, counted.problem_states, counted.by_state)
    # the sparklines of the page's sources only, unless the table is sorted by them
    items = {source_id: sum(days) for source_id, days in items_per_day(session, now).items()} if query.sort == "items" else None
    chosen = select_rows(rows, states, query, items)
    pages = max(1, -(-len(chosen) // PAGE_SIZE))
    page = min(max(query.page, 1), pages)
    # the lines of the page only, from their whole rows: making a line for each of Bavaria's 5,928 sources,
    # and reading the timestamps of each, was most of /ops' CPU
    page_ids = [row.id for row, _ in chosen[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]]
    full.update(status.source_rows_by_id(session, [i for i in page_ids if i not in full]))
    shown = source_lines(session, [full[i] for i in page_ids if i in full], now, broken_after, with_days=False)
    add_days(session, shown, now)
    return Dashboard(
        now=now,
        overview=overview,
        lines=shown,
        total=len(rows),
        cities=cities(rows),
        alerts=alert_state.check(overview.summary, overview.queues, settings, now),
        audit=audit_tail(session),
        days=spark_days(now),
        matched=len(chosen),
        page=page,
        pages=pages,
    )
