"""Upkeep of stored data: run by the ``syndicate.ops.maintenance`` task (queue ``maintenance``, every
``SYNDICATE_MAINTENANCE_INTERVAL`` s) and once by ``syndicate maintenance run``.

    retain()              articles published before the retention age, then those beyond the newest N
                          of each source, are buried (``tombstones.bury``: a tombstone per key and the
                          canonical URL, the cluster handed on to its next-earliest member or dropped;
                          its bucket rows deleted by key; topics, aliases and revisions go with the row by ON DELETE CASCADE)
    prune_fetch_log()     fetch-log rows older than N days, except each source's newest M
    prune_housekeeping()  spent per-host request slots; WebSub requests that were never verified; bucket rows
                          left without their article (an article deleted by hand)
    upkeep()              SQLite: PRAGMA optimize, incremental vacuum (on by default for new databases), WAL checkpoint;
                          PostgreSQL: VACUUM (ANALYZE) of the tables that churn

Deletions go in batches of ``BATCH`` rows, each batch committed, so no run holds the write lock for
long and an interrupted run keeps what it did; a ``deadline`` (a ``time.monotonic()`` value) stops a
run between batches and the next run goes on. A limit of 0 is off. ``dry_run`` counts, deletes nothing.

Tombstones are kept, always. A feed may carry an item for longer than retention keeps it (an archive
feed, or a source with more items than the per-source limit): without its tombstone the next poll
stores it again — a "new" old article in merged feeds and WebSub deliveries — until the next run
deletes it again. A tombstone is one small row per deleted item and goes with its source (CASCADE).
Not pruned either: the audit log, API tokens (revoked ones are named by audit entries), article
revisions (they go with their article), and ``source_passages`` (sentence counts for boilerplate
detection; ``bury`` does not lower them, so a deleted article's sentences still count).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, Select, delete, func, or_, select, text
from sqlalchemy.orm import Session

from syndicate.db import engine_of, rowcount
from syndicate.dedupe import tombstones
from syndicate.ingest import politeness
from syndicate.models import (
    Article,
    ArticleBucket,
    ArticleRevision,
    ArticleTopic,
    Cluster,
    FetchLog,
    HostRequest,
    ItemAlias,
    MailSubscription,
    Source,
    Tombstone,
    WebSubSubscription,
)

BATCH = 500
UNVERIFIED_KEEP = timedelta(days=7)  # a WebSub request still pending or denied this long after it came is dropped
CHECKPOINT_WAIT_MS = 5000  # the WAL checkpoint waits this long for readers, then reports busy (next run retries)
VACUUM_PAGES = 25_000  # incremental vacuum frees at most this many pages per run (~100 MB at 4 KiB)
HOT_TABLES = [
    model.__tablename__
    for model in (
        Article,
        Cluster,
        ArticleTopic,
        ArticleBucket,
        ItemAlias,
        ArticleRevision,
        Tombstone,
        FetchLog,
        HostRequest,
        Source,
    )
]


@dataclass(frozen=True)
class Limits:
    """From the SYNDICATE_RETENTION_* and SYNDICATE_FETCH_LOG_* settings; 0 is off."""

    retention_days: int
    retention_per_source: int
    fetch_log_days: int
    fetch_log_per_source: int

    @classmethod
    def from_settings(cls, settings) -> Limits:
        return cls(settings.retention_days, settings.retention_per_source, settings.fetch_log_days, settings.fetch_log_per_source)


@dataclass
class RetainReport:
    by_age: int = 0  # articles published before the cutoff
    by_count: int = 0  # articles beyond the newest N of their source
    complete: bool = True  # False: the deadline came first; the next run goes on
    dry_run: bool = False


@dataclass
class PruneReport:
    fetch_log: int = 0
    host_requests: int = 0
    websub_requests: int = 0
    mail_signups: int = 0  # e-mail sign-ups never confirmed within MAIL_CONFIRM_WITHIN (addresses deleted: DSGVO)
    buckets: int = 0  # LSH bucket rows left without their article
    complete: bool = True
    dry_run: bool = False


@dataclass
class UpkeepReport:
    dialect: str
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


@dataclass
class Report:
    retain: RetainReport
    prune: PruneReport
    upkeep: UpkeepReport | None

    def as_dict(self) -> dict:
        return asdict(self)

    def lines(self) -> list[str]:
        r, p = self.retain, self.prune
        lines = [
            f"{'dry run: would delete' if r.dry_run else 'deleted'} {r.by_age + r.by_count} articles "
            f"({r.by_age} by age, {r.by_count} over the per-source limit), {p.fetch_log} fetch-log rows, "
            f"{p.host_requests} host slots, {p.websub_requests} unverified WebSub requests, {p.mail_signups} unconfirmed e-mail sign-ups, {p.buckets} orphaned bucket rows"
        ]
        if not (r.complete and p.complete):
            lines.append("stopped at the deadline, the next run goes on")
        if self.upkeep is not None:
            lines.append(f"{self.upkeep.dialect}: " + ", ".join(self.upkeep.done + [f"skipped {s}" for s in self.upkeep.skipped]))
        return lines

    def summary(self) -> str:
        return "; ".join(self.lines())


def run(session: Session, now: datetime, limits: Limits, *, dry_run: bool = False, deadline: float | None = None) -> Report:
    """Retention, pruning and database upkeep in that order (upkeep is left out of a dry run)."""
    retained = retain(session, now, limits.retention_days, limits.retention_per_source, dry_run=dry_run, deadline=deadline)
    pruned = prune_fetch_log(session, now, limits.fetch_log_days, limits.fetch_log_per_source, dry_run=dry_run, deadline=deadline)
    housekept = prune_housekeeping(session, now, dry_run=dry_run, deadline=deadline)
    pruned.host_requests, pruned.websub_requests, pruned.buckets = housekept.host_requests, housekept.websub_requests, housekept.buckets
    pruned.mail_signups = housekept.mail_signups
    pruned.complete = pruned.complete and housekept.complete
    session.commit()  # no snapshot of ours held while the WAL is checkpointed or tables vacuumed
    return Report(retained, pruned, None if dry_run else upkeep(session))


# ---------------------------------------------------------------- retention


def retain(
    session: Session,
    now: datetime,
    max_age_days: int,
    per_source: int,
    *,
    dry_run: bool = False,
    deadline: float | None = None,
    batch: int = BATCH,
) -> RetainReport:
    """Bury articles older than ``max_age_days`` (by publication), then all but each source's newest ``per_source``."""
    cutoff = now - timedelta(days=max_age_days) if max_age_days else None
    if dry_run:
        return _count_retained(session, cutoff, per_source)
    report = RetainReport()
    if cutoff is not None:
        old = select(Article.id).where(Article.published_at < cutoff).order_by(Article.id)
        report.by_age, report.complete = tombstones.bury_all(session, old, f"retention: older than {max_age_days} days", batch, deadline)
    if not per_source or not report.complete:
        return report
    for source_id in _sources_over(session, per_source):
        beyond = _beyond_newest(source_id, per_source)
        done, report.complete = tombstones.bury_all(session, beyond, f"retention: beyond the newest {per_source}", batch, deadline)
        report.by_count += done
        if not report.complete:
            break
    return report


def _sources_over(session: Session, per_source: int) -> list[int]:
    query = select(Article.source_id).group_by(Article.source_id).having(func.count() > per_source).order_by(Article.source_id)
    return list(session.scalars(query))


def _beyond_newest(source_id: int, keep: int) -> Select:
    """A source's articles after its newest ``keep`` (by publication, then id)."""
    newest_first = select(Article.id).where(Article.source_id == source_id).order_by(Article.published_at.desc(), Article.id.desc())
    return newest_first.offset(keep)


def _count_retained(session: Session, cutoff: datetime | None, per_source: int) -> RetainReport:
    report = RetainReport(dry_run=True)
    if cutoff is not None:
        report.by_age = session.execute(select(func.count()).select_from(Article).where(Article.published_at < cutoff)).scalar_one()
    if per_source:
        kept = select(Article.source_id, func.count().label("n")).group_by(Article.source_id)
        if cutoff is not None:
            kept = kept.where(Article.published_at >= cutoff)
        over = kept.having(func.count() > per_source).subquery()
        report.by_count = int(
            session.execute(select(func.coalesce(func.sum(over.c.n - per_source), 0))).scalar_one()
        )  # PostgreSQL: a Decimal
    return report


# ---------------------------------------------------------------- fetch log and housekeeping tables


def prune_fetch_log(
    session: Session,
    now: datetime,
    keep_days: int,
    keep_per_source: int,
    *,
    dry_run: bool = False,
    deadline: float | None = None,
    batch: int = BATCH,
) -> PruneReport:
    """Delete fetch-log rows older than ``keep_days``, never a source's newest ``keep_per_source``
    (the /ops source page and ``GET /api/v1/sources/{id}/fetches`` read those)."""
    report = PruneReport(dry_run=dry_run)
    if not keep_days:
        return report
    cutoff = now - timedelta(days=keep_days)
    for source_id in session.scalars(select(FetchLog.source_id).where(FetchLog.started_at < cutoff).distinct()).all():
        bound = _fetch_log_bound(session, source_id, cutoff, keep_per_source)
        if bound is None:
            continue
        # a row of folded quiet polls counts by its latest attempt (started_at is the run's first)
        latest = func.coalesce(FetchLog.last_started_at, FetchLog.started_at)
        done, report.complete = _delete(
            session, FetchLog, [FetchLog.source_id == source_id, FetchLog.started_at < bound, latest < bound], dry_run, deadline, batch
        )
        report.fetch_log += done
        if not report.complete:
            break
    return report


def _fetch_log_bound(session: Session, source_id: int, cutoff: datetime, keep: int) -> datetime | None:
    """Rows of the source started before this go; None: the source has no more than ``keep`` rows."""
    if not keep:
        return cutoff
    newest = select(FetchLog.started_at).where(FetchLog.source_id == source_id).order_by(FetchLog.started_at.desc(), FetchLog.id.desc())
    kept_last = session.scalar(newest.offset(keep - 1).limit(1))
    return None if kept_last is None else min(cutoff, kept_last)


MAIL_CONFIRM_WITHIN = timedelta(hours=48)  # the promise of the sign-up page and the confirmation mail (syndicate.mail)


def prune_housekeeping(
    session: Session, now: datetime, *, dry_run: bool = False, deadline: float | None = None, batch: int = BATCH
) -> PruneReport:
    """Per-host request slots that are finished or expired (``politeness`` prunes only the host it serves),
    and WebSub (un)subscription requests never verified (pending or denied, no lease) after ``UNVERIFIED_KEEP``, and
    e-mail sign-ups not confirmed within 48 hours (a pending one holds no sent records)."""
    report = PruneReport(dry_run=dry_run)
    spent = [HostRequest.started_at < now - politeness.KEEP, or_(HostRequest.finished_at.is_not(None), HostRequest.expires_at < now)]
    report.host_requests, report.complete = _delete(session, HostRequest, spent, dry_run, deadline, batch)
    unverified = [
        WebSubSubscription.state.in_(("pending", "denied")),
        WebSubSubscription.expires_at.is_(None),
        WebSubSubscription.created_at < now - UNVERIFIED_KEEP,
    ]
    if report.complete:
        report.websub_requests, report.complete = _delete(session, WebSubSubscription, unverified, dry_run, deadline, batch)
    unconfirmed = [MailSubscription.state == "pending", MailSubscription.created_at < now - MAIL_CONFIRM_WITHIN]
    if report.complete:
        report.mail_signups, report.complete = _delete(session, MailSubscription, unconfirmed, dry_run, deadline, batch)
    if report.complete:
        report.buckets, report.complete = prune_buckets(session, dry_run=dry_run, deadline=deadline)
    return report


BUCKET_SLICES = 64
_ORPHANED = "NOT EXISTS (SELECT 1 FROM articles WHERE articles.id = article_buckets.article_id)"


def prune_buckets(session: Session, *, dry_run: bool = False, deadline: float | None = None) -> tuple[int, bool]:
    """LSH bucket rows whose article is gone (deleted other than by ``tombstones.bury``, which deletes
    them by key): the table is walked in ``BUCKET_SLICES`` ranges of its key, each committed on its own,
    so no statement holds the write lock for a whole scan. Returns (rows, whether the walk finished)."""
    step, low, removed = 2**64 // BUCKET_SLICES, -(2**63), 0
    for k in range(BUCKET_SLICES):
        if deadline is not None and time.monotonic() >= deadline:
            return removed, False
        start = low + k * step
        where = "bucket >= :start" + ("" if k == BUCKET_SLICES - 1 else " AND bucket < :stop")
        params = {"start": start, "stop": start + step}
        if dry_run:
            removed += session.execute(text(f"SELECT count(*) FROM article_buckets WHERE {where} AND {_ORPHANED}"), params).scalar_one()
        else:
            removed += rowcount(session.execute(text(f"DELETE FROM article_buckets WHERE {where} AND {_ORPHANED}"), params))
            session.commit()
    return removed, True


def _delete(session: Session, model, conditions: list, dry_run: bool, deadline: float | None, batch: int) -> tuple[int, bool]:
    """Delete ``model`` rows matching ``conditions`` in committed batches; (rows, whether none are left)."""
    if dry_run:
        return session.execute(select(func.count()).select_from(model).where(*conditions)).scalar_one(), True
    deleted = 0
    while deadline is None or time.monotonic() < deadline:
        ids = session.scalars(select(model.id).where(*conditions).limit(batch)).all()
        if not ids:
            return deleted, True
        deleted += rowcount(session.execute(delete(model).where(model.id.in_(ids))))
        session.commit()
    return deleted, False


# ---------------------------------------------------------------- database upkeep


def upkeep(bind: Engine | Session) -> UpkeepReport:
    """Statistics, WAL and free space; on a connection of its own in autocommit mode (VACUUM refuses transactions)."""
    engine = engine_of(bind) if isinstance(bind, Session) else bind
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        if connection.dialect.name == "sqlite":
            return _sqlite_upkeep(connection)
        if connection.dialect.name == "postgresql":
            return _postgresql_upkeep(connection)
        return UpkeepReport(connection.dialect.name, skipped=[f"upkeep: nothing known for {connection.dialect.name}"])


def _sqlite_upkeep(connection) -> UpkeepReport:
    """Statistics, then free pages back to the file system, then the WAL truncated (last, so that
    it ends empty)."""
    report = UpkeepReport("sqlite")
    connection.exec_driver_sql("PRAGMA optimize")
    report.done.append("PRAGMA optimize")
    mode = connection.exec_driver_sql("PRAGMA auto_vacuum").scalar()
    free = connection.exec_driver_sql("PRAGMA freelist_count").scalar()
    if mode == 2:  # INCREMENTAL; run as a script: a single step of the pragma frees only one page
        connection.connection.dbapi_connection.executescript(f"PRAGMA incremental_vacuum({VACUUM_PAGES})")
        report.done.append(
            f"incremental vacuum freed {free - connection.exec_driver_sql('PRAGMA freelist_count').scalar()} of {free} free pages"
        )
    elif mode == 1:
        report.skipped.append("VACUUM (auto_vacuum=FULL frees pages at every commit)")
    else:
        report.skipped.append(
            f"VACUUM ({free} free pages are reused, not returned: auto_vacuum is off, and a full VACUUM "
            "rewrites the file under an exclusive lock; see docs/operations.md)"
        )
    waited = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
    connection.exec_driver_sql(f"PRAGMA busy_timeout={CHECKPOINT_WAIT_MS}")
    try:
        busy, frames, copied = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
    finally:
        connection.exec_driver_sql(f"PRAGMA busy_timeout={int(waited)}")
    if frames < 0:
        report.skipped.append("WAL checkpoint (not in WAL mode)")
    elif busy:
        report.skipped.append(f"WAL truncation (busy: {copied} of {frames} frames copied; readers kept older snapshots)")
    else:
        report.done.append(f"WAL checkpoint(TRUNCATE) of {frames} frames")
    return report


def _postgresql_upkeep(connection) -> UpkeepReport:
    options = "ANALYZE, SKIP_LOCKED" if connection.dialect.server_version_info >= (12,) else "ANALYZE"
    tables = ", ".join(connection.dialect.identifier_preparer.quote(name) for name in HOT_TABLES)
    connection.exec_driver_sql(f"VACUUM ({options}) {tables}")
    return UpkeepReport("postgresql", done=[f"VACUUM ({options}) {tables}"])
