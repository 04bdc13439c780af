"""Ingest at scale (issue 9, benchmark 6): syndicate with real Celery worker processes vs `reader`.

Setup (reader is a bench-only peer, never a dependency of syndicate):
    .venv/bin/pip install reader sgmllib3k   (reader's vendored feedparser imports sgmllib)
Usage:
    .venv/bin/python bench/ingest.py [--feeds 200] [--items 50] [--workers 2] [--pairs 5]
                                     [--repoll-sources 10000] [--repoll-items 2] [--rounds 10] [--max-seconds 600]
                                     [--postgres URL] [--broker URL]

A fixture server (bench/fixture.py, a separate process on 127.0.0.1) serves ``--feeds`` feeds ×
``--items`` items with ~15 % cross-city republications. Everything runs in a fresh temp dir on
SQLite with the embedded (sqla+sqlite) broker; ``--postgres`` (a server: a fresh database is made
there and dropped at the end) and ``--broker`` (Redis or RabbitMQ, its queues purged first) run it
on those instead. reader always stores into its own SQLite file.

(a) first ingest: ``--workers`` real ``celery -A workers worker --pool solo`` processes poll all
    feeds, claimed and sent as refresh batches by beat's own task (``enqueue_due``, called here
    tick after tick until nothing is left to claim); then `reader`
    (``update_feeds(workers=--workers)``) ingests the same fixture into its own SQLite file.
    Entries/s = stored entries / wall time from the first claim to the last source checked.
    This machine's speed drifts by ±15 % within minutes, so (a) is measured ``--pairs`` times, each
    pair syndicate and reader back to back on a fresh temp dir (the first ``--pairs`` − 1 in a child
    process each, ``--phase a``); pairs alternate which runs first (reader first: before the workers
    start); every pair is printed, and the ratio judged is the median of the pairs' ratios. The
    fixture server renders every feed before it answers, so neither run pays for rendering.
(c) worker memory: ``--rounds`` re-poll rounds over the same sources; VmRSS of each worker PID
    from /proc/<pid>/status after every round (not ru_maxrss).
(b) unchanged re-poll: ``--repoll-sources`` sources on a second fixture server are primed
    (one poll each), then all re-polled ``--repolls`` times (half 304, half same body): polls/s,
    and database bytes (pages in use after a WAL checkpoint), rows and pages per table after each
    round against the round before.
    Re-poll 1 records each source's change from "new" to a quiet outcome (one fetch-log row per
    source); re-poll 2 folds into that row for the first time (repeats 1 → 2 widens the row by
    one byte); re-poll 3 is the steady state every later poll of an unchanged source is in, and
    must grow nothing.
Exits 1 when an acceptance figure of the issue fails.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scale  # noqa: E402


def make_due(rt, ids: list[int]) -> None:
    """These sources (only these) are due now, as if their interval had passed."""
    from sqlalchemy import update

    from syndicate.clock import utcnow
    from syndicate.models import Source

    with rt.sessions() as s:
        s.execute(update(Source).where(Source.id.in_(ids)).values(next_check_at=utcnow()))
        s.commit()


def run_reader(base: str, feeds: int, workers: int, path: Path) -> tuple[int, float, float]:
    from reader import make_reader

    reader = make_reader(str(path))
    for i in range(feeds):
        reader.add_feed(f"{base}/f/{i}.xml")
    started, cpu = time.monotonic(), time.process_time()
    reader.update_feeds(workers=workers)
    elapsed, cpu = time.monotonic() - started, time.process_time() - cpu
    total = reader.get_entry_counts().total
    reader.close()
    return total, elapsed, cpu


def _fresh_postgres(server_url: str) -> str:
    """A new, empty database on that server (its URL); ``_drop_postgres`` removes it."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    name = f"syndicate_bench_{os.getpid()}_{int(time.time())}"
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def _drop_postgres(server_url: str, database_url: str) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{make_url(database_url).database}" WITH (FORCE)')
    engine.dispose()


def _pair_in_child(args, reader_first: bool) -> dict:
    """One (a) pair in a fresh process and temp dir (a process's imports keep the database they were given)."""
    command = [
        sys.executable,
        __file__,
        "--phase",
        "a",
        *(["--reader-first"] if reader_first else []),
        "--feeds",
        str(args.feeds),
        "--items",
        str(args.items),
        "--workers",
        str(args.workers),
        "--max-seconds",
        str(args.max_seconds),
        *(["--postgres", args.postgres] if args.postgres else []),
        *(["--broker", args.broker] if args.broker else []),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"(a) pair failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repoll-sources", type=int, default=10000)
    parser.add_argument("--repoll-items", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--repolls", type=int, default=3, help="re-poll rounds in (b); the last must grow nothing")
    parser.add_argument("--max-seconds", type=float, default=600, help="bound for each waiting step")
    parser.add_argument("--pairs", type=int, default=5, help="(a) measured this many times, syndicate then reader each time")
    parser.add_argument("--phase", choices=["a"], help=argparse.SUPPRESS)  # one (a) pair only, printed as JSON (a child run)
    parser.add_argument("--reader-first", action="store_true", help=argparse.SUPPRESS)  # that pair's reader run before the workers start
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="a PostgreSQL server (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/postgres): "
        "syndicate's data go to a fresh database made there, dropped at the end",
    )
    parser.add_argument(
        "--broker",
        metavar="URL",
        help="a Redis or RabbitMQ broker (e.g. redis://127.0.0.1:6379/14) instead of the embedded one; its four queues are purged first",
    )
    args = parser.parse_args()
    if args.phase == "a":
        args.rounds = args.repoll_sources = 0
    # pairs alternate which of the two runs first (the machine's speed drifts): 2nd, 4th, … reader first
    earlier = [] if args.phase else [_pair_in_child(args, reader_first=n % 2 == 1) for n in range(max(0, args.pairs - 1))]

    tmp = Path(tempfile.mkdtemp(prefix="syndicate-ingest-"))
    (tmp / "var").mkdir()
    database = _fresh_postgres(args.postgres) if args.postgres else None
    env = scale.env_for(tmp, broker_url=args.broker, database_url=database)
    scale.use_env(env)
    from sqlalchemy import func, select

    from syndicate import db as migrate
    from syndicate.models import Article
    from syndicate.runtime import Runtime

    migrate.upgrade(env["SYNDICATE_DATABASE_URL"])
    rt = Runtime()
    children = []
    rows = []
    ok = True
    try:
        server, base = scale.start_server(args.feeds, args.items, tmp / "server.log")
        children.append(server)
        with rt.sessions() as s:
            ids = scale.make_sources(s, base, args.feeds)
        if args.reader_first:  # before the workers exist, so that nothing of syndicate's runs meanwhile
            reader_run = run_reader(base, args.feeds, args.workers, tmp / "reader.sqlite")
        scale.declare_queues(env["SYNDICATE_BROKER_URL"])
        logs = [tmp / f"worker{k}.log" for k in range(args.workers)]
        workers = [scale.start_worker(env, f"ingest{k}", logs[k]) for k in range(args.workers)]
        children += workers
        if not scale.wait_ready(logs):
            raise SystemExit(f"workers not ready; see {logs}")

        # (a) first ingest
        mark = scale.mark()
        cpu0 = [scale.cpu_seconds(w.pid) for w in workers] + [scale.cpu_seconds(server.pid)]
        started = time.monotonic()
        scale.beat_round()
        polled, _ = scale.wait_polled(rt.sessions, set(ids), mark, args.max_seconds)
        syn_time = time.monotonic() - started
        cpu = [scale.cpu_seconds(p.pid) - c for p, c in zip([*workers, server], cpu0)]
        with rt.sessions() as s:
            syn_entries = s.scalar(select(func.count(Article.id)))
        if not args.reader_first:
            reader_run = run_reader(base, args.feeds, args.workers, tmp / "reader.sqlite")
        r_entries, r_time, r_cpu = reader_run
        pair = {
            "first": "reader" if args.reader_first else "syndicate",
            "entries": syn_entries,
            "seconds": syn_time,
            "polled": len(polled),
            "sources": len(ids),
            "cpu": cpu,
            "reader_entries": r_entries,
            "reader_seconds": r_time,
            "reader_cpu": r_cpu,
        }
        if args.phase == "a":
            print(json.dumps(pair))
            return 0
        pairs = [*earlier, pair]
        ratios = [(p["entries"] / p["seconds"]) / (p["reader_entries"] / p["reader_seconds"]) for p in pairs]
        ratio = statistics.median(ratios)
        ok &= ratio >= 2 and all(p["polled"] == p["sources"] for p in pairs)
        for n, p in enumerate(pairs, start=1):
            rate, r_rate, worker_cpu = p["entries"] / p["seconds"], p["reader_entries"] / p["reader_seconds"], p["cpu"][:-1]
            rows.append(
                (
                    f"(a) pair {n}: syndicate",
                    f"{p['entries']} entries / {p['seconds']:.1f} s = {rate:.0f} entries/s "
                    f"({p['polled']}/{p['sources']} sources, {args.workers} worker processes); worker CPU "
                    + " + ".join(f"{c:.1f}" for c in worker_cpu)
                    + f" s = {sum(worker_cpu) / p['entries'] * 1000:.2f} ms per entry, "
                    f"fixture server {p['cpu'][-1]:.1f} s",
                )
            )
            rows.append(
                (
                    f"(a) pair {n}: reader",
                    f"{p['reader_entries']} entries / {p['reader_seconds']:.1f} s = {r_rate:.0f} entries/s "
                    f"(update_feeds(workers={args.workers})); {p['reader_cpu']:.1f} s CPU = "
                    f"{p['reader_cpu'] / p['reader_entries'] * 1000:.2f} ms per entry",
                )
            )
            rows.append((f"(a) pair {n}: ratio", f"{ratios[n - 1]:.2f}× ({p['first']} ran first)"))
        rows.append(
            (
                "(a) ratio syndicate/reader",
                f"median of {len(ratios)} pairs {ratio:.2f}× (need ≥ 2×); lowest {min(ratios):.2f}×, highest {max(ratios):.2f}×",
            )
        )

        # (c) worker memory over rounds
        rss = []
        for _ in range(args.rounds):
            make_due(rt, ids)
            mark = scale.mark()
            scale.beat_round()
            scale.wait_polled(rt.sessions, set(ids), mark, args.max_seconds)
            rss.append([scale.vm_rss_kib(w.pid) for w in workers])
        if len(rss) >= 2:
            growth = max((r10 - r2) / r2 for r2, r10 in zip(rss[1], rss[-1]))
            ok &= growth <= 0.10
            rows.append(
                (
                    "(c) worker VmRSS per round (MiB)",
                    "; ".join(f"r{n + 1}: " + "/".join(f"{v / 1024:.1f}" for v in r) for n, r in enumerate(rss)),
                )
            )
            rows.append((f"(c) round {len(rss)} vs round 2", f"{growth:+.1%} (need within ±10 %)"))

        # (b) unchanged sources re-polled
        if args.repoll_sources:
            server_b, base_b = scale.start_server(args.repoll_sources, args.repoll_items, tmp / "server_b.log")
            children.append(server_b)
            with rt.sessions() as s:
                ids_b = scale.make_sources(s, base_b, args.repoll_sources)
            mark = scale.mark()
            t0 = time.monotonic()
            scale.beat_round()
            primed, _ = scale.wait_polled(rt.sessions, set(ids_b), mark, args.max_seconds)
            prime_time = time.monotonic() - t0
            rows.append(("(b) priming poll", f"{len(primed)}/{len(ids_b)} sources × {args.repoll_items} items in {prime_time:.1f} s"))
            # re-poll 1 writes one fetch-log row per source (its outcome changes from new to quiet);
            # from re-poll 2 on, a source's quiet polls fold into that row. Re-poll 2 still widens each
            # row by a byte (SQLite stores the integer 1 in no bytes, 2 in one); re-poll 3 is the
            # steady state of every later poll of an unchanged source and must grow nothing.
            # Sizes are compared after whole rounds (before the bench moves every next_check_at to
            # "now", which reshapes that index, and after the round moved them on again).
            last = max(args.repolls, 3)
            for n in range(1, last + 1):
                bytes0, rows0 = scale.db_bytes(rt.engine), scale.row_counts(rt.engine)
                pages0 = scale.pages_by_object(rt.engine)
                make_due(rt, ids_b)
                stats0 = scale.server_stats(base_b)
                mark = scale.mark()
                t0 = time.monotonic()
                scale.beat_round()
                repolled, _ = scale.wait_polled(rt.sessions, set(ids_b), mark, args.max_seconds)
                re_time = time.monotonic() - t0
                bytes1, rows1 = scale.db_bytes(rt.engine), scale.row_counts(rt.engine)
                pages1 = scale.pages_by_object(rt.engine)
                paged = {t: pages1[t] - pages0.get(t, 0) for t in pages1 if pages1[t] != pages0.get(t, 0)}
                stats1 = scale.server_stats(base_b)
                requests, overlaps = stats1["requests"] - stats0["requests"], stats1["overlaps"] - stats0["overlaps"]
                grown = {t: rows1[t] - rows0.get(t, 0) for t in rows1 if rows1[t] != rows0.get(t, 0)}
                polls = len(repolled) / re_time
                ok &= polls >= 300 and requests == len(ids_b) and overlaps == 0
                if n == last:
                    ok &= bytes1 <= bytes0 and not grown
                rows.append(
                    (
                        f"(b) unchanged re-poll {n}",
                        f"{len(repolled)}/{len(ids_b)} sources in {re_time:.1f} s = {polls:.0f} polls/s (need ≥ 300)",
                    )
                )
                rows.append(
                    (
                        f"(b) re-poll {n}: requests served",
                        f"{requests} ({stats1['not_modified'] - stats0['not_modified']} answered 304), "
                        f"{overlaps} for a feed already being fetched",
                    )
                )
                rows.append(
                    (f"(b) re-poll {n}: database bytes", f"{bytes0:,} → {bytes1:,} ({bytes1 - bytes0:+,}{'; need 0' if n == last else ''})")
                )
                rows.append((f"(b) re-poll {n}: rows grown", ", ".join(f"{t} +{k}" for t, k in grown.items()) or "none"))
                rows.append((f"(b) re-poll {n}: pages changed", ", ".join(f"{t} {k:+}" for t, k in sorted(paged.items())) or "none"))
    finally:
        for child in reversed(children):
            scale.stop(child)
        rt.close()
        if database:
            _drop_postgres(args.postgres, database)

    width = max(len(r[0]) for r in rows) if rows else 0
    stores = f"{'PostgreSQL' if database else 'SQLite'} + {args.broker.split(':', 1)[0] if args.broker else 'embedded'} broker"
    print(f"bench/ingest.py: {args.feeds} feeds × {args.items} items (~15 % republished), 127.0.0.1, {stores}, tmp {tmp}")
    print(f"{'figure'.ljust(width)} | value")
    print(f"{'-' * width}-+-{'-' * 60}")
    for name, value in rows:
        print(f"{name.ljust(width)} | {value}")
    print("acceptance:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
