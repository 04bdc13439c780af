"""WebSub hub (W3C WebSub, 2018) for the merged feeds.

    subscribe(…)  → row pending, 202; a Celery task then runs verify(): GET callback?hub.challenge=…
    verify()      → echo matches: active with expires_at = now + lease (a renewal just extends it),
                    or, for hub.mode=unsubscribe, the row is deleted; otherwise the request is denied
    changed()     → active subscriptions whose feed's ETag differs from the one last delivered; with
                    TopicVersions, only feeds whose version stamp moved are rendered again
    deliver()     → POST the feed body with Link rel=hub/self and, with a secret,
                    X-Hub-Signature: sha256=HMAC-SHA256(secret, body); non-2xx raises DeliveryFailed
                    (the Celery task retries with exponential backoff)

Callbacks are requested through the fetcher (``reader.fetch.send``), as every outbound request
is: the address policy (netguard) applies to every connection, and each request ends within
``HubConfig``'s deadline with a bounded answer. A verification answer is read up to a few
bytes (only the echoed challenge counts); a delivery answer's body is never read.

Anyone may subscribe, so the hub is bounded: open subscriptions per callback host and in all
(``HubConfig``), requests per client (the route), publish pings coalesced (the route), and a
fan-out whose cost follows the feeds that changed, not the number of subscriptions.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from dataclasses import dataclass, replace
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from syndicate.clock import utcnow
from syndicate.db import rowcount
from syndicate.models import WebSubSubscription
from syndicate.publish.feeds import FORMATS, FeedQuery, RenderedFeed, UnknownFeed, describe, render_feed, scope_stamp, version_stamp
from syndicate.reader import fetch as fetching
from syndicate.reader.errors import SyndicateError
from syndicate.settings import Settings

log = logging.getLogger("syndicate.websub")

DEFAULT_LEASE = 10 * 24 * 3600
MIN_LEASE, MAX_LEASE = 300, 30 * 24 * 3600
MAX_SECRET_BYTES = 199  # the spec: less than 200 bytes
MAX_URL_LENGTH = 2000  # the columns' size
TOPIC_PARAMETERS = frozenset({"city", "topic", "q"})  # the filters a followed feed may have; a page (before=) never changes
OPEN_STATES = ("pending", "active")  # the subscriptions the caps count; refused ones are cleared by expire()
STALE_AFTER = timedelta(days=1)  # a refused or never verified request is kept this long


@dataclass(frozen=True)
class HubConfig:
    """The hub's limits, read from the settings once per task and passed down."""

    verify_limits: fetching.FetchLimits = fetching.FetchLimits(max_bytes=1024, max_redirects=0, deadline=30.0)
    deliver_limits: fetching.FetchLimits = fetching.FetchLimits(max_redirects=0, deadline=30.0, read_body=False)
    max_per_host: int = 20  # open subscriptions per callback host; 0: no limit
    max_total: int = 10000  # open subscriptions in all; 0: no limit

    @classmethod
    def from_settings(cls, settings: Settings) -> HubConfig:
        return cls(
            verify_limits=fetching.FetchLimits(
                max_bytes=settings.websub_verify_max_bytes, max_redirects=0, deadline=settings.websub_deadline
            ),
            deliver_limits=fetching.FetchLimits(max_redirects=0, deadline=settings.websub_deadline, read_body=False),
            max_per_host=settings.websub_max_per_host,
            max_total=settings.websub_max_total,
        )


class HubError(ValueError):
    """A subscription request the hub refuses (answered with ``status``: 400, or 429/503 for the caps)."""

    def __init__(self, message: str, reason: str = "invalid_request", status: int = 400):
        super().__init__(message)
        self.reason, self.status = reason, status


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
    if fmt not in FORMATS or parts.fragment or not params.keys() <= TOPIC_PARAMETERS:
        raise UnknownFeed(f"{topic!r} is not a feed of this hub (formats {', '.join(FORMATS)}; parameters {', '.join(TOPIC_PARAMETERS)})")
    cities = tuple(sorted({c for c in params.get("city", "").split(",") if c}))
    common = FeedQuery(cities=cities, topic=params.get("topic"), q=params.get("q"))
    if path == "/feeds/all":
        return common, fmt
    for prefix, kind in (("/feeds/topics/", "topic"), ("/feeds/cities/", "city")):
        if path.startswith(prefix) and "/" not in path[len(prefix) :]:
            return replace(common, kind=kind, slug=path[len(prefix) :]), fmt
    raise UnknownFeed(f"{topic!r} ist kein Feed dieses Hubs")


def subscribe(session: Session, request: Request, public_url: str, config: HubConfig = HubConfig()) -> WebSubSubscription:
    """Record a (un)subscription request; the caller enqueues verification after commit."""
    if request.mode not in ("subscribe", "unsubscribe"):
        raise HubError(f"hub.mode {request.mode!r} wird nicht unterstützt", "unsupported_mode")
    try:  # the fetcher's own check: what it would refuse later would leave the request pending for ever
        fetching.check_url(request.callback)
    except SyndicateError as exc:
        raise HubError("hub.callback muss eine gültige http(s)-URL sein", "invalid_callback") from exc
    if len(request.callback) > MAX_URL_LENGTH or len(request.topic) > MAX_URL_LENGTH:
        raise HubError(f"hub.callback und hub.topic dürfen höchstens {MAX_URL_LENGTH} Zeichen lang sein", "too_long")
    if request.secret is not None and not 0 < len(request.secret.encode()) <= MAX_SECRET_BYTES:
        raise HubError("hub.secret muss 1 bis 199 Bytes lang sein", "invalid_secret")
    try:
        query, fmt = feed_for_topic(request.topic, public_url)
        describe(session, query)
    except UnknownFeed as exc:
        message = "hub.topic muss die URL eines Feeds dieses Hubs sein (…/feeds/….rss, .atom oder .json; Filter nur city, topic, q)"
        raise HubError(message, "unknown_topic") from exc
    lease = min(max(request.lease_seconds or DEFAULT_LEASE, MIN_LEASE), MAX_LEASE)
    sub = session.scalar(
        select(WebSubSubscription).where(WebSubSubscription.callback == request.callback, WebSubSubscription.topic == request.topic)
    )
    if sub is None:
        if request.mode == "unsubscribe":
            raise HubError("kein Abonnement für diesen Callback und dieses Topic", "not_subscribed")
        _check_room(session, request.callback, config)
        sub = WebSubSubscription(callback=request.callback, topic=request.topic, state="pending", lease_seconds=lease, failures=0)
        session.add(sub)
    sub.pending_mode, sub.pending_secret, sub.pending_lease = request.mode, request.secret, lease
    session.flush()
    return sub


def _check_room(session: Session, callback: str, config: HubConfig) -> None:
    """Refuse a new subscription beyond the caps; renewals and unsubscriptions never count."""
    open_ = WebSubSubscription.state.in_(OPEN_STATES)
    if config.max_total and (session.scalar(select(func.count()).where(open_)) or 0) >= config.max_total:
        raise HubError("Der Hub nimmt zurzeit keine weiteren Abonnements an", "hub_full", 503)
    host = _host(callback)
    if config.max_per_host and host:
        # the LIKE narrows the rows cheaply; the host of each is then compared exactly
        near = session.scalars(
            select(WebSubSubscription.callback).where(open_, WebSubSubscription.callback.icontains(host, autoescape=True))
        )
        if sum(_host(other) == host for other in near) >= config.max_per_host:
            raise HubError(f"für den Callback-Host {host} bestehen schon {config.max_per_host} Abonnements", "too_many_for_host", 429)


def _host(url: str) -> str | None:
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


def verify(session: Session, client: httpx.Client, subscription_id: int, config: HubConfig = HubConfig()) -> str:
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
        answer = fetching.send(client, sub.callback + separator + urlencode(params), limits=config.verify_limits)
        confirmed = answer.ok and answer.text().strip() == challenge
        error = None if confirmed else f"verification answered {answer.status} without the challenge"
    except (OSError, SyndicateError) as exc:  # includes a refusal by the address policy, a deadline, an answer too large
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
        now, lease = utcnow(), sub.pending_lease
        assert lease is not None, "subscribe() sets the lease with the mode"
        sub.state, sub.secret, sub.lease_seconds = "active", sub.pending_secret, lease
        sub.verified_at, sub.expires_at, sub.last_error = now, now + timedelta(seconds=lease), None
        outcome = "active"
    sub.pending_mode = sub.pending_secret = sub.pending_lease = None
    session.commit()
    return outcome


def expire(session: Session) -> int:
    """Drop subscriptions whose lease ran out without renewal, and requests refused or never verified for a day."""
    stale = utcnow() - STALE_AFTER
    expired = session.execute(delete(WebSubSubscription).where(WebSubSubscription.expires_at < utcnow()))
    refused = session.execute(
        delete(WebSubSubscription).where(
            WebSubSubscription.created_at < stale,
            ((WebSubSubscription.state == "denied") & WebSubSubscription.pending_mode.is_(None)) | (WebSubSubscription.state == "pending"),
        )
    )
    session.commit()
    return rowcount(expired) + rowcount(refused)


def current(session: Session, sub: WebSubSubscription, public_url: str) -> RenderedFeed:
    query, fmt = feed_for_topic(sub.topic, public_url)
    return render_feed(session, query, fmt, public_url)


class TopicVersions:
    """What the last fan-outs of this process learnt about each topic: its version stamp and the ETag
    of its rendering at that stamp, so that a fan-out renders only the feeds that changed.

    First the archive's own stamp (one aggregate query): when it has not moved, no article has,
    and no topic is looked at. When it has, each topic's stamp (one aggregate query each) tells
    whether its feed must be rendered. Two kinds of change leave the archive's stamp alone: a
    topic's membership (reclassification), caught by looking at every topic's stamp at least every
    ``restamp`` seconds, and names (a city's, a topic's), caught by rendering every topic again once
    it has been trusted for ``recheck`` seconds.
    """

    def __init__(self, recheck: float = 3600.0, restamp: float = 300.0, clock=time.monotonic):
        self.recheck, self.restamp, self.clock = recheck, restamp, clock
        self.archive: tuple | None = None
        self.stamped_at = float("-inf")  # when every topic's stamp was last looked at
        self.topics: dict[str, tuple[tuple, str | None, float]] = {}  # topic → (stamp, etag, rendered at)
        self.renders = 0
        self.lock = threading.Lock()  # one fan-out at a time per process; the next one finds the work done

    def etag(self, session: Session, topic: str, public_url: str, archive_moved: bool) -> str | None:
        known = self.topics.get(topic)
        if known is not None and self.clock() - known[2] < self.recheck:
            if not archive_moved:
                return known[1]
            query, fmt = feed_for_topic(topic, public_url)
            if (stamp := version_stamp(session, query)) == known[0]:
                return known[1]
        else:
            query, fmt = feed_for_topic(topic, public_url)
            stamp = version_stamp(session, query)
        self.renders += 1
        etag = render_feed(session, query, fmt, public_url).etag
        self.topics[topic] = (stamp, etag, self.clock())
        return etag


def changed(session: Session, public_url: str, versions: TopicVersions | None = None) -> list[int]:
    """Active, unexpired subscriptions whose feed changed since their last delivery.

    Each topic stands alone: a topic that cannot be rendered is logged and left out, and every
    other topic's subscribers are still due. Without ``versions`` every topic is rendered."""
    versions = versions or TopicVersions(recheck=0, restamp=0)
    columns = (WebSubSubscription.id, WebSubSubscription.topic, WebSubSubscription.last_etag)
    with versions.lock:
        archive, now = scope_stamp(session, FeedQuery()), versions.clock()
        archive_moved = archive != versions.archive or now - versions.stamped_at >= versions.restamp
        if archive_moved:
            versions.archive, versions.stamped_at = archive, now
        subs = session.execute(
            select(*columns).where(WebSubSubscription.state == "active", WebSubSubscription.expires_at >= utcnow())
        ).all()
        etags: dict[str, str | None] = {}
        for _, topic, _ in subs:
            if topic not in etags:
                etags[topic] = _etag(session, versions, topic, public_url, archive_moved)
        for gone in versions.topics.keys() - etags.keys():  # nobody follows it any more
            del versions.topics[gone]
    return [sub_id for sub_id, topic, last_etag in subs if etags[topic] is not None and etags[topic] != last_etag]


def _etag(session: Session, versions: TopicVersions, topic: str, public_url: str, archive_moved: bool) -> str | None:
    """The topic's current ETag, or None when it has none to deliver (removed, or failing to render)."""
    try:
        return versions.etag(session, topic, public_url, archive_moved)
    except UnknownFeed:  # the topic or city was removed
        return None
    except Exception:  # one failing feed never stops the fan-out to the others
        log.exception("websub: topic %s cannot be rendered; its subscribers wait for the next fan-out", topic)
        session.rollback()  # a database error would leave the session unusable for the next topic
        return None


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def deliver(session: Session, client: httpx.Client, subscription_id: int, public_url: str, config: HubConfig = HubConfig()) -> str:
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
        answer = fetching.send(client, sub.callback, method="POST", content=feed.body, headers=headers, limits=config.deliver_limits)
    except (OSError, SyndicateError) as exc:
        _failed(session, sub, f"delivery failed: {exc}")
        raise DeliveryFailed(str(exc)) from exc
    if answer.status == 410:
        session.delete(sub)
        session.commit()
        return "gone"
    if not answer.ok:
        _failed(session, sub, f"delivery answered {answer.status}")
        raise DeliveryFailed(f"{sub.callback} answered {answer.status}")
    sub.last_etag, sub.delivered_at, sub.failures, sub.last_error = feed.etag, utcnow(), 0, None
    session.commit()
    return "delivered"


def _failed(session: Session, sub: WebSubSubscription, message: str) -> None:
    sub.failures += 1
    sub.last_error = message
    session.commit()
