"""Ingest at scale (issue 9, benchmark 6): syndicate with real Celery worker processes vs `reader`.

Setup (reader is a bench-only peer, never a dependency of syndicate):
    .venv/bin/pip install reader sgmllib3k   (reader's vendored feedparser imports sgmllib)
Usage:
    .venv/bin/python bench/ingest.py [--feeds 200] [--items 50] [--workers 2]
                                     [--repoll-sources 10000] [--repoll-items 2] [--rounds 10] [--max-seconds 600]

A fixture server (bench/fixture.py, a separate process on 127.0.0.1) serves ``--feeds`` feeds ×
``--items`` items with ~15 % cross-city republications. Everything runs in a fresh temp dir on
SQLite with the embedded (sqla+sqlite) broker.

(a) first ingest: ``--workers`` real ``celery -A workers worker --pool solo`` processes poll all
    feeds (one refresh_source task per source, sent by this script); then `reader`
    (``update_feeds(workers=--workers)``) ingests the same fixture into its own SQLite file.
    Entries/s = stored entries / wall time from the first task sent to the last fetch logged.
(c) worker memory: ``--rounds`` re-poll rounds over the same sources; VmRSS of each worker PID
    from /proc/<pid>/status after every round (not ru_maxrss).
(b) unchanged re-poll: ``--repoll-sources`` sources on a second fixture server are primed
    (one poll each), then all re-polled (half 304, half same body): polls/s, and database bytes
    (pages in use after a WAL checkpoint) and rows per table before/after the re-poll.
Exits 1 when an acceptance figure of the issue fails.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scale  # noqa: E402


def send_all(ids: list[int]) -> None:
    from workers.tasks import refresh_source

    for sid in ids:
        refresh_source.apply_async((sid,))


def run_reader(base: str, feeds: int, workers: int, path: Path) -> tuple[int, float]:
    from reader import make_reader

    reader = make_reader(str(path))
    for i in range(feeds):
        reader.add_feed(f"{base}/f/{i}.xml")
    started = time.monotonic()
    reader.update_feeds(workers=workers)
    elapsed = time.monotonic() - started
    total = reader.get_entry_counts().total
    reader.close()
    return total, elapsed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repoll-sources", type=int, default=10000)
    parser.add_argument("--repoll-items", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--max-seconds", type=float, default=600, help="bound for each waiting step")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="syndicate-ingest-"))
    (tmp / "var").mkdir()
    env = scale.env_for(tmp)
    scale.use_env(env)
    from sqlalchemy import func, select

    from syndicate import migrate
    from syndicate.models import Article, Source
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
        scale.declare_queues(env["SYNDICATE_BROKER_URL"])
        logs = [tmp / f"worker{k}.log" for k in range(args.workers)]
        workers = [scale.start_worker(env, f"ingest{k}", logs[k]) for k in range(args.workers)]
        children += workers
        if not scale.wait_ready(logs):
            raise SystemExit(f"workers not ready; see {logs}")

        # (a) first ingest
        with rt.sessions() as s:
            mark = scale.fetchlog_max(s)
        started = time.monotonic()
        send_all(ids)
        polled, _ = scale.wait_polled(rt.sessions, set(ids), mark, args.max_seconds)
        syn_time = time.monotonic() - started
        with rt.sessions() as s:
            syn_entries = s.scalar(select(func.count(Article.id)))
        r_entries, r_time = run_reader(base, args.feeds, args.workers, tmp / "reader.sqlite")
        syn_rate, r_rate = syn_entries / syn_time, r_entries / r_time
        ratio = syn_rate / r_rate
        ok &= ratio >= 2 and len(polled) == len(ids)
        rows.append(("(a) first ingest, syndicate", f"{syn_entries} entries / {syn_time:.1f} s = {syn_rate:.0f} entries/s "
                     f"({len(polled)}/{len(ids)} sources, {args.workers} worker processes)"))
        rows.append(("(a) first ingest, reader", f"{r_entries} entries / {r_time:.1f} s = {r_rate:.0f} entries/s "
                     f"(update_feeds(workers={args.workers}))"))
        rows.append(("(a) ratio syndicate/reader", f"{ratio:.2f}× (need ≥ 2×)"))

        # (c) worker memory over rounds
        rss = []
        for _ in range(args.rounds):
            with rt.sessions() as s:
                mark = scale.fetchlog_max(s)
            send_all(ids)
            scale.wait_polled(rt.sessions, set(ids), mark, args.max_seconds)
            rss.append([scale.vm_rss_kib(w.pid) for w in workers])
        if len(rss) >= 2:
            growth = max((r10 - r2) / r2 for r2, r10 in zip(rss[1], rss[-1]))
            ok &= growth <= 0.10
            rows.append(("(c) worker VmRSS per round (MiB)",
                         "; ".join(f"r{n + 1}: " + "/".join(f"{v / 1024:.1f}" for v in r) for n, r in enumerate(rss))))
            rows.append((f"(c) round {len(rss)} vs round 2", f"{growth:+.1%} (need within ±10 %)"))

        # (b) unchanged sources re-polled
        if args.repoll_sources:
            server_b, base_b = scale.start_server(args.repoll_sources, args.repoll_items, tmp / "server_b.log")
            children.append(server_b)
            with rt.sessions() as s:
                ids_b = scale.make_sources(s, base_b, args.repoll_sources)
                mark = scale.fetchlog_max(s)
            t0 = time.monotonic()
            send_all(ids_b)
            primed, _ = scale.wait_polled(rt.sessions, set(ids_b), mark, args.max_seconds)
            prime_time = time.monotonic() - t0
            with rt.sessions() as s:
                s.query(Source).update({Source.next_check_at: func.current_timestamp()})
                s.commit()
                mark = scale.fetchlog_max(s)
            bytes0, rows0 = scale.db_bytes(rt.engine), scale.row_counts(rt.engine)
            t0 = time.monotonic()
            send_all(ids_b)
            repolled, _ = scale.wait_polled(rt.sessions, set(ids_b), mark, args.max_seconds)
            re_time = time.monotonic() - t0
            bytes1, rows1 = scale.db_bytes(rt.engine), scale.row_counts(rt.engine)
            grown = {t: rows1[t] - rows0.get(t, 0) for t in rows1 if rows1[t] != rows0.get(t, 0)}
            polls = len(repolled) / re_time
            ok &= polls >= 300 and bytes1 <= bytes0 and not grown
            rows.append(("(b) priming poll", f"{len(primed)}/{len(ids_b)} sources × {args.repoll_items} items in {prime_time:.1f} s"))
            rows.append(("(b) unchanged re-poll", f"{len(repolled)}/{len(ids_b)} sources in {re_time:.1f} s = {polls:.0f} polls/s (need ≥ 300)"))
            rows.append(("(b) database bytes before → after", f"{bytes0:,} → {bytes1:,} ({bytes1 - bytes0:+,}; need 0)"))
            rows.append(("(b) rows grown", ", ".join(f"{t} +{n}" for t, n in grown.items()) or "none"))
    finally:
        for child in reversed(children):
            scale.stop(child)
        rt.close()

    width = max(len(r[0]) for r in rows) if rows else 0
    print(f"bench/ingest.py: {args.feeds} feeds × {args.items} items (~15 % republished), 127.0.0.1, SQLite + embedded broker, tmp {tmp}")
    print(f"{'figure'.ljust(width)} | value")
    print(f"{'-' * width}-+-{'-' * 60}")
    for name, value in rows:
        print(f"{name.ljust(width)} | {value}")
    print("acceptance:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
