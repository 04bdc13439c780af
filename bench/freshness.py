"""Freshness: the delay from publication to ingest, and what it costs publishers, on a virtual clock.

Usage: .venv/bin/python bench/freshness.py [--sources 6000] [--weeks 4] [--seed 28] [--beat 30] [--processes 2]

~6,000 sources draw their posts from five profiles (Europe/Berlin, days off = weekends and Bavarian
public holidays): a daily press office, a twice-weekly town, a bursty partner, a quiet village and a
warnings source (marked urgent). Each has eight weeks of history before the simulated four weeks.
A source's feed holds its newest 20 items; some feeds carry a CMS default ``<ttl>`` of a day, some
``Cache-Control: max-age=300``; 200 sources share one host (the host floor applies to them).

Both policies run in the same process over the same posts, no waiting:
  * "today": the former ``schedule.adaptive_interval`` (copied below, labelled) — a quarter of the usual gap
    between posts in the last week, computed on each changed document, lengthened by the hints;
  * "new": the real ``syndicate.ingest.schedule`` — ``learn`` on each changed document, ``plan`` on every poll.
A poll happens at the first beat tick (``--beat`` s) at or after the source's next check; every item
published since the previous poll is ingested then. Reported: p50/p95/p99 of publication → ingest,
overall, for warnings, for posts in office hours (Mon–Fri 8–17 except holidays) and outside them, and
requests per source per day (all of them conditional GETs), per profile and in total.
"""

from __future__ import annotations

import argparse
import bisect
import multiprocessing
import random
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from syndicate.ingest import schedule  # noqa: E402
from syndicate.ingest.schedule import BERLIN, is_offday  # noqa: E402

DAY = 86400
START = datetime(2026, 5, 4, 0, 0, tzinfo=BERLIN)  # a Monday; the four weeks hold Ascension Day and Whit Monday
FEED_ITEMS = 20
LOW, HIGH, DEFAULT = 300, 86400, 900  # SYNDICATE_MIN_INTERVAL, _MAX_INTERVAL, _DEFAULT_INTERVAL
HOST_RATE = 30  # SYNDICATE_HOST_RATE_PER_MINUTE
SHARED_HOST = 200  # sources on one shared CMS host


# ---------------------------------------------------------------- the peer: today's policy, copied (labelled)

WEEK = 7 * DAY
CHECKS_PER_POST = 4


def today_adaptive_interval(published: Iterable[float], now: float, *, default: int, low: int, high: int, feed_hint: int | None) -> int:
    """TODAY'S POLICY (syndicate.ingest.schedule.adaptive_interval before issue 28), on POSIX seconds."""
    dates = [d for d in published if d <= now]
    recent = sum(1 for d in dates if now - d <= WEEK)
    if recent:
        interval = WEEK / recent / CHECKS_PER_POST
    elif dates:
        interval = (now - max(dates)) / CHECKS_PER_POST
    else:
        interval = default
    return int(max(low, min(high, max(interval, feed_hint or 0))))


def today_success_delay(interval: int, hint: int | None) -> int:
    """TODAY'S POLICY (schedule.success_delay before issue 28)."""
    return int(max(LOW, min(HIGH, max(interval, hint or 0))))


# ---------------------------------------------------------------- posting profiles


def _local(day: datetime, hour: float) -> float:
    return (day + timedelta(hours=hour)).timestamp()


def _days(first: datetime, n: int) -> list[datetime]:
    # each Berlin midnight (a day of a DST change included)
    return [datetime(first.year, first.month, first.day, tzinfo=BERLIN) + timedelta(days=k) for k in range(n)]


def press_office(rng: random.Random, days: list[datetime]) -> list[float]:
    out = []
    for day in days:
        if is_offday(day.date()):
            if rng.random() < 0.08:  # now and then a weekend post
                out.append(_local(day, rng.uniform(10, 18)))
            continue
        for _ in range(_poisson(rng, 3.5)):
            out.append(_local(day, min(17.5, max(7.5, rng.gauss(11.5, 2.3)))))
    return out


def town(rng: random.Random, days: list[datetime]) -> list[float]:
    return [_local(day, rng.uniform(8.5, 15.5)) for day in days if not is_offday(day.date()) and rng.random() < 2 / 5]


def partner(rng: random.Random, days: list[datetime]) -> list[float]:
    out = []
    for day in days:
        if not is_offday(day.date()) and rng.random() < 2 / 5:
            start = rng.uniform(9, 15)
            out += [_local(day, start + rng.uniform(0, 40) / 60) for _ in range(rng.randint(3, 8))]
    return out


def village(rng: random.Random, days: list[datetime]) -> list[float]:
    return [_local(day, rng.uniform(8, 21)) for day in days if rng.random() < 3 / 30]


def warnings(rng: random.Random, days: list[datetime]) -> list[float]:
    out = []
    for day in days:
        busy = not is_offday(day.date())
        for _ in range(_poisson(rng, 5 if busy else 1.5)):
            out.append(_local(day, rng.uniform(7, 18) if busy and rng.random() < 0.8 else rng.uniform(0, 24)))
    return out


def _poisson(rng: random.Random, mean: float) -> int:
    n, t = 0, rng.expovariate(1)
    while t < mean:
        n, t = n + 1, t + rng.expovariate(1)
    return n


PROFILES = {  # name: (generator, share of the sources)
    "press office": (press_office, 0.25),
    "twice-weekly town": (town, 0.35),
    "bursty partner": (partner, 0.05),
    "quiet village": (village, 0.33),
    "warnings": (warnings, 0.02),
}


@dataclass
class Source:
    kind: str
    posts: list[float]  # sorted, history included
    ttl: int | None
    max_age: int | None
    floor: int
    urgent: bool


@dataclass
class Result:
    delays: dict[str, list[float]] = field(default_factory=lambda: {"all": [], "warnings": [], "office": [], "outside": []})
    requests: dict[str, int] = field(default_factory=dict)


def make_sources(n: int, rng: random.Random, weeks: int) -> list[Source]:
    history = _days(START - timedelta(weeks=8), 8 * 7)
    window = _days(START, weeks * 7)
    sources = []
    kinds = [k for k, (_g, share) in PROFILES.items() for _ in range(round(n * share))]
    shared = set(rng.sample([i for i, k in enumerate(kinds) if k in ("quiet village", "twice-weekly town")], SHARED_HOST))
    for i, kind in enumerate(kinds):
        generate = PROFILES[kind][0]
        posts = sorted(generate(rng, history) + generate(rng, window))
        hint = rng.random()
        ttl = 86400 if hint < 0.3 else None  # a CMS default of a day
        max_age = 300 if 0.3 <= hint < 0.4 else None
        floor = schedule.host_floor(SHARED_HOST if i in shared else 1, HOST_RATE)
        sources.append(Source(kind, posts, ttl, max_age, floor, kind == "warnings"))
    return sources


def _office(stamp: float) -> bool:
    local = datetime.fromtimestamp(stamp, BERLIN)
    return not is_offday(local.date()) and 8 <= local.hour < 17


def simulate(sources: list[Source], policy: str, weeks: int, beat: int) -> Result:
    result = Result()
    begin, end = START.timestamp(), (START + timedelta(weeks=weeks)).timestamp()
    targets = schedule.Targets()
    for src in sources:
        posts = src.posts
        seen = _bisect(posts, begin)  # items published before the start are in the first document
        feed = posts[max(0, seen - FEED_ITEMS) : seen]
        now = begin
        profile = schedule.learn([datetime.fromtimestamp(t, UTC) for t in feed], START, hint=src.ttl)
        interval = today_adaptive_interval(feed, now, default=DEFAULT, low=LOW, high=HIGH, feed_hint=src.ttl)
        requests = 0
        low = targets.urgent if src.urgent else LOW
        while True:
            if policy == "new":
                delay = schedule.plan(
                    profile,
                    datetime.fromtimestamp(now, UTC),
                    low=low,
                    high=HIGH,
                    urgent=src.urgent,
                    hint=src.max_age,
                    floor=src.floor,
                    targets=targets,
                ).interval
            else:
                delay = max(today_success_delay(interval, src.max_age), src.floor)
            now = -(-(now + delay) // beat) * beat  # the first beat tick at or after the next check
            if now >= end:
                break
            requests += 1
            upto = _bisect(posts, now)
            if upto == seen:
                continue  # 304
            for published in posts[seen:upto]:
                wait = now - published
                result.delays["all"].append(wait)
                result.delays["office" if _office(published) else "outside"].append(wait)
                if src.urgent:
                    result.delays["warnings"].append(wait)
            new = posts[seen:upto]
            seen = upto
            feed = posts[max(0, seen - FEED_ITEMS) : seen]
            if policy == "new":
                profile = schedule.learn([datetime.fromtimestamp(t, UTC) for t in new], datetime.fromtimestamp(now, UTC), profile, src.ttl)
            else:
                interval = today_adaptive_interval(feed, now, default=DEFAULT, low=LOW, high=HIGH, feed_hint=src.ttl)
        result.requests[src.kind] = result.requests.get(src.kind, 0) + requests
    return result


_bisect = bisect.bisect_right  # how many of the sorted values are <= limit


def merge(parts: list[Result]) -> Result:
    merged = Result()
    for part in parts:
        for group, values in part.delays.items():
            merged.delays[group] += values
        for kind, n in part.requests.items():
            merged.requests[kind] = merged.requests.get(kind, 0) + n
    return merged


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:7.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", type=int, default=6000)
    parser.add_argument("--weeks", type=int, default=4)
    parser.add_argument("--seed", type=int, default=28)
    parser.add_argument("--beat", type=int, default=30)
    parser.add_argument("--processes", type=int, default=2, help="the sources split over this many processes")
    args = parser.parse_args()
    started = time.monotonic()
    sources = make_sources(args.sources, random.Random(args.seed), args.weeks)
    results = {}
    for policy in ("today", "new"):
        t0 = time.monotonic()
        chunks = [(sources[i :: args.processes], policy, args.weeks, args.beat) for i in range(args.processes)]
        with multiprocessing.Pool(args.processes) as pool:
            results[policy] = merge(pool.starmap(simulate, chunks))
        print(f"# {policy}: simulated in {time.monotonic() - t0:.1f} s", file=sys.stderr)
    count = {kind: sum(1 for s in sources if s.kind == kind) for kind in PROFILES}
    days = args.weeks * 7
    print(f"{len(sources)} sources, {args.weeks} weeks, beat {args.beat} s, {sum(len(s.posts) for s in sources)} posts incl. history\n")
    print("delay publication → ingest, minutes")
    print(f"{'group':<10} {'policy':<6} {'items':>7} {'p50':>7} {'p95':>7} {'p99':>7}")
    for group in ("all", "warnings", "office", "outside"):
        for policy, res in results.items():
            values = res.delays[group]
            row = f"{group:<10} {policy:<6} {len(values):>7} " + " ".join(_minutes(percentile(values, q)) for q in (0.5, 0.95, 0.99))
            print(row)
    print("\nrequests per source per day (conditional GETs)")
    print(f"{'profile':<18} {'sources':>7} {'today':>8} {'new':>8}")
    for kind in PROFILES:
        per = {p: r.requests.get(kind, 0) / count[kind] / days for p, r in results.items()}
        print(f"{kind:<18} {count[kind]:>7} {per['today']:>8.1f} {per['new']:>8.1f}")
    total = {p: sum(r.requests.values()) / len(sources) / days for p, r in results.items()}
    print(f"{'all':<18} {len(sources):>7} {total['today']:>8.1f} {total['new']:>8.1f}")
    office_p95 = percentile(results["new"].delays["office"], 0.95)
    warnings_p95 = percentile(results["new"].delays["warnings"], 0.95)
    ok = office_p95 <= 900 and warnings_p95 <= 300 and (total["new"] <= total["today"] or total["new"] <= 100)
    print(f"\ngoals (new): office p95 ≤ 15 min: {office_p95 / 60:.1f}; warnings p95 ≤ 5 min: {warnings_p95 / 60:.1f};")
    print(f"  requests/source/day ≤ today ({total['today']:.1f}) or ≤ 100: {total['new']:.1f} → {'met' if ok else 'NOT met'}")
    print(f"# whole run {time.monotonic() - started:.1f} s", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
