"""Delivery: which subscriptions are due, and their mails — a batch of subscriptions at a time.

Each story goes out once per subscription, ever, even across crashes and retries. ``deliver_batch`` takes
up to SYNDICATE_MAIL_TASK_BATCH subscriptions, works out what each is due (each feed's stories loaded and
its digest rendered once per batch), opens ONE SMTP connection and then, mail by mail:

1. *claims* the mail: a ``mail_sent`` row per story, unique per (subscription, story), all carrying the
   mail's Message-ID, ``sent_at`` empty — committed before a byte of the mail goes out. A run racing for
   the same subscription cannot claim the same story: its insert violates the unique constraint, and it
   skips that subscription;
2. sends it over the batch's connection;
3. records it sent (``sent_at`` and the subscription's ``last_sent_at``) as soon as the server accepted it,
   in the same commit as the next mail's claim (or on its own after the last one): one commit per mail.

A temporary failure (server down, 4xx) releases the mail's claim at once, so the task's retry sends it when
the server is back; mails recorded before stay sent and are not sent again. A claim left behind by a killed
worker — at most ONE per running batch, the mail in flight — is sent again, with the same Message-ID, only
after SYNDICATE_MAIL_CLAIM_LEASE (longer than one mail's SMTP conversation), so a run still talking to the
server is never doubled; the other subscriptions of the killed batch hold no claim, and the next run
delivers them at once.

Nothing is lost and nothing is doubled, except in the one window SMTP cannot close: a worker killed (or the
database lost) after the server accepted a mail — its 250 answer to the data — and before the commit that
records it, a few milliseconds per mail. Then that one mail is sent again after the lease, with the same
Message-ID, so mail programs that de-duplicate show it once. A permanent refusal of the recipient (5xx)
suspends the subscription and drops its claim.
"""

from __future__ import annotations

import email
import email.policy
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from syndicate.mail import messages
from syndicate.mail.subscriptions import SignupError, feed_query, unsubscribe_token
from syndicate.mail.transport import (
    ConnectionLost,
    InsecureSmtp,
    PermanentMailError,
    SmtpConnection,
    TemporaryMailError,
    send,
)
from syndicate.models import Cluster, MailSent, MailSubscription
from syndicate.publish.feeds import FeedItem, FeedMeta, FeedQuery, article_filter, items_for, load_items
from syndicate.settings import Settings

__all__ = ["PermanentMailError", "TemporaryMailError", "deliver", "deliver_batch", "due", "send", "send_confirmation"]

BERLIN = ZoneInfo("Europe/Berlin")
RELEASED = datetime(2000, 1, 1, tzinfo=UTC)  # the claim time of a mail whose send failed for the moment: retry at once
NO_CHANGE = {"synchronize_session": False}


@dataclass(frozen=True)
class Outcome:
    status: str  # sent | nothing | busy | deferred | suspended | gone
    stories: int = 0
    message_id: str | None = None


def sender_domain(settings: Settings) -> str:
    return parseaddr(settings.mail_from)[1].rpartition("@")[2] or "localhost"


def claim_lease(settings: Settings) -> timedelta:
    return timedelta(seconds=settings.mail_claim_lease)


# ---------------------------------------------------------------- what is due


def due(session: Session, now: datetime, settings: Settings) -> list[int]:
    """Active subscriptions to deliver to in this tick, grouped by feed: every ``sofort`` one; ``taeglich`` ones in the digest hour
    (Europe/Berlin) when nothing went out today; ``woechentlich`` ones on the digest weekday in that hour likewise."""
    local = now.astimezone(BERLIN)
    rows = session.execute(
        select(MailSubscription.id, MailSubscription.rhythm, MailSubscription.last_sent_at, MailSubscription.confirmed_at)
        .where(MailSubscription.state == "active")
        .order_by(MailSubscription.feed, MailSubscription.id)  # batches cut from this list hold few feeds each
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


# ---------------------------------------------------------------- a batch


@dataclass(frozen=True)
class Mail:
    """One planned mail: to whom, which stories, under which Message-ID. ``takeover``: it re-sends a claim
    left behind (released after a temporary failure, or stale after a crash) instead of claiming new stories."""

    subscription_id: int
    address: str
    feed: str
    unsubscribe_url: str
    message_id: str
    cluster_ids: tuple[int, ...]
    takeover: bool = False


@dataclass
class FeedView:
    """A feed as this batch sees it: its newest stories (newest first) and when each was stored."""

    query: FeedQuery
    meta: FeedMeta
    items: dict[int, FeedItem]
    created: dict[int, datetime] = field(default_factory=dict)


@dataclass
class Batch:
    """What one run works with: the feeds it loaded and the digests it rendered, each once."""

    settings: Settings
    now: datetime
    feeds: dict[str, FeedView | None] = field(default_factory=dict)
    digests: dict[tuple[str, tuple[int, ...]], messages.Digest] = field(default_factory=dict)

    def feed(self, session: Session, path: str) -> FeedView | None:
        if path not in self.feeds:
            try:
                query, meta = feed_query(session, path, self.settings.public_url)
            except SignupError:  # the feed's topic or city is gone: nothing to send
                self.feeds[path] = None
                return None
            items = load_items(session, replace(query, limit=self.settings.mail_batch))
            self.feeds[path] = FeedView(query, meta, {item.cluster_id: item for item in items})
        return self.feeds[path]


def plan(session: Session, batch: Batch, subs: list[MailSubscription]) -> tuple[list[Mail], dict[int, Outcome]]:
    """The mails of these (active) subscriptions — a few queries for the whole batch — and the outcome of those that get none."""
    now, settings = batch.now, batch.settings
    ids = [sub.id for sub in subs]
    claims: dict[int, list[tuple[str, int, datetime]]] = defaultdict(list)
    for sub_id, message_id, cluster_id, claimed_at in session.execute(
        select(MailSent.subscription_id, MailSent.message_id, MailSent.cluster_id, MailSent.claimed_at).where(
            MailSent.subscription_id.in_(ids), MailSent.sent_at.is_(None)
        )
    ):
        claims[sub_id].append((message_id, cluster_id, claimed_at))
    views: dict[str, FeedView | None] = {sub.feed: batch.feed(session, sub.feed) for sub in subs if sub.id not in claims}
    loaded = [view for view in views.values() if view is not None]
    candidates = {cluster_id for view in loaded for cluster_id in view.items}
    fresh_ids = [sub.id for sub in subs if sub.id not in claims]
    sent: set[tuple[int, int]] = set()
    if candidates and fresh_ids:
        rows = session.execute(
            select(MailSent.subscription_id, MailSent.cluster_id).where(
                MailSent.subscription_id.in_(fresh_ids), MailSent.cluster_id.in_(candidates)
            )
        )
        sent = {(sub_id, cluster_id) for sub_id, cluster_id in rows}
        missing = [view for view in loaded if not view.created]
        if missing:
            created = {row[0]: row[1] for row in session.execute(select(Cluster.id, Cluster.created_at).where(Cluster.id.in_(candidates)))}
            for view in missing:
                view.created = {cluster_id: created[cluster_id] for cluster_id in view.items if cluster_id in created}
    base, domain = settings.public_url.rstrip("/"), sender_domain(settings)
    mails, outcomes = [], {}
    for sub in subs:
        unsubscribe_url = f"{base}/abo/abmelden/{unsubscribe_token(settings, sub)}"
        held = claims.get(sub.id)
        if held:
            if any(claimed_at > now - claim_lease(settings) for _, _, claimed_at in held):
                outcomes[sub.id] = Outcome("busy")  # another run is sending it right now
                continue
            message_id = held[0][0]
            cluster_ids = tuple(cluster_id for mid, cluster_id, _ in held if mid == message_id)
            mails.append(Mail(sub.id, sub.address, sub.feed, unsubscribe_url, message_id, cluster_ids, takeover=True))
            continue
        feed = views.get(sub.feed)
        since = sub.confirmed_at or sub.created_at
        created = feed.created if feed is not None else {}
        new = tuple(cluster_id for cluster_id in created if (sub.id, cluster_id) not in sent and created[cluster_id] >= since)
        if not new:
            outcomes[sub.id] = Outcome("nothing")
            continue
        mails.append(Mail(sub.id, sub.address, sub.feed, unsubscribe_url, messages.new_message_id(domain), new))
    return mails, outcomes


def compose(session: Session, batch: Batch, mail: Mail) -> EmailMessage | None:
    """The mail; None when none of its stories exists any more (a claim left behind past the stories' retention)."""
    settings = batch.settings
    view = batch.feed(session, mail.feed)
    if view is None:
        return None
    key = (mail.feed, mail.cluster_ids)
    part = batch.digests.get(key)
    if part is None:
        if all(cluster_id in view.items for cluster_id in mail.cluster_ids):
            items = [view.items[cluster_id] for cluster_id in mail.cluster_ids]
        else:  # a claim taken over: its stories may have left the feed's newest
            clusters = session.scalars(
                select(Cluster).where(Cluster.id.in_(mail.cluster_ids)).order_by(Cluster.published_at.desc(), Cluster.id.desc())
            ).all()
            items = items_for(session, clusters, article_filter(session, view.query))
        if not items:
            return None
        base = settings.public_url.rstrip("/")
        stories = [
            messages.Story(
                item.article.title, f"{base}/stories/{item.cluster_id}", item.city.name, item.published_at, item.article.text or ""
            )
            for item in items
        ]
        part = batch.digests[key] = messages.digest(view.meta.title, stories)
    domain = sender_domain(settings)
    return messages.delivery_of(
        part,
        settings.mail_from,
        mail.address,
        batch.now,
        mail.message_id,
        f"{view.meta.title} <{mail.feed.split('?')[0].strip('/').replace('/', '.')}.{domain}>",
        mail.unsubscribe_url,
        f"{settings.public_url.rstrip('/')}{mail.feed}",
    )


def _open_claim(mail: Mail):
    return (MailSent.subscription_id == mail.subscription_id, MailSent.message_id == mail.message_id, MailSent.sent_at.is_(None))


def claim(session: Session, mail: Mail, now: datetime, settings: Settings) -> bool:
    """Step 1 (not committed here). False when another run took over the same left-behind claim first;
    a race for new stories raises IntegrityError (the unique constraint)."""
    if mail.takeover:
        taken = session.execute(
            update(MailSent).where(*_open_claim(mail), MailSent.claimed_at <= now - claim_lease(settings)).values(claimed_at=now),
            execution_options=NO_CHANGE,
        )
        return bool(taken.rowcount)  # type: ignore[attr-defined]
    session.execute(
        insert(MailSent),
        [
            {"subscription_id": mail.subscription_id, "cluster_id": c, "message_id": mail.message_id, "claimed_at": now}
            for c in mail.cluster_ids
        ],
    )
    return True


def record(session: Session, mail: Mail, now: datetime) -> None:
    """Step 3 (not committed here): the server accepted the mail."""
    session.execute(update(MailSent).where(*_open_claim(mail)).values(sent_at=now), execution_options=NO_CHANGE)
    session.execute(
        update(MailSubscription).where(MailSubscription.id == mail.subscription_id).values(last_sent_at=now), execution_options=NO_CHANGE
    )


def _claim_and_record(session: Session, mail: Mail, accepted: Mail | None, batch: Batch) -> bool:
    """One commit: this mail's claim and the record of the one the server accepted just before."""
    try:
        claimed = claim(session, mail, batch.now, batch.settings)
        if accepted is not None:
            record(session, accepted, batch.now)
        session.commit()
        return claimed
    except IntegrityError:  # a run racing for the same subscription claimed these stories first
        session.rollback()
        if accepted is not None:
            record(session, accepted, batch.now)
            session.commit()
        return False


def _release(session: Session, mail: Mail) -> None:
    session.execute(update(MailSent).where(*_open_claim(mail)).values(claimed_at=RELEASED), execution_options=NO_CHANGE)
    session.commit()


def deliver_batch(session: Session, subscription_ids: list[int], now: datetime, settings: Settings) -> dict[int, Outcome]:
    """Send these subscriptions the stories due to them over one SMTP connection (see the module's docstring
    for why this never doubles). Raises TemporaryMailError after the batch when some mail could not be sent
    for the moment (its claim released), so that the task retries: the mails sent meanwhile stay sent."""
    subs = session.scalars(select(MailSubscription).where(MailSubscription.id.in_(subscription_ids)).order_by(MailSubscription.id)).all()
    outcomes = {sub_id: Outcome("gone") for sub_id in subscription_ids}
    batch = Batch(settings, now)
    mails, skipped = plan(session, batch, [sub for sub in subs if sub.state == "active"])
    outcomes.update(skipped)
    session.commit()  # the reads' transaction (expire_on_commit is off: the loaded stories stay usable)
    deferred: list[str] = []
    accepted: Mail | None = None  # accepted by the server, recorded with the next commit
    connection = SmtpConnection(settings)
    try:
        for mail in mails:
            message = compose(session, batch, mail)
            if message is None:
                session.execute(delete(MailSent).where(*_open_claim(mail)))
                session.commit()
                outcomes[mail.subscription_id] = Outcome("nothing")
                continue
            claimed = _claim_and_record(session, mail, accepted, batch)  # step 1 (and step 3 of the previous mail)
            accepted = None
            if not claimed:
                outcomes[mail.subscription_id] = Outcome("busy")
                continue
            try:
                connection.send(message)  # step 2
            except PermanentMailError:
                session.execute(delete(MailSent).where(*_open_claim(mail)))
                session.execute(
                    update(MailSubscription).where(MailSubscription.id == mail.subscription_id).values(state="suspended"),
                    execution_options=NO_CHANGE,
                )
                session.commit()
                outcomes[mail.subscription_id] = Outcome("suspended", len(mail.cluster_ids), mail.message_id)
                continue
            except (ConnectionLost, InsecureSmtp):  # the rest of the batch cannot go out either: retry it all later
                _release(session, mail)
                raise
            except TemporaryMailError as exc:  # this recipient or message, for the moment: the others go on
                _release(session, mail)
                deferred.append(str(exc))
                outcomes[mail.subscription_id] = Outcome("deferred", len(mail.cluster_ids), mail.message_id)
                continue
            accepted = mail
            outcomes[mail.subscription_id] = Outcome("sent", len(mail.cluster_ids), mail.message_id)
    finally:
        if accepted is not None:  # step 3 of the last mail, also when something after it failed
            session.rollback()
            record(session, accepted, now)
            session.commit()
        connection.close()
    if deferred:
        raise TemporaryMailError(f"{len(deferred)} mails deferred, first: {deferred[0]}")
    return outcomes


def deliver(session: Session, subscription_id: int, now: datetime, settings: Settings) -> Outcome:
    """One subscriber's mail (a batch of one)."""
    return deliver_batch(session, [subscription_id], now, settings)[subscription_id]


def send_confirmation(session: Session, settings: Settings, subscription_id: int, raw: str) -> bool:
    """A confirmation mail the web process could not hand over (the server was down), sent by a worker with retries.
    Only while its sign-up is still pending: a deleted or confirmed one gets nothing. False when nothing was sent."""
    sub = session.get(MailSubscription, subscription_id)
    if sub is None or sub.state != "pending":
        return False
    send(settings, email.message_from_string(raw, policy=email.policy.default))
    return True
