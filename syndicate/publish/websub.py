"""WebSub hub (W3C WebSub, 2018) for the merged feeds.

    subscribe(…)  → row pending, 202; a Celery task then runs verify(): GET callback?hub.challenge=…
    verify()      → echo matches: active with expires_at = now + lease (a renewal just extends it),
                    or, for hub.mode=unsubscribe, the row is deleted; otherwise the request is denied
    changed()     → active subscriptions whose feed's ETag differs from the one last delivered
    deliver()     → POST the feed body with Link rel=hub/self and, with a secret,
                    X-Hub-Signature: sha256=HMAC-SHA256(secret, body); non-2xx raises DeliveryFailed
                    (the Celery task retries with exponential backoff)

Callbacks are requested with the fetcher's client (reader.fetch.make_client), so the address
policy (netguard) applies to every connection, redirects included.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from syndicate.clock import utcnow
from syndicate.models import WebSubSubscription
from syndicate.publish.feeds import FORMATS, FeedQuery, RenderedFeed, UnknownFeed, describe, render_feed
from syndicate.reader.errors import SyndicateError

DEFAULT_LEASE = 10 * 24 * 3600
MIN_LEASE, MAX_LEASE = 300, 30 * 24 * 3600
MAX_SECRET_BYTES = 199  # the spec: less than 200 bytes


class HubError(ValueError):
    """A subscription request the hub refuses (answered with 400)."""

    def __init__(self, message: str, reason: str = "invalid_request"):
        super().__init__(message)
        self.reason = reason


class DeliveryFailed(RuntimeError):
    """The subscriber did not accept a delivery; the task retries it."""


@dataclass(frozen=True)
class Request:
    mode: str
    callback: str
    topic: str
    lease_seconds: int | None = None
    secret: str | None = None


def feed_for_topic(topic: str, public_url: str) -> tuple[FeedQuery, str]:
    """A topic URL of this hub → the merged feed it names; UnknownFeed for anything else."""
    base = public_url.rstrip("/")
    if not topic.startswith(base + "/feeds/"):
        raise UnknownFeed(f"{topic!r} ist kein Feed dieses Hubs")
    parts = urlsplit(topic)
    path, _, fmt = parts.path.removeprefix(urlsplit(base).path).rpartition(".")
    params = dict(parse_qsl(parts.query))
    cities = tuple(sorted({c for c in params.get("city", "").split(",") if c}))
    common = {"cities": cities, "topic": params.get("topic"), "q": params.get("q")}
    if path == "/feeds/all":
        return FeedQuery(**common), fmt
    for prefix, kind in (("/feeds/topics/", "topic"), ("/feeds/cities/", "city")):
        if path.startswith(prefix) and "/" not in path[len(prefix) :]:
            return FeedQuery(kind, path[len(prefix) :], **common), fmt
    raise UnknownFeed(f"{topic!r} ist kein Feed dieses Hubs")


def subscribe(session: Session, request: Request, public_url: str) -> WebSubSubscription:
    """Record a (un)subscription request; the caller enqueues verification after commit."""
    if request.mode not in ("subscribe", "unsubscribe"):
        raise HubError(f"hub.mode {request.mode!r} wird nicht unterstützt", "unsupported_mode")
    if urlsplit(request.callback).scheme not in ("http", "https") or not urlsplit(request.callback).hostname:
        raise HubError("hub.callback muss eine http(s)-URL sein", "invalid_callback")
    if request.secret is not None and not 0 < len(request.secret.encode()) <= MAX_SECRET_BYTES:
        raise HubError("hub.secret muss 1 bis 199 Bytes lang sein", "invalid_secret")
    try:
        query, fmt = feed_for_topic(request.topic, public_url)
        describe(session, query)
    except UnknownFeed as exc:
        raise HubError(f"hub.topic: {exc}", "unknown_topic") from exc
    lease = min(max(request.lease_seconds or DEFAULT_LEASE, MIN_LEASE), MAX_LEASE)
    sub = session.scalar(
        select(WebSubSubscription).where(WebSubSubscription.callback == request.callback, WebSubSubscription.topic == request.topic)
    )
    if sub is None:
        if request.mode == "unsubscribe":
            raise HubError("kein Abonnement für diesen Callback und dieses Topic", "not_subscribed")
        sub = WebSubSubscription(callback=request.callback, topic=request.topic, state="pending", lease_seconds=lease, failures=0)
        session.add(sub)
    sub.pending_mode, sub.pending_secret, sub.pending_lease = request.mode, request.secret, lease
    session.flush()
    return sub


def verify(session: Session, client: httpx.Client, subscription_id: int) -> str:
    """Verification of intent for the pending request; returns the outcome (active, unsubscribed, denied, nothing)."""
    sub = session.get(WebSubSubscription, subscription_id)
    if sub is None or sub.pending_mode is None:
        return "nothing"
    challenge = secrets.token_urlsafe(24)
    params = {"hub.mode": sub.pending_mode, "hub.topic": sub.topic, "hub.challenge": challenge}
    if sub.pending_mode == "subscribe":
        params["hub.lease_seconds"] = str(sub.pending_lease)
    separator = "&" if urlsplit(sub.callback).query else "?"
    try:
        response = client.get(sub.callback + separator + urlencode(params), follow_redirects=False)
        confirmed = response.is_success and response.text.strip() == challenge
        error = None if confirmed else f"verification answered {response.status_code} without the challenge"
    except (httpx.HTTPError, OSError, SyndicateError) as exc:  # includes a refusal by the address policy
        confirmed, error = False, f"verification failed: {exc}"
    if not confirmed:
        outcome = "denied"
        if sub.state != "active":
            sub.state = "denied"
        sub.last_error = error
    elif sub.pending_mode == "unsubscribe":
        session.delete(sub)
        session.commit()
        return "unsubscribed"
    else:
        now = utcnow()
        sub.state, sub.secret, sub.lease_seconds = "active", sub.pending_secret, sub.pending_lease
        sub.verified_at, sub.expires_at, sub.last_error = now, now + timedelta(seconds=sub.pending_lease), None
        outcome = "active"
    sub.pending_mode = sub.pending_secret = sub.pending_lease = None
    session.commit()
    return outcome


def expire(session: Session) -> int:
    """Drop subscriptions whose lease ran out without renewal."""
    result = session.execute(delete(WebSubSubscription).where(WebSubSubscription.expires_at < utcnow()))
    session.commit()
    return result.rowcount or 0


def current(session: Session, sub: WebSubSubscription, public_url: str) -> RenderedFeed:
    query, fmt = feed_for_topic(sub.topic, public_url)
    return render_feed(session, query, fmt, public_url)


def changed(session: Session, public_url: str) -> list[int]:
    """Active, unexpired subscriptions whose feed changed since their last delivery."""
    now, due, renders = utcnow(), [], {}
    subs = session.scalars(select(WebSubSubscription).where(WebSubSubscription.state == "active", WebSubSubscription.expires_at >= now))
    for sub in subs:
        if sub.topic not in renders:
            try:
                renders[sub.topic] = current(session, sub, public_url).etag
            except UnknownFeed:  # the topic or city was removed
                renders[sub.topic] = None
        if renders[sub.topic] is not None and renders[sub.topic] != sub.last_etag:
            due.append(sub.id)
    return due


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def deliver(session: Session, client: httpx.Client, subscription_id: int, public_url: str) -> str:
    """POST the topic's current feed to the subscriber. Returns delivered / unchanged / gone / nothing."""
    sub = session.get(WebSubSubscription, subscription_id)
    if sub is None or sub.state != "active" or (sub.expires_at and sub.expires_at < utcnow()):
        return "nothing"
    feed = current(session, sub, public_url)
    if feed.etag == sub.last_etag:
        return "unchanged"  # a retry after an earlier success, or a duplicate task
    query, fmt = feed_for_topic(sub.topic, public_url)
    headers = {"Content-Type": FORMATS[fmt], "Link": f'<{public_url.rstrip("/")}/websub>; rel="hub", <{sub.topic}>; rel="self"'}
    if sub.secret:
        headers["X-Hub-Signature"] = signature(sub.secret, feed.body)
    try:
        response = client.post(sub.callback, content=feed.body, headers=headers, follow_redirects=False)
    except (httpx.HTTPError, OSError, SyndicateError) as exc:
        _failed(session, sub, f"delivery failed: {exc}")
        raise DeliveryFailed(str(exc)) from exc
    if response.status_code == 410:
        session.delete(sub)
        session.commit()
        return "gone"
    if not response.is_success:
        _failed(session, sub, f"delivery answered {response.status_code}")
        raise DeliveryFailed(f"{sub.callback} answered {response.status_code}")
    sub.last_etag, sub.delivered_at, sub.failures, sub.last_error = feed.etag, utcnow(), 0, None
    session.commit()
    return "delivered"


def _failed(session: Session, sub: WebSubSubscription, message: str) -> None:
    sub.failures += 1
    sub.last_error = message
    session.commit()
