"""When to check a source next (pure functions)."""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import datetime, timedelta

WEEK = 7 * 86400
CHECKS_PER_POST = 4  # poll about four times per usual gap between two posts


def clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def adaptive_interval(
    published: Iterable[datetime], now: datetime, *, default: int, low: int, high: int, feed_hint: int | None = None
) -> int:
    """The interval a source's own posting frequency suggests, lengthened by its ``<ttl>``/``sy:updatePeriod``.

    A source that posted ``n`` items in the last week is checked ``CHECKS_PER_POST`` times per
    ``week / n``; one that posted nothing that week slows down with the age of its newest item;
    one without dates gets ``default``.
    """
    dates = [d for d in published if d <= now]
    recent = sum(1 for d in dates if (now - d).total_seconds() <= WEEK)
    if recent:
        interval = WEEK / recent / CHECKS_PER_POST
    elif dates:
        interval = (now - max(dates)).total_seconds() / CHECKS_PER_POST
    else:
        interval = default
    return int(clamp(max(interval, feed_hint or 0), low, high))


def success_delay(*, interval: int, low: int, high: int, hint: int | None = None) -> int:
    """After a successful check: the source's interval, lengthened (never shortened) by the
    publisher's hint (Cache-Control max-age, Expires), within bounds."""
    return int(clamp(max(interval, hint or 0), low, high))


def error_delay(*, error_count: int, low: int, cap: int, rng: random.Random | None = None) -> int:
    """After a failure: exponential backoff from ``low``, capped, with ±10 % jitter. Never gives up."""
    base = min(cap, low * 2 ** min(64, max(0, error_count - 1)))
    jitter = (rng or random).uniform(0.9, 1.1)
    return int(min(cap, base * jitter))


def deferral_delay(retry_after: float | None, *, fallback: int, low: int, cap: int) -> int:
    """After 429/503: the publisher's Retry-After (or the usual interval), not sooner than ``low``
    and not later than ``cap`` — a Retry-After of a year must not stop polling."""
    return int(clamp(retry_after if retry_after is not None else fallback, low, cap))


def next_check_at(now: datetime, delay_seconds: float) -> datetime:
    return now + timedelta(seconds=delay_seconds)
