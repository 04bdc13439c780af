"""Delivery: which subscriptions are due, and one mail per subscriber with the stories not yet sent.

Each story goes out once per subscription, ever, even across crashes and retries. ``deliver`` works
in three steps:

1. In one transaction it *claims* the batch: a ``mail_sent`` row per story, unique per (subscription,
   story), all carrying the mail's Message-ID, ``sent_at`` empty. Two runs racing for the same
   subscription cannot both claim a story: the second one's insert violates the unique constraint and
   its transaction rolls back with nothing sent.
2. It sends the mail over SMTP.
3. It marks the rows sent (and the subscription's ``last_sent_at``) in a second transaction.

A run that finds claimed but unsent rows re-sends exactly those stories with the same Message-ID
instead of claiming new ones — but only when the claim is older than CLAIM_LEASE (longer than a task
may run), so a run still busy with its SMTP conversation is never doubled. A temporary SMTP failure
(down, 4xx) releases the claim at once, so the task's retry sends the batch when the server is back;
a worker killed before sending leaves a claim that the next run after the lease sends. Nothing is
lost and nothing is doubled, except in the one window SMTP cannot close: a worker killed after the
server accepted the mail and before step 3 committed. Then the same mail (same Message-ID, so
mail programs that de-duplicate show it once) is sent again after the lease.

A permanent refusal of the recipient (5xx) suspends the subscription and drops its claim.
"""

from __future__ import annotations

import email
import email.policy
import smtplib
import ssl
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from syndicate.mail import messages
from syndicate.mail.subscriptions import feed_query, unsubscribe_token
from syndicate.models import Cluster, MailSent, MailSubscription
from syndicate.publish.feeds import article_filter, items_for, load_items
from syndicate.settings import Settings

BERLIN = ZoneInfo("Europe/Berlin")
CLAIM_LEASE = timedelta(minutes=30)  # above the mail task's hard time limit (celeryconfig.MAIL_TIME_LIMIT)
RELEASED = datetime(2000, 1, 1, tzinfo=UTC)  # the claim time of a batch whose send failed for the moment: retry at once


class TemporaryMailError(RuntimeError):
    """The SMTP server is unreachable or answered 4xx: retry later, nothing lost."""


class PermanentMailError(RuntimeError):
    """The server refused the recipient for good (5xx)."""


@dataclass(frozen=True)
class Outcome:
    status: str  # sent | nothing | busy | suspended | gone
    stories: int = 0
    message_id: str | None = None


# ---------------------------------------------------------------- SMTP


def send(settings: Settings, message: EmailMessage) -> None:
    """One SMTP conversation: ``smtp://`` uses STARTTLS when the server offers it, ``smtps://`` TLS from the start."""
    url = urlsplit(settings.smtp_url)
    host, port = url.hostname or "127.0.0.1", url.port
    try:
        if url.scheme == "smtps":
            client: smtplib.SMTP = smtplib.SMTP_SSL(host, port or 465, timeout=settings.mail_timeout, context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(host, port or 25, timeout=settings.mail_timeout)
        with client:
            client.ehlo()
            if url.scheme == "smtp" and client.has_extn("starttls"):
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
            if url.username:
                client.login(unquote(url.username), unquote(url.password or ""))
            client.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        if codes and all(code >= 500 for code in codes):
            raise PermanentMailError(f"recipient refused: {codes}") from exc
        raise TemporaryMailError(f"recipient deferred: {codes}") from exc
    except smtplib.SMTPResponseException as exc:
        # only a refused recipient says something about the subscription; a refused sender or message is the
        # operator's to fix, and the batch waits for it in the retries
        raise TemporaryMailError(f"SMTP {exc.smtp_code}") from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise TemporaryMailError(str(exc) or type(exc).__name__) from exc


def sender_domain(settings: Settings) -> str:
    return parseaddr(settings.mail_from)[1].rpartition("@")[2] or "localhost"


# ---------------------------------------------------------------- what is due


def due(session: Session, now: datetime, settings: Settings) -> list[int]:
    """Active subscriptions to deliver to in this tick: every ``sofort`` one; ``taeglich`` ones in the digest hour
    (Europe/Berlin) when nothing went out today; ``woechentlich`` ones on the digest weekday in that hour likewise."""
    local = now.astimezone(BERLIN)
    rows = session.execute(
        select(MailSubscription.id, MailSubscription.rhythm, MailSubscription.last_sent_at, MailSubscription.confirmed_at)
        .where(MailSubscription.state == "active")
        .order_by(MailSubscription.id)
    ).all()
    start_of_day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    # a ``sofort`` subscriber is due only when some story was stored after their last mail (or confirmation):
    # idle ticks then queue nothing, however many subscribers there are. A batch left claimed by a killed
    # worker holds such a story too, so it stays due until the batch is sent.
    newest = session.scalar(select(func.max(Cluster.created_at)))
    ids = []
    for sub_id, rhythm, last_sent, confirmed in rows:
        if rhythm == "sofort":
            if newest is not None and newest >= (last_sent or confirmed or newest):
                ids.append(sub_id)
            continue
        if local.hour != settings.mail_digest_hour:
            continue
        if rhythm == "woechentlich" and local.weekday() != settings.mail_digest_weekday:
            continue
        if last_sent is None or last_sent.astimezone(BERLIN) < start_of_day:
            ids.append(sub_id)
    return ids


# ---------------------------------------------------------------- one subscriber


def _claim(session: Session, sub: MailSubscription, now: datetime, settings: Settings) -> tuple[str, list[int]] | None:
    """The batch to send: a stale claim again, else the feed's newest stories not sent yet (stored after confirmation)."""
    open_rows = session.execute(
        select(MailSent.message_id, MailSent.cluster_id, MailSent.claimed_at).where(
            MailSent.subscription_id == sub.id, MailSent.sent_at.is_(None)
        )
    ).all()
    if open_rows:
        if any(claimed > now - CLAIM_LEASE for _, _, claimed in open_rows):
            return None  # another run is sending it right now
        message_id = open_rows[0][0]
        return message_id, [cluster_id for mid, cluster_id, _ in open_rows if mid == message_id]
    query, _ = feed_query(session, sub.feed, settings.public_url)
    items = load_items(session, replace(query, limit=settings.mail_batch))
    ids = [item.cluster_id for item in items]
    if not ids:
        return "", []
    sent = set(session.scalars(select(MailSent.cluster_id).where(MailSent.subscription_id == sub.id, MailSent.cluster_id.in_(ids))))
    since = sub.confirmed_at or sub.created_at
    fresh = set(session.scalars(select(Cluster.id).where(Cluster.id.in_(ids), Cluster.created_at >= since)))
    new = [i for i in ids if i not in sent and i in fresh]
    if not new:
        return "", []
    message_id = messages.new_message_id(sender_domain(settings))
    session.add_all(MailSent(subscription_id=sub.id, cluster_id=i, message_id=message_id, claimed_at=now) for i in new)
    return message_id, new


def compose(
    session: Session, sub: MailSubscription, message_id: str, cluster_ids: list[int], now: datetime, settings: Settings
) -> EmailMessage:
    query, meta = feed_query(session, sub.feed, settings.public_url)
    clusters = session.scalars(
        select(Cluster).where(Cluster.id.in_(cluster_ids)).order_by(Cluster.published_at.desc(), Cluster.id.desc())
    ).all()
    base = settings.public_url.rstrip("/")
    stories = [
        messages.Story(item.article.title, f"{base}/stories/{item.cluster_id}", item.city.name, item.published_at, item.article.text or "")
        for item in items_for(session, clusters, article_filter(session, query))
    ]
    domain = sender_domain(settings)
    return messages.delivery(
        settings.mail_from,
        sub.address,
        meta.title,
        stories,
        now,
        message_id,
        f"{meta.title} <{sub.feed.split('?')[0].strip('/').replace('/', '.')}.{domain}>",
        f"{base}/abo/abmelden/{unsubscribe_token(settings, sub)}",
        f"{base}{sub.feed}",
    )


def deliver(session: Session, subscription_id: int, now: datetime, settings: Settings) -> Outcome:
    """Send one subscriber the stories due to them (see the module's docstring for why this never doubles)."""
    sub = session.get(MailSubscription, subscription_id)
    if sub is None or sub.state != "active":
        session.rollback()
        return Outcome("gone")
    claimed = _claim(session, sub, now, settings)
    if claimed is None:
        session.rollback()
        return Outcome("busy")
    message_id, cluster_ids = claimed
    if not cluster_ids:
        session.rollback()
        return Outcome("nothing")
    try:
        session.commit()  # step 1: the claim is durable before a byte goes out
    except IntegrityError:  # a run racing for the same subscription claimed these stories first
        session.rollback()
        return Outcome("busy")
    message = compose(session, sub, message_id, cluster_ids, now, settings)
    claim = (MailSent.subscription_id == sub.id, MailSent.message_id == message_id, MailSent.sent_at.is_(None))
    try:
        send(settings, message)  # step 2
    except TemporaryMailError:
        session.execute(update(MailSent).where(*claim).values(claimed_at=RELEASED))
        session.commit()
        raise
    except PermanentMailError:
        session.execute(MailSent.__table__.delete().where(*claim))
        sub.state = "suspended"
        session.commit()
        return Outcome("suspended", len(cluster_ids), message_id)
    session.execute(update(MailSent).where(*claim).values(sent_at=now))  # step 3
    sub.last_sent_at = now
    session.commit()
    return Outcome("sent", len(cluster_ids), message_id)


def send_confirmation(session: Session, settings: Settings, subscription_id: int, raw: str) -> bool:
    """A confirmation mail the web process could not hand over (the server was down), sent by a worker with retries.
    Only while its sign-up is still pending: a deleted or confirmed one gets nothing. False when nothing was sent."""
    sub = session.get(MailSubscription, subscription_id)
    if sub is None or sub.state != "pending":
        return False
    send(settings, email.message_from_string(raw, policy=email.policy.default))
    return True
