"""Where first-ingest CPU goes, without Celery: the refresh pipeline called in this process.

Usage:
    .venv/bin/python bench/ingest_inprocess.py [--feeds 200] [--items 50] [--group N] [--profile]

The fixture server of bench/ingest.py (bench/fixture.py, 127.0.0.1) serves ``--feeds`` feeds ×
``--items`` items; each source is refreshed once with ``refresh.refresh_sources``, ``--group`` sources
per transaction as a worker's batch task does, into a fresh SQLite file. Printed: entries stored, wall and CPU time, CPU per entry, the
garbage collector's share (``gc.callbacks``), commits and SQL statements per source. The garbage
collector is set up as a worker sets it up (workers/tasks.py ``_prepare``). ``--profile`` adds
cProfile's 25 most expensive functions by own time; ``--sql`` the time spent in each kind of statement. ``--repolls N``
polls every source N more times and measures the last pass instead (unchanged sources: the fixture
answers half of them 304 and sends the same body to the other half, as in bench/ingest.py (b)).

Compare its CPU per entry with the ``(a) CPU during the syndicate ingest`` line of bench/ingest.py:
the difference is what two worker processes writing to one SQLite file cost each other.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scale  # noqa: E402


class GcClock:
    """Time spent in collections, by generation."""

    def __init__(self):
        self.seconds, self.runs, self._started = [0.0, 0.0, 0.0], [0, 0, 0], 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds[info["generation"]] += time.perf_counter() - self._started
            self.runs[info["generation"]] += 1


def _time_statements(engine, totals: dict[str, list]) -> None:
    """Wall time in the driver per kind of statement (its first words and table), and in commits."""
    import re

    from sqlalchemy import event

    started: list[float] = []

    def kind(statement: str) -> str:
        words = re.sub(r"\s+", " ", statement).split(" ")
        table = next((words[i + 1] for i, w in enumerate(words[:-1]) if w.upper() in ("FROM", "INTO", "UPDATE")), "")
        return f"{words[0].upper()} {table}"

    def add(name: str, seconds: float) -> None:
        entry = totals.setdefault(name, [0.0, 0])
        entry[0] += seconds
        entry[1] += 1

    event.listen(engine, "before_cursor_execute", lambda *_a: started.append(time.perf_counter()))
    event.listen(engine, "after_cursor_execute", lambda _c, _cur, statement, *_a: add(kind(statement), time.perf_counter() - started.pop()))
    commit = engine.dialect.do_commit

    def timed_commit(dbapi_connection) -> None:
        t0 = time.perf_counter()
        commit(dbapi_connection)
        add("COMMIT", time.perf_counter() - t0)

    engine.dialect.do_commit = timed_commit


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--profile-out", default=None, help="also write cProfile's statistics to this file (pstats format)")
    parser.add_argument("--sql", action="store_true", help="also print the time spent in each kind of SQL statement (and in commits)")
    parser.add_argument("--group", type=int, default=None, help="sources per transaction (default: SYNDICATE_REFRESH_GROUP)")
    parser.add_argument(
        "--repolls",
        type=int,
        default=0,
        help="after the first ingest, poll every source again this many times (unchanged: half 304, half "
        "the same body); the figures, profile and SQL times are then those of the last re-poll",
    )
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="syndicate-inprocess-"))
    scale.use_env(scale.env_for(tmp))
    from sqlalchemy import event, func, select

    from syndicate import db as migrate
    from syndicate.ingest import refresh
    from syndicate.models import Article
    from syndicate.reader import german
    from syndicate.runtime import Runtime
    from workers.tasks import GC_YOUNG

    rt = Runtime()
    args.group = args.group or rt.settings.refresh_group
    migrate.upgrade(rt.settings.database_url)
    server, base = scale.start_server(args.feeds, args.items, tmp / "server.log")
    try:
        with rt.sessions() as s:
            ids = scale.make_sources(s, base, args.feeds)
        statements, commits = [0], [0]
        event.listen(rt.engine, "before_cursor_execute", lambda *_a: statements.__setitem__(0, statements[0] + 1))
        event.listen(rt.engine, "commit", lambda *_a: commits.__setitem__(0, commits[0] + 1))
        sql_time: dict[str, list] = {}
        if args.sql:
            _time_statements(rt.engine, sql_time)
        german.fold("é")  # as a worker does before its first task (workers/tasks.py ``_prepare``)
        gc.collect()
        gc.freeze()
        gc.set_threshold(GC_YOUNG, *gc.get_threshold()[1:])
        clock = GcClock()
        gc.callbacks.append(clock)
        profiler = cProfile.Profile() if args.profile else None
        for n in range(args.repolls + 1):
            if n == args.repolls:  # the pass measured
                statements[0] = commits[0] = 0
                sql_time.clear()
                clock.seconds, clock.runs = [0.0, 0.0, 0.0], [0, 0, 0]
                started, cpu = time.monotonic(), time.process_time()
                if profiler:
                    profiler.enable()
            for start in range(0, len(ids), args.group):  # as a worker's batch task: a group per transaction
                with rt.sessions() as session:
                    refresh.refresh_sources(session, rt.client, ids[start : start + args.group], rt.refresh_config)
        if profiler:
            profiler.disable()
        elapsed, cpu = time.monotonic() - started, time.process_time() - cpu
        gc.callbacks.remove(clock)
        with rt.sessions() as s:
            entries = s.scalar(select(func.count(Article.id)))
    finally:
        scale.stop(server)
        rt.close()
    print(
        f"bench/ingest_inprocess.py: {args.feeds} feeds × {args.items} items, one process, {args.group} sources per transaction, SQLite, tmp {tmp}"
    )
    print(f"entries stored        {entries}")
    if args.repolls:
        print(
            f"re-poll {args.repolls} (measured) {len(ids)} sources, wall / CPU {elapsed:.1f} s / {cpu:.1f} s = "
            f"{len(ids) / elapsed:.0f} polls/s, {cpu / len(ids) * 1000:.2f} ms CPU per poll"
        )
    else:
        print(
            f"wall / CPU            {elapsed:.1f} s / {cpu:.1f} s = {entries / elapsed:.0f} entries/s, {cpu / entries * 1000:.2f} ms CPU per entry"
        )
    gc_total = sum(clock.seconds)
    print(
        f"garbage collector     {gc_total:.2f} s ({gc_total / cpu * 100:.1f} % of CPU); runs by generation {clock.runs}, "
        f"seconds {[round(x, 2) for x in clock.seconds]}"
    )
    print(f"per source            {statements[0] / len(ids):.1f} SQL statements, {commits[0] / len(ids):.1f} commits")
    for kind, (seconds, n) in sorted(sql_time.items(), key=lambda kv: -kv[1][0]):
        print(f"sql {kind[:60]:60s} {seconds:6.3f} s {n:6d}×")
    if profiler:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        if args.profile_out:
            profiler.dump_stats(args.profile_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
