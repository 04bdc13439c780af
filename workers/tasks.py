"""Thin tasks that take IDs; safe to run twice (a refresh runs under its source's lease, upserts do the rest)."""

from __future__ import annotations

import gc
import logging
import time
from collections import Counter
from contextlib import ExitStack
from datetime import datetime, timedelta
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import beat_init, worker_init, worker_process_shutdown, worker_ready, worker_shutdown
from kombu.exceptions import OperationalError as BrokerOperationalError
from sqlalchemy.exc import OperationalError

import celeryconfig
from syndicate.clock import utcnow
from syndicate.ingest import due, push, refresh
from syndicate.ops import alerts, queues, watch
from syndicate.ops import workers as workerinfo
from syndicate.publish import static, websub
from syndicate.reader import german
from syndicate.runtime import Runtime
from syndicate.settings import get_settings
from workers.app import app

log = logging.getLogger("syndicate.worker")
_runtime: Runtime | None = None
_heartbeat: workerinfo.Heartbeat | None = None
_alert_state = alerts.AlertState()  # per process: the queue trend
_topic_versions = websub.TopicVersions()  # per process: which WebSub topics' feeds changed since the last fan-out


def runtime() -> Runtime:
    global _runtime
    if _runtime is None:
        _runtime = Runtime()
    return _runtime


GC_YOUNG = 25000  # allocations between young-generation collections (Python's default: 700)


@worker_init.connect
def _prepare(**_kwargs) -> None:
    """Before the pool starts (prefork children inherit it): httpx's one INFO line per request is
    noise next to our own refresh line, and the text folding table and the HTTP client (its TLS context
    reads the whole CA bundle) are built once, not in the first task. The client holds no connection
    (none is kept alive), so prefork children may share what the parent built.

    The garbage collector then leaves the imported code alone: the worker's modules are some
    hundreds of thousands of objects that live as long as the process, and every full collection
    walked them all (about a tenth of an ingest's CPU time, measured with gc.callbacks). Frozen,
    they are never scanned; storing a document allocates many short-lived objects, so the young
    generation is collected every 25,000 allocations rather than every 700 (first ingest of 10,000
    entries, bench/ingest_inprocess.py: 9 young collections, 0.1 s, instead of 92 and 0.3 s at 7,000)."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    german.fold("é")
    _ = runtime().client
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG, *gc.get_threshold()[1:])


@worker_process_shutdown.connect
def _close(**_kwargs) -> None:
    if _runtime is not None:
        _runtime.close()


@beat_init.connect
@worker_ready.connect
def _warn_about_settings(**_kwargs) -> None:
    """Once per worker or beat, after Celery set up logging: settings an operator should fix."""
    for warning in get_settings().startup_warnings():
        log.warning("%s", warning)


@worker_ready.connect
def _start_heartbeat(sender=None, **_kwargs) -> None:
    """Heartbeat files let the dashboard see workers where broadcasts cannot reach them (embedded broker)."""
    global _heartbeat
    _heartbeat = workerinfo.Heartbeat(workerinfo.heartbeat_dir(runtime().settings.var_dir), sender.hostname)
    _heartbeat.start()


@worker_shutdown.connect
def _stop_heartbeat(**_kwargs) -> None:
    if _heartbeat is not None:
        _heartbeat.stop()


TRANSIENT = (OperationalError, BrokerOperationalError)  # database locked/unreachable, broker connection lost


RETRYING: dict[str, Any] = dict(
    acks_late=True,
    autoretry_for=TRANSIENT,
    retry_backoff=celeryconfig.RETRY_BACKOFF,
    retry_backoff_max=celeryconfig.RETRY_BACKOFF_MAX,
    retry_jitter=True,
    max_retries=celeryconfig.RETRY_MAX,
)


@app.task(name="syndicate.refresh_source", **RETRYING)
def refresh_source(source_id: int, token: str | None = None) -> dict:
    """``token``: the beat's claim (syndicate.ingest.due); none for a manual refresh, which takes a free lease."""
    return _refresh_one(refresh_source, source_id, token).as_dict()


@app.task(
    name="syndicate.refresh_sources",
    soft_time_limit=celeryconfig.BATCH_SOFT_TIME_LIMIT,
    time_limit=celeryconfig.BATCH_TIME_LIMIT,
    **RETRYING,
)
def refresh_sources(source_ids: list[int], token: str) -> dict:
    """One beat message for several claimed sources, polled in groups of ``refresh_group``: each
    source of a group under its own lease, fetched and read one after the other, then the group
    stored in one transaction (``refresh.refresh_sources``).

    A retry (a transient error) runs the whole list again: the sources already done are released
    and no longer due, so their ``take`` refuses and they are skipped. Any other error in a group
    runs its sources again one by one; an error there is one source's crash: logged with its
    traceback, the source backed off (``RunLease.fail``), and the batch goes on with the next
    source. After ``batch_budget`` seconds the sources not yet started go back to the queue in a
    new message with the same claim, so no task runs long whatever its hosts do.
    """
    counts: Counter[str] = Counter()
    started, size = time.monotonic(), runtime().settings.refresh_group
    for n in range(0, len(source_ids), size):
        if n and time.monotonic() - started > runtime().settings.batch_budget:
            rest = source_ids[n:]
            refresh_sources.apply_async((rest, token))
            log.info("refresh batch handed on: %s sources after %.0f s", len(rest), time.monotonic() - started)
            counts["handed_on"] += len(rest)
            break
        counts.update(_refresh_group(refresh_sources, source_ids[n : n + size], token))
    return dict(counts)


def _refresh_group(task, source_ids: list[int], token: str) -> Counter:
    """Statuses of one group's refreshes (``crashed`` for a source whose refresh raised)."""
    rt, statuses = runtime(), Counter[str]()
    leases = {}
    wanted = [_lease(source_id, token) for source_id in source_ids]
    for lease, taken in zip(wanted, due.take_all(wanted, utcnow())):  # one transaction for the group
        if taken:
            leases[lease.source_id] = lease
        else:
            _skipped(lease.source_id, token)
            statuses["skipped"] += 1
    if len(leases) > 1:
        current: list[int | None] = [None]
        try:
            with ExitStack() as held:
                for lease in leases.values():
                    held.enter_context(lease.renewed())
                session = held.enter_context(rt.sessions())
                outcomes = refresh.refresh_sources(
                    session,
                    rt.client,
                    list(leases),
                    rt.refresh_config,
                    before_commit={i: lease.release_in for i, lease in leases.items()},
                    polling=lambda source_id: current.__setitem__(0, source_id),
                )
        except (*TRANSIENT, SoftTimeLimitExceeded) as exc:  # retried as a whole / the task's time is up
            retrying = isinstance(exc, TRANSIENT) and (task.request.retries or 0) < task.max_retries
            for source_id, lease in leases.items():  # out of time: the source being polled is backed off, the others queued
                lease.fail(utcnow(), retrying=retrying or source_id != current[0])
            raise
        except Exception:  # one source's bug must not cost the others their poll: each on its own
            log.warning("refresh group of %s sources failed; its sources run one by one", len(leases), exc_info=True)
        else:
            for outcome in outcomes:
                leases[outcome.id].release()
                _logged(outcome)
                statuses[outcome.status] += 1
            return statuses
    for source_id, lease in leases.items():
        try:
            statuses[_run_leased(task, lease, source_id).status] += 1
        except (*TRANSIENT, SoftTimeLimitExceeded):
            raise
        except Exception:  # a bug met by one source must not cost the others their poll
            log.exception("refresh source=%s status=crashed (batch goes on)", source_id)
            statuses["crashed"] += 1
    return statuses


def _lease(source_id: int, token: str | None) -> due.RunLease:
    rt = runtime()
    return due.RunLease(rt.engine, source_id, token, timedelta(seconds=rt.settings.run_lease))


def _skipped(source_id: int, token: str | None) -> refresh.RefreshOutcome:
    log.info(
        "refresh source=%s status=skipped reason=lease_held token=%s",
        source_id,
        token,
        extra={"source_id": source_id, "outcome": "skipped", "reason": "lease_held"},
    )
    return refresh.RefreshOutcome(id=source_id, url="", status="skipped", reason="lease_held")


def _logged(outcome: refresh.RefreshOutcome) -> refresh.RefreshOutcome:
    """One line per refresh: in JSON lines (SYNDICATE_LOG_FORMAT=json) its values are fields."""
    fields = {
        "source_id": outcome.id,
        "city": outcome.city,
        "outcome": outcome.status,
        "new_items": outcome.new,
        "duration_ms": outcome.duration_ms,
        **({"reason": outcome.reason} if outcome.reason else {}),
    }
    log.info(
        "refresh source=%s status=%s new=%s city=%s duration_ms=%s%s",
        outcome.id,
        outcome.status,
        outcome.new,
        outcome.city,
        outcome.duration_ms,
        f" reason={outcome.reason}" if outcome.reason else "",
        extra=fields,
    )
    return outcome


def _refresh_one(task, source_id: int, token: str | None) -> refresh.RefreshOutcome:
    lease = _lease(source_id, token)
    if not lease.take(utcnow()):  # another worker runs it, a newer claim holds it, or it is not due any more
        return _skipped(source_id, token)
    return _run_leased(task, lease, source_id)


def _run_leased(task, lease: due.RunLease, source_id: int) -> refresh.RefreshOutcome:
    rt = runtime()
    try:
        with lease.renewed(), rt.sessions() as session:
            outcome = refresh.refresh_source(session, rt.client, source_id, rt.refresh_config, before_commit=lease.release_in)
    except Exception as exc:
        request = task.request
        lease.fail(utcnow(), retrying=isinstance(exc, TRANSIENT) and (request.retries or 0) < task.max_retries)
        raise
    lease.release()
    return _logged(outcome)


@app.task(name="syndicate.enqueue_due")
def enqueue_due() -> int:
    rt = runtime()
    now = utcnow()
    lost_before = _refresh_queue_empty_since(rt.settings.broker_url)
    with rt.sessions() as session:
        claim = due.claim_due(session, now, limit=rt.settings.claim_limit, lost_before=lost_before)
        for batch in due.batches(
            claim.ids, rt.settings.refresh_batch, group=rt.settings.refresh_group
        ):  # rows are committed before the tasks are sent
            if len(batch) == 1:
                refresh_source.apply_async((batch[0], claim.token))
            else:
                refresh_sources.apply_async((batch, claim.token))
        due.record_tick(session, now, len(claim.ids))
    return len(claim.ids)


def _refresh_queue_empty_since(broker_url: str) -> datetime | None:
    """The moment the refresh queue was seen empty (queued claims made before it lost their message), or None."""
    asked = utcnow()
    try:
        empty = queues.depth(broker_url, names=("refresh",))["refresh"] == 0
    except queues.QueueError as exc:
        log.warning("queue depth unknown, lost claims wait for their lease to run out: %s", exc)
        return None
    return asked if empty else None


@app.task(name="syndicate.check_alerts")
def check_alerts() -> list[str]:
    """The ops watcher's look (syndicate/ops/watch.py): workers, beat, failing sources and alerts, each change
    logged once for the installation; returns the active alerts."""
    rt = runtime()
    seen, _changes = watch.look(rt.sessions, rt.settings, _alert_state.trend)
    return [alert.key for alert in seen.alerts.values()]


@app.task(name="syndicate.websub_verify", acks_late=True)
def websub_verify(subscription_id: int) -> str:
    """Verification of intent for one (un)subscription request."""
    rt = runtime()
    with rt.sessions() as session:
        return websub.verify(session, rt.client, subscription_id, websub.HubConfig.from_settings(rt.settings))


@app.task(name="syndicate.push_subscribe")
def push_subscribe() -> int:
    """Subscribe to (or renew at) the WebSub hubs that sources' feeds advertise (syndicate/ingest/push.py)."""
    rt = runtime()
    settings = rt.settings
    with rt.sessions() as session:
        return push.subscribe_due(
            session, rt.client, settings.public_url, settings.push_lease, timedelta(seconds=settings.push_renew_before), utcnow()
        )


@app.task(name="syndicate.write_static")
def write_static() -> int:
    """The merged feeds' first pages as files in SYNDICATE_STATIC_DIR (once per beat tick); returns files written."""
    rt = runtime()
    if rt.settings.static_dir is None:
        return 0
    with rt.sessions() as session:
        result = static.write_all(session, rt.settings.static_dir, rt.settings.public_url, rt.settings.feed_limit)
    if result.written or result.removed or result.failed:
        log.info("static feeds: %d written, %d removed, %d failed", len(result.written), len(result.removed), len(result.failed))
    return len(result.written)


@app.task(name="syndicate.websub_fanout")
def websub_fanout() -> int:
    """One delivery task per subscription whose feed changed; expired leases are dropped."""
    rt = runtime()
    with rt.sessions() as session:
        websub.expire(session)
        ids = websub.changed(session, rt.settings.public_url, _topic_versions)
    for subscription_id in ids:
        websub_deliver.apply_async((subscription_id,))
    return len(ids)


@app.task(
    name="syndicate.websub_deliver",
    acks_late=True,
    autoretry_for=(websub.DeliveryFailed,),
    retry_backoff=30,
    retry_backoff_max=3600,
    retry_jitter=True,
    max_retries=8,
)
def websub_deliver(subscription_id: int) -> str:
    """POST the changed feed to one subscriber; a refused delivery is retried with exponential backoff."""
    rt = runtime()
    with rt.sessions() as session:
        return websub.deliver(session, rt.client, subscription_id, rt.settings.public_url, websub.HubConfig.from_settings(rt.settings))


@app.task(name="syndicate.reclassify")
def reclassify() -> dict:
    """Recompute every stored article's topic memberships with the current rules (after `sources sync`)."""
    from syndicate.topics import rules as topics

    rt = runtime()
    with rt.sessions() as session:
        report = topics.reclassify(session)
    log.info("reclassify articles=%s changed=%s added=%s removed=%s", report.articles, report.changed, report.added, report.removed)
    return report.as_dict()
