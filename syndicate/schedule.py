"""When to check a source next (pure functions)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta


def clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def success_delay(*, default: int, low: int, high: int, hint: int | None = None) -> int:
    """After a successful check: the publisher's hint (max-age, ttl) or the default, within bounds."""
    return int(clamp(hint if hint else default, low, high))


def error_delay(*, error_count: int, low: int, cap: int, rng: random.Random | None = None) -> int:
    """After a failure: exponential backoff from ``low``, capped, with ±10 % jitter. Never gives up."""
    base = min(cap, low * 2 ** max(0, error_count - 1))
    jitter = (rng or random).uniform(0.9, 1.1)
    return int(min(cap, base * jitter))


def next_check_at(now: datetime, delay_seconds: int) -> datetime:
    return now + timedelta(seconds=delay_seconds)
