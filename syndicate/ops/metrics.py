"""``/metrics`` in the Prometheus text format, computed from the database at scrape time.

Every worker process writes one ``fetch_log`` row per attempt (a run of identical quiet polls is
folded into one row with ``repeats``), so summing that table gives
the numbers of all workers on all machines without prometheus_client's multiprocess mode: the
database is the shared store. Counters count the rows the fetch log keeps (should old rows be
pruned, a counter drops, which Prometheus reads as a reset). Gauges come from the source rows,
the broker (queue depth), the workers (inspect or heartbeat) and the beat tick.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeHistogramMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString
from sqlalchemy import case, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from syndicate.clock import utcnow
from syndicate.models import Article, City, FetchLog, Source
from syndicate.ops import alerts, counts, status
from syndicate.ops.states import state_of
from syndicate.ops.workers import WorkerReport
from syndicate.settings import Settings

log = logging.getLogger("syndicate.metrics")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DURATION_BUCKETS_MS = (50, 100, 250, 500, 1000, 2500, 5000, 10000, 20000, 30000)
DELAY_BUCKETS_S = (60, 120, 300, 600, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400)
DELAY_WINDOW = timedelta(days=7)


@dataclass
class Scrape:
    """What one scrape knows besides the database."""

    now: datetime
    queues: dict[str, int]
    broker_error: str | None
    workers: WorkerReport
    alert_list: list[alerts.Alert]


def fetch_families(session: Session) -> list[Metric]:
    """Fetches by status and reason, duration histogram by status, articles and duplicates: one pass over the fetch log."""
    fetches = CounterMetricFamily("syndicate_fetches", "Feed fetch attempts by outcome and error reason", labels=["status", "reason"])
    new = CounterMetricFamily("syndicate_articles_ingested", "Articles stored for the first time")
    updated = CounterMetricFamily("syndicate_articles_updated", "Stored articles changed by a later fetch")
    duplicates = CounterMetricFamily("syndicate_duplicates", "Items recognised as duplicates while storing", labels=["kind"])
    duration = HistogramMetricFamily(
        "syndicate_fetch_duration_seconds", "Duration of feed fetches (fetch, parse, store)", labels=["status"]
    )
    # a folded run of quiet polls (repeats > 1) counts as that many fetches, each at the run's first duration
    buckets = [func.sum(case((FetchLog.duration_ms <= limit, FetchLog.repeats), else_=0)) for limit in DURATION_BUCKETS_MS]
    query = select(
        FetchLog.status,
        FetchLog.reason,
        func.sum(FetchLog.repeats),
        func.sum(FetchLog.duration_ms * FetchLog.repeats),
        func.sum(FetchLog.new_items),
        func.sum(FetchLog.updated_items),
        func.sum(FetchLog.duplicates),
        *buckets,
    ).group_by(FetchLog.status, FetchLog.reason)
    totals = {"new": 0, "updated": 0, "duplicates": 0}
    by_status: dict[str, list[float]] = {}
    for fetch_status, reason, count, ms, n_new, n_updated, n_dup, *in_bucket in session.execute(query):
        fetches.add_metric([fetch_status, reason or ""], count)
        totals["new"] += n_new or 0
        totals["updated"] += n_updated or 0
        totals["duplicates"] += n_dup or 0
        acc = by_status.setdefault(fetch_status, [0.0] * (len(DURATION_BUCKETS_MS) + 2))
        acc[0] += count
        acc[1] += (ms or 0) / 1000
        for i, n in enumerate(in_bucket):
            acc[2 + i] += n or 0
    for fetch_status, (count, seconds, *in_bucket) in sorted(by_status.items()):
        edges = [(str(limit / 1000), n) for limit, n in zip(DURATION_BUCKETS_MS, in_bucket)] + [("+Inf", count)]
        duration.add_metric([fetch_status], edges, seconds)
    new.add_metric([], totals["new"])
    updated.add_metric([], totals["updated"])
    duplicates.add_metric(["stored"], totals["duplicates"])
    return [fetches, duration, new, updated, duplicates]


def content_families(totals: counts.Counts) -> list[Metric]:
    articles = GaugeMetricFamily("syndicate_articles", "Articles in the database", value=totals.articles)
    clusters = GaugeMetricFamily("syndicate_clusters", "Stories (clusters of the same article)", value=totals.clusters)
    story = GaugeMetricFamily(
        "syndicate_story_duplicates", "Articles that repeat a story another article already tells", value=totals.story_duplicates
    )
    return [articles, clusters, story]


def delay_family(session: Session, now: datetime) -> Metric:
    """The observed delay from an article's ``published_at`` to its ``first_seen_at``, for the articles published in
    the last week (a window, hence a gauge histogram: ``histogram_quantile`` reads it without ``rate``). Articles
    published before their source was registered are its backlog, not a delay; a date in the future counts as 0."""
    if session.get_bind().dialect.name == "postgresql":
        delay = func.greatest(0, func.extract("epoch", Article.first_seen_at - Article.published_at))
    else:
        delay = func.max(0, (func.julianday(Article.first_seen_at) - func.julianday(Article.published_at)) * 86400)
    buckets = [func.sum(case((delay <= limit, 1), else_=0)) for limit in DELAY_BUCKETS_S]
    query = (
        select(func.count(), func.sum(delay), *buckets)
        .select_from(Article)
        .join(Source, Source.id == Article.source_id)
        .where(Article.published_at >= now - DELAY_WINDOW, Article.published_at >= Source.created_at)
    )
    count, total, *in_bucket = session.execute(query).one()
    family = GaugeHistogramMetricFamily(
        "syndicate_ingest_delay_seconds",
        "Delay from an article's publication to its first appearance here, articles published in the last 7 days",
    )
    edges = [(str(float(limit)), n or 0) for limit, n in zip(DELAY_BUCKETS_S, in_bucket)] + [("+Inf", count or 0)]
    family.add_metric([], edges, total or 0)
    return family


def websub_families(session: Session) -> list[Metric]:
    """Subscriptions of the WebSub hub by state, and those whose last delivery failed."""
    from syndicate.models import WebSubSubscription as Sub

    by_state = GaugeMetricFamily("syndicate_websub_subscriptions", "WebSub subscriptions by state", labels=["state"])
    for state, count in session.execute(select(Sub.state, func.count()).group_by(Sub.state)):
        by_state.add_metric([state], count)
    failing = session.scalar(select(func.count()).select_from(Sub).where(Sub.failures > 0)) or 0
    return [
        by_state,
        GaugeMetricFamily("syndicate_websub_failing_subscriptions", "Subscriptions whose last delivery failed", value=failing),
    ]


def source_families(summary: status.Summary, rows: list, now: datetime, broken_after: float) -> list[Metric]:
    by_state = GaugeMetricFamily("syndicate_sources", "Sources by state", labels=["state"])
    for state in status.STATES:
        by_state.add_metric([state], summary.count(state))
    broken = GaugeMetricFamily(
        "syndicate_sources_broken",
        "Sources failing longer than the alert threshold (broken or gone)",
        value=summary.count("broken") + summary.count("gone"),
    )
    today = GaugeMetricFamily("syndicate_articles_today", "Articles first seen today (Europe/Berlin)", value=summary.articles_today)
    return [by_state, broken, today]


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def metric_rows(session: Session) -> list[tuple]:
    """Every source as a plain tuple ``(id, city, enabled, error_count, reason, failing_since, http_status,
    last_success_at)``: what its state needs (``states.state_of``) and its two series; of the timestamps only
    the last success, and the first error for failing sources. Whole rows (``status.source_rows``: four
    timestamps, URL, titles) as ORM rows, read by attribute, were a third of a scrape with 5,928 sources."""
    failing_since = case((Source.error_count > 0, func.coalesce(Source.first_error_at, Source.last_checked_at)))
    query = select(
        Source.id,
        City.slug,
        Source.enabled,
        Source.error_count,
        Source.last_error_reason,
        failing_since,
        Source.last_http_status,
        Source.last_success_at,
    ).join(City, Source.city_id == City.id)
    return [tuple(row) for row in session.connection().execute(query)]


def summarise(session: Session, rows: list[tuple], now: datetime, broken_after: float, totals: counts.Counts | None) -> status.Summary:
    """``status.summarise`` from ``metric_rows``: the states worked out from plain values."""
    states = [
        state_of(enabled, error_count, reason, since, http_status, success is not None, now, broken_after)
        for _, _, enabled, error_count, reason, since, http_status, success in rows
    ]
    counted = status.count_states(session, [row[0] for row in rows], states, now, broken_after)
    return status.summarise(session, now, broken_after, counted.problem_rows, totals, counted.problem_states, counted.by_state)


def per_source_text(rows: list[tuple]) -> bytes:
    """The two series per source (last success, consecutive errors) in the text format, written here: with
    Bavaria's ~6,000 sources prometheus_client's generic exposition of these 12,000 samples was most of a
    scrape's time (bench/year.py). Same lines as ``generate_latest`` writes for a gauge family."""
    success, errors = [], []
    cities: dict[str, str] = {}  # a city's escaped label, once per city
    error_counts: dict[int, str] = {}  # an error count as Go writes it, once per value
    for source_id, city_slug, _, error_count, _, _, _, last_success in rows:
        city = cities.get(city_slug)
        if city is None:
            city = cities[city_slug] = _label(city_slug)
        count = error_counts.get(error_count)
        if count is None:
            count = error_counts[error_count] = floatToGoString(error_count)
        labels = f'{{source_id="{source_id}",city="{city}"}}'
        if last_success is not None:
            success.append(f"syndicate_source_last_success_timestamp_seconds{labels} {floatToGoString(last_success.timestamp())}\n")
        errors.append(f"syndicate_source_consecutive_errors{labels} {count}\n")
    return "".join(
        [
            "# HELP syndicate_source_last_success_timestamp_seconds Last successful fetch per source\n",
            "# TYPE syndicate_source_last_success_timestamp_seconds gauge\n",
            *success,
            "# HELP syndicate_source_consecutive_errors Failed fetches since the last success\n",
            "# TYPE syndicate_source_consecutive_errors gauge\n",
            *errors,
        ]
    ).encode()


def runtime_families(summary: status.Summary | None, scrape: Scrape) -> list[Metric]:
    families: list[Metric] = [GaugeMetricFamily("syndicate_broker_up", "Broker reachable", value=0 if scrape.broker_error else 1)]
    depth = GaugeMetricFamily("syndicate_queue_depth", "Messages waiting in a Celery queue", labels=["queue"])
    for queue, count in sorted(scrape.queues.items()):
        depth.add_metric([queue], count)
    families.append(depth)
    families.append(GaugeMetricFamily("syndicate_workers_online", "Celery workers that answered", value=len(scrape.workers.workers)))
    active = GaugeMetricFamily("syndicate_worker_active_tasks", "Tasks a worker runs now", labels=["hostname"])
    processed = GaugeMetricFamily("syndicate_worker_processed_tasks", "Tasks a worker has run since it started", labels=["hostname"])
    for worker in scrape.workers.workers:
        active.add_metric([worker.hostname], worker.active)
        processed.add_metric([worker.hostname], worker.processed)
    families += [active, processed]
    if summary is not None and summary.last_beat_tick is not None:
        families.append(GaugeMetricFamily("syndicate_beat_lag_seconds", "Age of the last beat tick", value=summary.beat_age_seconds))
        families.append(
            GaugeMetricFamily(
                "syndicate_beat_last_tick_timestamp_seconds", "Time of the last beat tick", value=summary.last_beat_tick.timestamp()
            )
        )
    firing = GaugeMetricFamily("syndicate_alert_active", "Active alerts by name (number of subjects)", labels=["alert"])
    for name in alerts.NAMES:
        firing.add_metric([name], sum(1 for alert in scrape.alert_list if alert.name == name))
    families.append(firing)
    return families


class _Families:
    def __init__(self, families: list[Metric]):
        self.families = families

    def collect(self):
        return iter(self.families)


def render(
    session: Session, scrape: Scrape, summary: status.Summary | None, rows: list, broken_after: float, totals: counts.Counts | None = None
) -> bytes:
    """The exposition; ``summary`` is None when the database did not answer (then only runtime metrics)."""
    families: list[Metric] = [GaugeMetricFamily("syndicate_database_up", "Database reachable", value=0 if summary is None else 1)]
    if summary is not None:
        totals = totals or counts.count(session)
        families += fetch_families(session) + content_families(totals) + source_families(summary, rows, scrape.now, broken_after)
        families.append(delay_family(session, scrape.now))
        try:
            families += websub_families(session)
        except (ImportError, SQLAlchemyError) as exc:  # the hub's table is newer than some databases
            session.rollback()
            log.debug("no WebSub metrics: %s", exc)
    families += runtime_families(summary, scrape)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(families))
    return generate_latest(registry) + (per_source_text(rows) if summary is not None else b"")


def scrape(
    session: Session,
    settings: Settings,
    probe,
    alert_state: alerts.AlertState,
    now: datetime | None = None,
    cache: counts.CountCache | None = None,
) -> bytes:
    """One scrape: database numbers (if it answers), broker and workers, alerts (logged by ``alert_state``);
    ``cache``: the web process's whole-table counts."""
    now = now or utcnow()
    totals = None
    try:
        rows = metric_rows(session)
        totals = cache.get(session) if cache else counts.count(session)
        summary = summarise(session, rows, now, settings.ops_failing_alert_after, totals)
    except SQLAlchemyError as exc:
        session.rollback()
        log.warning("metrics without the database: %s", exc)
        rows, summary = [], None
    broker_error, depths, workers = status.broker_view(settings, probe)
    alert_list = alert_state.check(summary, depths, settings, now) if summary is not None else []
    return render(session, Scrape(now, depths, broker_error, workers, alert_list), summary, rows, settings.ops_failing_alert_after, totals)
