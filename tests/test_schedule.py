"""schedule: error and deferral delays, jitter bounds, next check time (the freshness model: test_freshness.py)."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from syndicate.ingest.schedule import clamp, deferral_delay, error_delay, next_check_at


class FixedRng:
    """Returns one end of the jitter range, to check both bounds exactly."""

    def __init__(self, pick: str):
        self.pick = pick

    def uniform(self, low: float, high: float) -> float:
        return low if self.pick == "low" else high


@pytest.mark.parametrize(
    "value, low, high, expected",
    [(5, 1, 10, 5), (0, 1, 10, 1), (11, 1, 10, 10), (1, 1, 10, 1), (10, 1, 10, 10)],
    ids=["inside", "below", "above", "at-low", "at-high"],
)
def test_clamp(value, low, high, expected):
    assert clamp(value, low, high) == expected


@pytest.mark.parametrize(
    "retry_after, expected",
    [(120, 120), (5, 60), (None, 600), (0, 60), (10 * 365 * 86400, 86400)],
    ids=["seconds", "below-min", "no-header-usual-interval", "zero", "a-decade-is-capped"],
)
def test_deferral_delay(retry_after, expected):
    assert deferral_delay(retry_after, fallback=600, low=60, cap=86400) == expected


@pytest.mark.parametrize(
    "error_count, pick, expected",
    [
        (0, "low", 54),
        (1, "low", 54),
        (1, "high", 66),
        (2, "low", 108),
        (3, "high", 264),
        (6, "low", 1728),
        (7, "high", 3600),  # 3840 * 1.1 capped
        (7, "low", 3240),  # 3840 capped to 3600, then -10 %
        (50, "high", 3600),
        (10_000, "low", 3240),  # never gives up, never overflows
    ],
    ids=["zero", "first-low", "first-high", "second", "third", "sixth", "cap-high", "cap-low", "many", "huge"],
)
def test_error_delay_backoff(error_count, pick, expected):
    assert error_delay(error_count=error_count, low=60, cap=3600, rng=FixedRng(pick)) == expected


def test_error_delay_jitter_stays_within_ten_percent():
    rng = random.Random(1234)
    delays = [error_delay(error_count=3, low=60, cap=3600, rng=rng) for _ in range(500)]
    assert min(delays) >= 216 and max(delays) <= 264
    assert len(set(delays)) > 10  # there is jitter


def test_error_delay_grows_monotonically_until_cap():
    delays = [error_delay(error_count=n, low=60, cap=3600, rng=FixedRng("low")) for n in range(1, 12)]
    assert delays == sorted(delays)
    assert delays[-1] == 3240


def test_next_check_at():
    now = datetime(2026, 11, 24, 23, 59, 30, tzinfo=UTC)
    assert next_check_at(now, 90) == datetime(2026, 11, 25, 0, 1, 0, tzinfo=UTC)
    assert next_check_at(now, 0) == now
