"""Thin tasks that take IDs; safe to run twice (the refresh re-reads the source, upserts do the rest)."""

from __future__ import annotations

import logging

from celery.signals import worker_process_shutdown, worker_ready, worker_shutdown
from kombu.exceptions import OperationalError as BrokerOperationalError
from sqlalchemy.exc import OperationalError

import celeryconfig
from syndicate import alerts, due, queues, refresh, status, websub, workerinfo
from syndicate.clock import utcnow
from syndicate.runtime import Runtime
from workers.app import app

log = logging.getLogger("syndicate.worker")
_runtime: Runtime | None = None
_heartbeat: workerinfo.Heartbeat | None = None
_alert_state = alerts.AlertState()  # per process: the queue trend and which alerts were logged


def runtime() -> Runtime:
    global _runtime
    if _runtime is None:
        _runtime = Runtime()
    return _runtime


@worker_process_shutdown.connect
def _close(**_kwargs) -> None:
    if _runtime is not None:
        _runtime.close()


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


@app.task(
    name="syndicate.refresh_source", acks_late=True, autoretry_for=TRANSIENT,
    retry_backoff=celeryconfig.RETRY_BACKOFF, retry_backoff_max=celeryconfig.RETRY_BACKOFF_MAX,
    retry_jitter=True, max_retries=celeryconfig.RETRY_MAX,
)
def refresh_source(source_id: int) -> dict:
    rt = runtime()
    with rt.sessions() as session:
        outcome = refresh.refresh_source(session, rt.client, source_id, rt.refresh_config)
    log.info("refresh source=%s status=%s new=%s reason=%s", source_id, outcome.status, outcome.new, outcome.reason)
    return outcome.as_dict()


@app.task(name="syndicate.enqueue_due")
def enqueue_due() -> int:
    rt = runtime()
    now = utcnow()
    with rt.sessions() as session:
        ids = due.claim_due(session, now)
        for source_id in ids:  # rows are committed before the tasks are sent
            refresh_source.apply_async((source_id,))
        due.record_tick(session, now, len(ids))
    return len(ids)


@app.task(name="syndicate.check_alerts")
def check_alerts() -> list[str]:
    """Evaluate the alerts and log them (see syndicate.alerts); returns the active ones."""
    rt = runtime()
    with rt.sessions() as session:
        summary = status.summarise(session, broken_after=rt.settings.ops_failing_alert_after)
    try:
        depths = queues.depth(rt.settings.broker_url)
    except queues.QueueError as exc:
        log.warning("queue depth unknown: %s", exc)
        depths = {}
    return [alert.key for alert in _alert_state.check(summary, depths, rt.settings)]


@app.task(name="syndicate.websub_verify", acks_late=True)
def websub_verify(subscription_id: int) -> str:
    """Verification of intent for one (un)subscription request."""
    rt = runtime()
    with rt.sessions() as session:
        return websub.verify(session, rt.client, subscription_id)


@app.task(name="syndicate.websub_fanout")
def websub_fanout() -> int:
    """One delivery task per subscription whose feed changed; expired leases are dropped."""
    rt = runtime()
    with rt.sessions() as session:
        websub.expire(session)
        ids = websub.changed(session, rt.settings.public_url)
    for subscription_id in ids:
        websub_deliver.apply_async((subscription_id,))
    return len(ids)


@app.task(
    name="syndicate.websub_deliver", acks_late=True, autoretry_for=(websub.DeliveryFailed,),
    retry_backoff=30, retry_backoff_max=3600, retry_jitter=True, max_retries=8,
)
def websub_deliver(subscription_id: int) -> str:
    """POST the changed feed to one subscriber; a refused delivery is retried with exponential backoff."""
    rt = runtime()
    with rt.sessions() as session:
        return websub.deliver(session, rt.client, subscription_id, rt.settings.public_url)


@app.task(name="syndicate.reclassify")
def reclassify() -> dict:
    """Recompute every stored article's topic memberships with the current rules (after `sources sync`)."""
    from syndicate import topics

    rt = runtime()
    with rt.sessions() as session:
        report = topics.reclassify(session)
    log.info("reclassify articles=%s changed=%s added=%s removed=%s", report.articles, report.changed, report.added, report.removed)
    return report.as_dict()
