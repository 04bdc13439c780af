"""Push from publishers: our WebSub subscriptions to the hubs their feeds advertise (W3C WebSub, subscriber side).

    refresh sees rel="hub" + rel="self" in a feed   → note(): a subscription row, state wanted
    beat (syndicate.push_subscribe)                  → subscribe_due(): POST hub.mode=subscribe to the hub, with our
                                                       callback, a secret and the lease we ask for → pending
    the hub verifies: GET /websub/callback/{token}   → verify(): echo hub.challenge → active, lease_until
    the hub delivers: POST /websub/callback/{token}  → accept(): the X-Hub-Signature HMAC checked with the secret;
                                                       valid → the source is refreshed now (one refresh per
                                                       ``PUSH_DEBOUNCE`` however many deliveries)
    a lease about to end                             → subscribe_due() asks again (renewal)

While a subscription is active the source is still polled, at a low rate (``schedule.Targets.pushed``): a hub
that stops delivering costs freshness, not the articles. A delivery with a wrong signature is acknowledged
(WebSub asks for a 2xx) and ignored.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from urllib.parse import urlencode

import httpx
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from syndicate.db import rowcount
from syndicate.models import PushSubscription, Source
from syndicate.reader import fetch as fetching
from syndicate.reader.errors import SyndicateError

log = logging.getLogger("syndicate.push")
PUSH_DEBOUNCE = timedelta(seconds=10)  # deliveries closer together than this share one refresh
RETRY_PENDING = timedelta(hours=1)  # a hub that never verified is asked again after this
DIGESTS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha384": hashlib.sha384, "sha512": hashlib.sha512}


def callback_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/websub/callback/{token}"


def note(session: Session, source: Source, links: tuple[str, str] | None) -> None:
    """Record the hub a changed document advertises (a new hub or topic starts a new subscription)."""
    current = session.scalar(select(PushSubscription).where(PushSubscription.source_id == source.id))
    if links is None:
        return  # a document without the links keeps the subscription: the lease ends on its own
    hub, topic = links
    if current is not None and (current.hub, current.topic) == (hub, topic):
        return
    if current is None:
        current = PushSubscription(source_id=source.id, token=secrets.token_urlsafe(24), failures=0)
        session.add(current)
    current.hub, current.topic, current.secret, current.state = hub, topic, secrets.token_hex(24), "wanted"
    current.lease_until = current.requested_at = current.verified_at = None


def due(session: Session, now: datetime, renew_before: timedelta) -> list[PushSubscription]:
    """Subscriptions to ask for now: new ones, leases ending within ``renew_before``, requests never verified."""
    query = select(PushSubscription).where(
        or_(
            PushSubscription.state == "wanted",
            (PushSubscription.state == "active") & (PushSubscription.lease_until < now + renew_before),
            (PushSubscription.state == "pending") & (PushSubscription.requested_at < now - RETRY_PENDING),
        )
    )
    return list(session.scalars(query))


def subscribe(client: httpx.Client, subscription: PushSubscription, public_url: str, lease_seconds: int, now: datetime) -> None:
    """Ask the hub for the subscription (or its renewal); the hub then verifies through the callback."""
    form = {
        "hub.mode": "subscribe",
        "hub.topic": subscription.topic,
        "hub.callback": callback_url(public_url, subscription.token),
        "hub.secret": subscription.secret,
        "hub.lease_seconds": str(lease_seconds),
    }
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    try:
        answer = fetching.send(client, subscription.hub, method="POST", content=urlencode(form).encode(), headers=headers)
        ok, error = answer.ok, None if answer.ok else f"hub answered HTTP {answer.status}"
    except SyndicateError as exc:
        ok, error = False, exc.message
    subscription.requested_at = now
    if ok:
        subscription.state = "pending" if subscription.state != "active" else "active"  # a renewal keeps the running lease
        subscription.failures, subscription.last_error = 0, None
    else:
        subscription.failures += 1
        subscription.last_error = (error or "")[:300]
        log.info("push subscription %s to %s failed: %s", subscription.id, subscription.hub, error)


def subscribe_due(
    session: Session, client: httpx.Client, public_url: str, lease_seconds: int, renew_before: timedelta, now: datetime
) -> int:
    """One round of ``due`` → ``subscribe``, committed; the number of requests sent."""
    subscriptions = due(session, now, renew_before)
    for subscription in subscriptions:
        subscribe(client, subscription, public_url, lease_seconds, now)
    session.commit()
    return len(subscriptions)


def verify(session: Session, token: str, mode: str, topic: str, lease_seconds: int | None, now: datetime) -> bool:
    """The hub's verification of intent: True (echo the challenge) for a subscription we asked for, with its topic."""
    subscription = session.scalar(select(PushSubscription).where(PushSubscription.token == token))
    if subscription is None or topic != subscription.topic:
        return False
    if mode == "denied":
        subscription.state, subscription.last_error = "denied", "the hub denied the subscription"
    elif mode == "subscribe" and subscription.state in ("pending", "active"):
        subscription.state, subscription.verified_at = "active", now
        subscription.lease_until = now + timedelta(seconds=lease_seconds or 86400)
    elif mode == "unsubscribe" and subscription.state != "active":
        pass  # an unsubscribe we did not ask for is refused; we ask for none
    else:
        return False
    session.commit()
    return mode != "denied"


def accept(session: Session, token: str, body: bytes, signature: str | None, now: datetime) -> int | None:
    """A delivery: the source id to refresh now, or None (unknown callback, wrong signature, or refreshed moments ago)."""
    subscription = session.scalar(select(PushSubscription).where(PushSubscription.token == token))
    if subscription is None or subscription.state != "active" or not signed(body, signature, subscription.secret):
        return None
    claimed = rowcount(
        session.execute(
            update(PushSubscription)
            .where(
                PushSubscription.id == subscription.id,
                or_(PushSubscription.pushed_at.is_(None), PushSubscription.pushed_at <= now - PUSH_DEBOUNCE),
            )
            .values(pushed_at=now)
            .execution_options(synchronize_session=False)
        )
    )
    session.commit()
    return subscription.source_id if claimed else None


def signed(body: bytes, signature: str | None, secret: str) -> bool:
    """``X-Hub-Signature: method=hex`` (sha1, sha256, sha384 or sha512) is the HMAC of the body with our secret."""
    method, _, digest = (signature or "").partition("=")
    algorithm = DIGESTS.get(method.strip().lower())
    if algorithm is None or not digest:
        return False
    expected = hmac.new(secret.encode(), body, algorithm).hexdigest()
    return hmac.compare_digest(expected, digest.strip().lower())


def pushed(session: Session, source_ids: Iterable[int], now: datetime) -> set[int]:
    """The sources among ``source_ids`` whose hub pushes to us now (an active, unexpired lease)."""
    ids = list(source_ids)
    if not ids:
        return set()
    query = select(PushSubscription.source_id).where(
        PushSubscription.source_id.in_(ids), PushSubscription.state == "active", PushSubscription.lease_until > now
    )
    return set(session.scalars(query))
