"""Subscription data: sign-up (double opt-in), confirmation, unsubscription, cleanup.

Only the address, the feed, the rhythm, the state, a hash of the confirmation token and timestamps are
stored (DSGVO). The unsubscribe link needs no stored token: it is the subscription's id with an HMAC
over it, so every mail can carry it and the database holds nothing that would let a reader of a backup
unsubscribe anyone.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from syndicate.models import MailSent, MailSubscription
from syndicate.publish.feeds import FeedMeta, FeedQuery, UnknownFeed, describe
from syndicate.publish.websub import feed_for_topic
from syndicate.settings import Settings

RHYTHMS = {"sofort": "sofort", "taeglich": "täglich", "woechentlich": "wöchentlich"}
CONFIRM_WITHIN = timedelta(hours=48)
MAX_ADDRESS = 254
MAX_FEED = 500
# deliberately plain: one @, no spaces or control characters, a dot in the domain; the confirmation mail proves the rest
ADDRESS = re.compile(
    r"[^@\s\x00-\x1f\x7f<>,;\"]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+"
)


class SignupError(ValueError):
    """Bad input for a sign-up; the message is German and shown to the user."""


@dataclass(frozen=True)
class Signup:
    subscription_id: int
    confirm_token: str | None  # None: nothing to send (the address already follows this feed)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def clean_address(value: str) -> str:
    address = value.strip()
    if any(c in value for c in "\r\n") or len(address) > MAX_ADDRESS or not ADDRESS.fullmatch(address):
        raise SignupError("Bitte geben Sie eine gültige E-Mail-Adresse an.")
    local, _, domain = address.rpartition("@")
    return f"{local}@{domain.lower()}"


def feed_query(session: Session, feed: str, public_url: str) -> tuple[FeedQuery, FeedMeta]:
    """A feed path with its query (``/feeds/topics/x.atom?city=a``) → the merged feed it names."""
    if any(c in feed for c in "\r\n") or len(feed) > MAX_FEED or not feed.startswith("/feeds/"):
        raise SignupError("Diesen Feed gibt es bei uns nicht.")
    # WebSub's reading of a feed address, plus search feeds (the feed builder's feed when words are given)
    search = feed.startswith("/feeds/search.")
    try:
        query, _ = feed_for_topic(public_url.rstrip("/") + feed.replace("/feeds/search.", "/feeds/all.", 1), public_url)
        if search:
            if not (query.q or "").strip():
                raise UnknownFeed("a search feed without words is empty")
            query = replace(query, kind="search")
        return query, describe(session, query)
    except UnknownFeed as exc:
        raise SignupError("Diesen Feed gibt es bei uns nicht.") from exc


def signup(session: Session, address: str, feed: str, rhythm: str, public_url: str, now: datetime) -> Signup:
    """Record a pending sign-up (or renew a pending one's token); the caller sends the confirmation after commit.
    An address that already follows the feed gets nothing new — and the caller shows the same page."""
    address = clean_address(address)
    if rhythm not in RHYTHMS:
        raise SignupError("Bitte wählen Sie, wie oft Sie Post bekommen möchten: sofort, täglich oder wöchentlich.")
    feed_query(session, feed, public_url)
    sub = session.scalar(select(MailSubscription).where(MailSubscription.address == address, MailSubscription.feed == feed))
    if sub is not None and sub.state != "pending":
        return Signup(sub.id, None)
    token = secrets.token_urlsafe(32)
    if sub is None:
        sub = MailSubscription(address=address, feed=feed, rhythm=rhythm, state="pending", created_at=now)
        session.add(sub)
    sub.rhythm, sub.created_at, sub.confirm_hash = rhythm, now, hash_token(token)
    session.flush()
    return Signup(sub.id, token)


def confirm(session: Session, token: str, now: datetime) -> MailSubscription | None:
    """Activate the pending sign-up of this token; None for an unknown, used or expired token."""
    sub = session.scalar(select(MailSubscription).where(MailSubscription.confirm_hash == hash_token(token)))
    if sub is None or sub.state != "pending" or sub.created_at < now - CONFIRM_WITHIN:
        return None
    sub.state, sub.confirmed_at, sub.confirm_hash = "active", now, None
    return sub


def _key(settings: Settings) -> bytes:
    return (settings.mail_secret or f"syndicate-mail:{settings.database_url}").encode()


def unsubscribe_token(settings: Settings, sub: MailSubscription) -> str:
    """The id and an HMAC over the id and the creation time: an id that the database hands out again after
    a deletion (SQLite reuses the highest) belongs to another subscription, which the old link cannot touch."""
    signed = f"unsubscribe:{sub.id}:{sub.created_at.timestamp():.6f}"
    return f"{sub.id}-{hmac.new(_key(settings), signed.encode(), hashlib.sha256).hexdigest()[:32]}"


def subscription_for(session: Session, settings: Settings, token: str) -> MailSubscription | None:
    number, _, _ = token.partition("-")
    sub = session.get(MailSubscription, int(number)) if number.isdigit() and len(number) < 19 else None
    if sub is None or not hmac.compare_digest(unsubscribe_token(settings, sub), token):
        return None
    return sub


def unsubscribe(session: Session, settings: Settings, token: str) -> bool:
    """Delete the subscription (the address with it); False when the link names none (any more)."""
    sub = subscription_for(session, settings, token)
    if sub is None:
        return False
    # explicitly, not by ON DELETE CASCADE: SQLite enforces foreign keys only when asked to
    session.execute(delete(MailSent).where(MailSent.subscription_id == sub.id))
    session.execute(delete(MailSubscription).where(MailSubscription.id == sub.id))
    return True
