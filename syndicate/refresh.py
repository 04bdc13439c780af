"""refresh_source: the whole pipeline for one source, top to bottom.

load source → conditional GET → deferred? → HTTP error? → not modified? → body unchanged?
→ parse → normalise → store (upsert, cluster, topics) → schedule → reset the error counter.

Stages never call each other; only this module calls them. Failures are stored on
the source row (``error_count``, ``last_error_reason`` …) and in the fetch log.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass
from datetime import datetime

import httpx
from sqlalchemy.orm import Session

from syndicate import schedule, topics
from syndicate.clock import utcnow
from syndicate.models import FetchLog, Source
from syndicate.reader import fetch as fetching
from syndicate.reader.errors import SyndicateError
from syndicate.reader.normalise import canonical_url, normalise_entry
from syndicate.reader.parse import parse
from syndicate.settings import Settings
from syndicate.store import StoreCounts, store_entries


@dataclass(frozen=True)
class RefreshConfig:
    max_body_bytes: int
    max_redirects: int
    default_interval: int
    min_interval: int
    max_interval: int
    backoff_cap: int
    future_tolerance: int

    @classmethod
    def from_settings(cls, settings: Settings) -> RefreshConfig:
        return cls(
            max_body_bytes=settings.max_body_bytes,
            max_redirects=settings.max_redirects,
            default_interval=settings.default_interval,
            min_interval=settings.min_interval,
            max_interval=settings.max_interval,
            backoff_cap=settings.error_backoff_cap,
            future_tolerance=settings.future_tolerance,
        )


@dataclass
class RefreshOutcome:
    id: int
    url: str
    status: str  # new | not_modified | unchanged | error | deferred | skipped
    http_status: int | None = None
    new: int = 0
    updated: int = 0
    duplicates: int = 0
    reason: str | None = None
    message: str | None = None
    duration_ms: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def refresh_source(session: Session, client: httpx.Client, source_id: int, config: RefreshConfig, now: datetime | None = None) -> RefreshOutcome:
    started, now = time.monotonic(), now or utcnow()
    source = session.get(Source, source_id)
    if source is None or not source.enabled:
        return RefreshOutcome(id=source_id, url=source.url if source else "", status="skipped", reason="disabled_or_missing")
    outcome = RefreshOutcome(id=source.id, url=source.url, status="error")
    low, high = source.min_interval or config.min_interval, source.max_interval or config.max_interval
    body = b""
    try:
        result = fetching.fetch(
            client, source.url, etag=source.etag, last_modified=source.last_modified,
            max_bytes=config.max_body_bytes, max_redirects=config.max_redirects,
        )
        outcome.http_status, body = result.status, result.content
        if result.retry_after is not None:
            outcome.status, outcome.reason = "deferred", f"http_{result.status}"
            delay = schedule.clamp(result.retry_after, low, config.backoff_cap)
            _finish(session, source, outcome, now, int(delay), started, len(body))
            return outcome
        if (error := result.error()) is not None:
            raise error
        _remember_validators(session, source, result)
        hint = result.max_age
        if result.not_modified:
            outcome.status = "not_modified"
        elif (digest := hashlib.sha256(result.content).hexdigest()) == source.body_hash:
            outcome.status = "unchanged"
        else:
            feed = parse(result.content, url=result.final_url, content_type=result.content_type)
            base = feed.link if feed.link and feed.link.startswith("http") else result.final_url
            entries = [normalise_entry(raw, base=base, now=now, future_tolerance=config.future_tolerance) for raw in feed.entries]
            counts = store_entries(session, source, entries, topics.load_rules(session), now)
            _apply_counts(outcome, counts)
            source.body_hash, source.feed_title, source.site_url = digest, feed.title[:300] or None, feed.link
            hint = max(hint or 0, (feed.ttl_minutes or 0) * 60) or None
        source.error_count, source.first_error_at = 0, None
        source.last_error_reason = source.last_error_message = None
        source.last_success_at = now
        delay = schedule.success_delay(default=config.default_interval, low=low, high=high, hint=hint)
    except SyndicateError as exc:
        session.rollback()
        source = session.get(Source, source_id)
        outcome.status, outcome.reason, outcome.message = "error", exc.reason, exc.message
        outcome.new = outcome.updated = outcome.duplicates = 0
        source.error_count += 1
        source.first_error_at = source.first_error_at or now
        source.last_error_reason, source.last_error_message = exc.reason, exc.message[:2000]
        delay = schedule.error_delay(error_count=source.error_count, low=low, cap=config.backoff_cap)
    _finish(session, source, outcome, now, delay, started, len(body))
    return outcome


def _apply_counts(outcome: RefreshOutcome, counts: StoreCounts) -> None:
    outcome.new, outcome.updated, outcome.duplicates = counts.new, counts.updated, counts.duplicates
    outcome.status = "new" if counts.new or counts.updated else "unchanged"


def _remember_validators(session: Session, source: Source, result: fetching.FetchResult) -> None:
    """Keep new validators (also from a 304) and follow a permanent redirect."""
    source.etag = result.etag or (source.etag if result.not_modified else None)
    source.last_modified = result.last_modified or (source.last_modified if result.not_modified else None)
    target = result.permanent_redirect
    if target and (key := canonical_url(target)) and not session.query(Source.id).filter(Source.canonical_url == key).first():
        source.redirected_from, source.url, source.canonical_url = source.url, target, key


def _finish(session: Session, source: Source, outcome: RefreshOutcome, now: datetime, delay: int, started: float, size: int) -> None:
    outcome.duration_ms = int((time.monotonic() - started) * 1000)
    source.last_checked_at = now
    source.last_http_status = outcome.http_status
    source.next_check_at = schedule.next_check_at(now, delay)
    session.add(
        FetchLog(
            source_id=source.id, started_at=now, duration_ms=outcome.duration_ms, status=outcome.status,
            http_status=outcome.http_status, bytes=size, new_items=outcome.new, updated_items=outcome.updated,
            duplicates=outcome.duplicates, reason=outcome.reason, message=(outcome.message or "")[:2000] or None,
        )
    )
    session.commit()
