"""When to check a source next (pure functions): the freshness model.

A source is checked often in the hours it publishes and rarely in the hours its own history shows it quiet:

    learn(times) → Profile          on each changed document: when this source publishes, as counts per Berlin
                                    hour on working days and on days off (weekends, Bavarian public holidays)
    plan(profile, now, …) → Plan    on every successful poll: the interval for this hour (urgent, burst, active,
                                    unknown, quiet), lengthened by a publisher's hint only up to the hour's
                                    freshness cap, never below the host budget's floor (``host_floor``)

docs/freshness.md explains the weights. Failures and deferrals keep their own delays (``error_delay``,
``deferral_delay``).
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

import holidays

BERLIN = ZoneInfo("Europe/Berlin")
HOUR = 3600
HISTORY = 100  # publication times kept per source: enough for a season of a twice-weekly town


@dataclass(frozen=True)
class Targets:
    """The model's knobs, in seconds. ``active``, ``urgent`` and ``unknown`` come from the settings
    (``active_interval``, ``urgent_interval``, ``default_interval``); the others are the model's shape
    (docs/freshness.md)."""

    active: int = 600  # an hour in which this source publishes
    urgent: int = 120  # a source marked urgent (warnings), at any hour
    burst: int = 300  # right after a new item: publishers post in runs
    burst_window: int = HOUR  # how long "right after" lasts, from the newest item's publication
    unknown: int = 900  # too little history to tell its hours
    quiet_max: int = 4 * HOUR  # the longest sleep in quiet hours (a check at the latest then)
    active_cap: int = 900  # a publisher's hint lengthens an active or burst hour's interval up to this
    urgent_cap: int = 240  # … an urgent source's up to this
    unknown_cap: int = HOUR  # … an unknown hour's up to this
    pushed: int = 4 * HOUR  # a source whose WebSub hub pushes to us: polled at most this often, as a safety net
    push_delay: int = 60  # … and what its new items usually wait: the hub's delivery and one refresh
    evidence: int = 8  # dated posts needed before any hour may be called quiet
    evidence_days: int = 7  # and the history must span a week, so it has seen both kinds of day


@dataclass(frozen=True)
class Profile:
    """When a source publishes: counts of its recent posts per Berlin hour of day, on working days and on days off."""

    workday: tuple[int, ...] = (0,) * 24
    offday: tuple[int, ...] = (0,) * 24
    posts: int = 0
    span: float = 0.0  # seconds from the oldest to the newest post counted
    last: float | None = None  # the newest publication (POSIX seconds)
    times: tuple[int, ...] = ()  # the publication times counted, newest first (kept to merge later documents)
    hint: int | None = None  # the feed's own ``<ttl>``/``sy:updatePeriod`` at its last change (seconds)

    def as_json(self) -> dict:
        return {
            "workday": list(self.workday),
            "offday": list(self.offday),
            "posts": self.posts,
            "span": self.span,
            "last": self.last,
            "times": list(self.times),
            "hint": self.hint,
        }

    @classmethod
    def from_json(cls, data: dict | None) -> Profile:
        if not data:
            return EMPTY
        return cls(
            workday=tuple(data.get("workday") or (0,) * 24),
            offday=tuple(data.get("offday") or (0,) * 24),
            posts=int(data.get("posts") or 0),
            span=float(data.get("span") or 0),
            last=data.get("last"),
            times=tuple(data.get("times") or ()),
            hint=data.get("hint"),
        )

    def knows_hours(self, targets: Targets) -> bool:
        """Enough history to call an hour quiet."""
        return self.posts >= targets.evidence and self.span >= targets.evidence_days * 86400

    def publishes_at(self, local: datetime) -> bool:
        """Has this source published within an hour of this Berlin hour on this kind of day?"""
        counts = self.offday if is_offday(local.date()) else self.workday
        hour = local.hour
        return bool(counts[hour] or counts[(hour - 1) % 24] or counts[(hour + 1) % 24])


EMPTY = Profile()


class Plan(NamedTuple):
    """The next interval and why: ``pushed``, ``urgent``, ``burst``, ``active``, ``unknown`` or ``quiet``."""

    interval: int
    mode: str


_BAVARIA = holidays.country_holidays("DE", subdiv="BY")


@lru_cache(maxsize=4096)
def is_offday(day: date) -> bool:
    """Saturday, Sunday or a Bavarian public holiday: the days a municipal press office usually rests."""
    return day.weekday() >= 5 or day in _BAVARIA


def learn(times: Iterable[datetime], now: datetime, before: Profile = EMPTY, hint: int | None = None) -> Profile:
    """The profile of ``times`` (publication dates of a document's items) merged with the times ``before`` held.
    Dates in the future say nothing about the past and are left out; the newest ``HISTORY`` are kept.
    ``hint``: this document's own ``<ttl>``/``sy:updatePeriod`` (a hint the publisher dropped is gone)."""
    limit = now.timestamp()
    merged = {int(t.timestamp()) for t in times} | set(before.times)
    kept = sorted((t for t in merged if t <= limit), reverse=True)[:HISTORY]
    workday, offday = [0] * 24, [0] * 24
    for stamp in kept:
        local = datetime.fromtimestamp(stamp, BERLIN)
        (offday if is_offday(local.date()) else workday)[local.hour] += 1
    return Profile(
        workday=tuple(workday),
        offday=tuple(offday),
        posts=len(kept),
        span=float(kept[0] - kept[-1]) if kept else 0.0,
        last=float(kept[0]) if kept else None,
        times=tuple(kept),
        hint=hint,
    )


def host_floor(sources_on_host: int, per_minute: int) -> int:
    """The shortest interval at which every source of one host can be checked within the host's requests per
    minute (0: the host has no budget)."""
    if per_minute <= 0 or sources_on_host <= 0:
        return 0
    return -(-60 * sources_on_host // per_minute)


def clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def plan(
    profile: Profile,
    now: datetime,
    *,
    low: int,
    high: int,
    urgent: bool = False,
    hint: int | None = None,
    floor: int = 0,
    pushed: bool = False,
    targets: Targets = Targets(),
) -> Plan:
    """The next check of a source after a successful poll at ``now``.

    ``low``/``high``: the source's bounds (for an urgent source the caller passes ``targets.urgent`` unless the
    source has its own minimum); ``hint``: the response's own (``Cache-Control: max-age``, ``Expires``); the
    longer of it and the feed's (``<ttl>``, ``sy:updatePeriod``, kept in the profile) is honoured up to the mode's cap;
    ``floor``: the host budget's shortest interval, which nothing undercuts; ``pushed``: the source's hub pushes
    its changes to us (push.py), so polling is only the safety net.
    """
    stamp = now.timestamp()
    if pushed:
        base, cap, mode = targets.pushed, targets.pushed, "pushed"
    elif urgent:
        base, cap, mode = targets.urgent, targets.urgent_cap, "urgent"
    elif profile.last is not None and 0 <= stamp - profile.last < targets.burst_window:
        base, cap, mode = targets.burst, targets.active_cap, "burst"
    elif not profile.knows_hours(targets):
        base, cap, mode = targets.unknown, targets.unknown_cap, "unknown"
    elif profile.publishes_at(now.astimezone(BERLIN)):
        base, cap, mode = targets.active, targets.active_cap, "active"
    else:
        until = _until_active(profile, stamp, high)
        base, cap, mode = min(until, targets.quiet_max), until, "quiet"
    hinted = max(hint or 0, profile.hint or 0)
    interval = base if hinted <= base else max(base, min(hinted, cap))
    lowest = max(low, floor)
    return Plan(int(lowest if interval < lowest else min(interval, max(high, lowest))), mode)


def _until_active(profile: Profile, stamp: float, limit: int) -> int:
    """Seconds from ``stamp`` to the start of the next Berlin hour in which the source publishes, at most ``limit``.
    Berlin's offsets are whole hours, so a UTC hour boundary is a Berlin hour boundary."""
    top = stamp - stamp % HOUR
    for k in range(1, limit // HOUR + 2):
        start = top + k * HOUR
        if profile.publishes_at(datetime.fromtimestamp(start, BERLIN)):
            return max(1, int(start - stamp))
    return limit


def expected_delay(
    profile: Profile,
    *,
    low: int,
    high: int,
    urgent: bool = False,
    hint: int | None = None,
    floor: int = 0,
    pushed: bool = False,
    targets: Targets = Targets(),
) -> int:
    """The delay a new item of this source usually has: the interval of the hours it publishes in, or, when its
    hub pushes to us, the time a delivery and its refresh take."""
    if pushed:
        return targets.push_delay
    if urgent:
        mode_base, cap = targets.urgent, targets.urgent_cap
    elif profile.knows_hours(targets):
        mode_base, cap = targets.active, targets.active_cap
    else:
        mode_base, cap = targets.unknown, targets.unknown_cap
    interval = max(mode_base, min(max(hint or 0, profile.hint or 0), cap))
    return int(clamp(interval, max(low, floor), max(high, low, floor)))


def delay_in_german(seconds: float) -> str:
    """``expected_delay`` in the words a press office reads."""
    minutes = max(1, round(seconds / 60))
    if minutes < 90:
        amount = "einer Minute" if minutes == 1 else f"von {minutes} Minuten"
    else:
        hours = round(minutes / 60)
        amount = "einer Stunde" if hours == 1 else f"von {hours} Stunden"
    return f"Neue Meldungen erscheinen meist innerhalb {amount}."


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
