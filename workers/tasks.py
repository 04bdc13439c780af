"""Thin tasks that take IDs; safe to run twice (the refresh re-reads the source, upserts do the rest)."""

from __future__ import annotations

import logging

from celery.signals import worker_process_shutdown

from syndicate import due, refresh
from syndicate.clock import utcnow
from syndicate.runtime import Runtime
from workers.app import app

log = logging.getLogger("syndicate.worker")
_runtime: Runtime | None = None


def runtime() -> Runtime:
    global _runtime
    if _runtime is None:
        _runtime = Runtime()
    return _runtime


@worker_process_shutdown.connect
def _close(**_kwargs) -> None:
    if _runtime is not None:
        _runtime.close()


@app.task(name="syndicate.refresh_source", acks_late=True)
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
