"""The periodic maintenance task (queue "maintenance", every SYNDICATE_MAINTENANCE_INTERVAL s): retention,
fetch-log and housekeeping pruning, database upkeep — syndicate.ops.maintenance.run, the same as
``syndicate maintenance run``. Safe to run twice: every step deletes what is still there, in committed batches."""

from __future__ import annotations

import logging
import time

import celeryconfig
from syndicate.clock import utcnow
from syndicate.ops import maintenance
from workers.app import app
from workers.tasks import TRANSIENT, runtime

log = logging.getLogger("syndicate.worker")


@app.task(
    name="syndicate.maintenance",
    autoretry_for=TRANSIENT,
    retry_backoff=celeryconfig.RETRY_BACKOFF,
    retry_backoff_max=celeryconfig.RETRY_BACKOFF_MAX,
    retry_jitter=True,
    max_retries=celeryconfig.RETRY_MAX,
    soft_time_limit=celeryconfig.MAINTENANCE_SOFT_TIME_LIMIT,
    time_limit=celeryconfig.MAINTENANCE_TIME_LIMIT,
)
def run_maintenance() -> dict:
    """Deletions stop between batches after MAINTENANCE_BUDGET seconds (the thread pool of ``syndicate up``
    enforces no time limit); a backlog is worked off over the following runs."""
    rt = runtime()
    started = time.monotonic()
    with rt.sessions() as session:
        limits = maintenance.Limits.from_settings(rt.settings)
        report = maintenance.run(session, utcnow(), limits, deadline=started + celeryconfig.MAINTENANCE_BUDGET)
    log.info("maintenance %s (%.1f s)", report.summary(), time.monotonic() - started)
    return report.as_dict()
