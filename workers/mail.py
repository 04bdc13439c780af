"""E-mail delivery (queue "mail"): a beat task finds the due subscriptions and queues one delivery per
subscriber; each delivery claims, sends and marks its batch (syndicate.mail.delivery explains why that
never sends a story twice). Without SYNDICATE_SMTP_URL and SYNDICATE_MAIL_FROM nothing is queued."""

from __future__ import annotations

import logging

import celeryconfig
from syndicate.clock import utcnow
from syndicate.mail import delivery
from workers.app import app
from workers.tasks import TRANSIENT, runtime

log = logging.getLogger("syndicate.worker")


@app.task(name="syndicate.mail_tick")
def mail_tick() -> int:
    rt = runtime()
    if not rt.settings.mail_enabled:
        return 0
    with rt.sessions() as session:
        due = delivery.due(session, utcnow(), rt.settings)
    for subscription_id in due:
        deliver_mail.delay(subscription_id)
    return len(due)


@app.task(
    name="syndicate.mail_deliver",
    acks_late=True,
    autoretry_for=(delivery.TemporaryMailError, *TRANSIENT),
    retry_backoff=celeryconfig.RETRY_BACKOFF,
    retry_backoff_max=celeryconfig.RETRY_BACKOFF_MAX,
    retry_jitter=True,
    max_retries=celeryconfig.MAIL_RETRY_MAX,
    soft_time_limit=celeryconfig.MAIL_SOFT_TIME_LIMIT,
    time_limit=celeryconfig.MAIL_TIME_LIMIT,
)
def deliver_mail(subscription_id: int) -> str:
    """Safe to run twice and to retry: a batch claimed by a run still in progress is left alone, a released
    or stale one is re-sent with its Message-ID, and a sent one is never claimed again."""
    rt = runtime()
    with rt.sessions() as session:
        outcome = delivery.deliver(session, subscription_id, utcnow(), rt.settings)
    if outcome.status in ("sent", "suspended"):
        log.info("mail %s: subscription %d, %d stories", outcome.status, subscription_id, outcome.stories)
    return outcome.status


@app.task(
    name="syndicate.mail_confirmation",
    acks_late=True,
    autoretry_for=(delivery.TemporaryMailError, *TRANSIENT),
    retry_backoff=celeryconfig.RETRY_BACKOFF,
    retry_backoff_max=celeryconfig.RETRY_BACKOFF_MAX,
    retry_jitter=True,
    max_retries=celeryconfig.MAIL_RETRY_MAX,
    soft_time_limit=celeryconfig.MAIL_SOFT_TIME_LIMIT,
    time_limit=celeryconfig.MAIL_TIME_LIMIT,
)
def send_confirmation(subscription_id: int, message: str) -> bool:
    """A confirmation the web process could not send at once; sent again by a redelivery at worst, which
    a confirmation may be (its link works once)."""
    rt = runtime()
    with rt.sessions() as session:
        try:
            return delivery.send_confirmation(session, rt.settings, subscription_id, message)
        except delivery.PermanentMailError:
            return False
