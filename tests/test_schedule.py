"""schedule: success and error delays, jitter bounds, next check time."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from syndicate.ingest.schedule import adaptive_interval, clamp, deferral_delay, error_delay, next_check_at, success_delay


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
    "interval, low, high, hint, expected",
    [
        (600, 60, 3600, None, 600),
        (600, 60, 3600, 1800, 1800),
        (600, 60, 3600, 10, 600),  # a hint only lengthens: max-age=10 does not make us poll faster
        (600, 60, 3600, 86400, 3600),
        (600, 60, 3600, 0, 600),
        (30, 60, 3600, None, 60),
        (7200, 60, 3600, None, 3600),
    ],
    ids=["interval", "hint", "short-hint-ignored", "hint-above-max", "zero-hint-ignored", "interval-below-min", "interval-above-max"],
)
def test_success_delay(interval, low, high, hint, expected):
    assert success_delay(interval=interval, low=low, high=high, hint=hint) == expected


NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def _posts(*hours_ago: float) -> list[datetime]:
    return [NOW - timedelta(hours=h) for h in hours_ago]


@pytest.mark.parametrize(
    "published, feed_hint, expected",
    [
        (_posts(*range(0, 168, 6)), None, 5400),  # 28 posts a week: every 6 h → checked every 1.5 h
        (_posts(24, 48, 72, 96, 120, 144, 160), None, 21600),  # daily → every 6 h
        (_posts(10), None, 86400),  # one post this week → a quarter week, capped at the maximum
        (_posts(*range(0, 168, 1)), None, 900),  # hourly → every 15 min
        (_posts(24 * 30), None, 86400),  # nothing this week, newest a month old → slow
        (_posts(24 * 10), None, 86400),  # newest ten days old → a quarter of that (60 h), capped at the maximum
        ([], None, 900),  # no dates: the default
        ([], 7200, 7200),  # sy:updatePeriod / <ttl> lengthen …
        (_posts(*range(0, 168, 6)), 7200, 7200),
        (_posts(*range(0, 168, 6)), 60, 5400),  # … but never shorten
        (_posts(*range(0, 168, 6)), 10 * 86400, 86400),  # … within the bounds
        ([NOW + timedelta(days=1)], None, 900),  # a date in the future says nothing about frequency
        (_posts(*[i / 10 for i in range(2000)]), None, 300),  # a flood: never below the minimum
    ],
    ids=[
        "every-6h",
        "daily",
        "weekly",
        "hourly",
        "stale-month",
        "stale-10-days",
        "no-dates",
        "hint-no-dates",
        "hint-lengthens",
        "hint-never-shortens",
        "hint-capped",
        "future-date",
        "flood-min",
    ],
)
def test_adaptive_interval(published, feed_hint, expected):
    got = adaptive_interval(published, NOW, default=900, low=300, high=86400, feed_hint=feed_hint)
    assert got == expected


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
