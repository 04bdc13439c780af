"""E-mail delivery (queue "mail"): a beat task finds the due subscriptions and queues them in batches of
SYNDICATE_MAIL_TASK_BATCH; each batch sends its mails over one SMTP connection, claiming each mail before
and recording it right after the server accepted it (syndicate.mail.delivery explains why that never sends
a story twice). Without SYNDICATE_SMTP_URL and SYNDICATE_MAIL_FROM nothing is queued."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import celeryconfig
from syndicate.clock import utcnow
from syndicate.mail import delivery, transport
from workers.app import app
from workers.tasks import TRANSIENT, runtime

log = logging.getLogger("syndicate.worker")

MAIL_TASK: dict[str, Any] = {
    "acks_late": True,
    "autoretry_for": (transport.TemporaryMailError, *TRANSIENT),
    "retry_backoff": celeryconfig.RETRY_BACKOFF,
    "retry_backoff_max": celeryconfig.RETRY_BACKOFF_MAX,
    "retry_jitter": True,
    "max_retries": celeryconfig.MAIL_RETRY_MAX,
    "soft_time_limit": celeryconfig.MAIL_SOFT_TIME_LIMIT,
    "time_limit": celeryconfig.MAIL_TIME_LIMIT,
}


@app.task(name="syndicate.mail_tick")
def mail_tick() -> int:
    rt = runtime()
    if not rt.settings.mail_enabled:
        return 0
    with rt.sessions() as session:
        due = delivery.due(session, utcnow(), rt.settings)
    size = rt.settings.mail_task_batch
    for start in range(0, len(due), size):
        deliver_mail_batch.delay(due[start : start + size])
    return len(due)


@app.task(name="syndicate.mail_deliver_batch", **MAIL_TASK)
def deliver_mail_batch(subscription_ids: list[int]) -> dict[str, int]:
    """Safe to run twice and to retry: a mail claimed by a run still in progress is left alone, a released or
    stale one is re-sent with its Message-ID, and a recorded one is never claimed again."""
    rt = runtime()
    with rt.sessions() as session:
        outcomes = delivery.deliver_batch(session, subscription_ids, utcnow(), rt.settings)
    counts = dict(Counter(outcome.status for outcome in outcomes.values()))
    if counts.get("sent") or counts.get("suspended"):
        log.info("mail batch of %d subscriptions: %s", len(subscription_ids), counts)
    return counts


@app.task(name="syndicate.mail_deliver", **MAIL_TASK)
def deliver_mail(subscription_id: int) -> str:
    """One subscription: what earlier versions queued; a message still in the queue after an upgrade is a batch of one."""
    rt = runtime()
    with rt.sessions() as session:
        return delivery.deliver(session, subscription_id, utcnow(), rt.settings).status


@app.task(name="syndicate.mail_confirmation", **MAIL_TASK)
def send_confirmation(subscription_id: int, message: str) -> bool:
    """A confirmation the web process could not send at once; sent again by a redelivery at worst, which
    a confirmation may be (its link works once)."""
    rt = runtime()
    with rt.sessions() as session:
        try:
            return delivery.send_confirmation(session, rt.settings, subscription_id, message)
        except transport.PermanentMailError:
            return False
