"""500 unchanged sources on one host, re-polled by several worker processes at once.

Usage: .venv/bin/python bench/politeness.py [--sources 500] [--processes 4] [--threads 4] [--k 3] [--rate 6000]
                                            [--server-delay 0.01] [--max-seconds 180]

A loopback server (threads in this process) serves one small feed per source; half of them
answer If-None-Match with 304, the other half have no validators and send the same body again.
Every source is polled once to prime it (etag, body hash), then all are due at once and
``--processes`` × ``--threads`` workers re-poll them through ``refresh_source`` on one shared
SQLite database, with the host budget ``SYNDICATE_HOST_LIMITS="127.0.0.1=K/R"``. A deferred
source (host budget spent) is retried after its ``next_check_at``, as beat would do.

Figures: how the re-polls ended (not_modified / unchanged / …), parse calls during the
re-poll (counted in every worker process; must be 0), deferrals, and what the server saw:
requests, the largest number of connections open at once (must never exceed K) and the most
requests in any 60 s window (must not exceed R). Exits 1 when an acceptance figure fails.
"""

from __future__ import annotations

import argparse
import bisect
import heapq
import multiprocessing
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def feed(i: int) -> bytes:
    now = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    items = "".join(
        f"<item><guid>s{i}-{n}</guid><title>Meldung {n} der Quelle {i}</title><link>https://example.org/{i}/{n}</link>"
        f"<pubDate>{format_datetime(now - timedelta(days=n), usegmt=True)}</pubDate></item>"
        for n in range(3)
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Quelle {i}</title>{items}</channel></rss>'.encode()


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.open = self.max_open = self.in_flight = self.max_in_flight = 0
            self.times: list[float] = []
            self.answers = Counter()

    def window_max(self, seconds: float = 60.0) -> int:
        times = sorted(self.times)
        return max((bisect.bisect_right(times, t + seconds) - i for i, t in enumerate(times)), default=0)


STATS = Stats()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    delay = 0.0

    def log_message(self, *args):
        pass

    def setup(self):
        super().setup()
        with STATS.lock:
            STATS.open += 1
            STATS.max_open = max(STATS.max_open, STATS.open)

    def finish(self):
        with STATS.lock:
            STATS.open -= 1
        super().finish()

    def do_GET(self):  # noqa: N802
        with STATS.lock:
            STATS.in_flight += 1
            STATS.max_in_flight = max(STATS.max_in_flight, STATS.in_flight)
            STATS.times.append(time.monotonic())
        try:
            i = int(self.path.rsplit("/", 1)[-1].split(".")[0])
            time.sleep(self.delay)
            etag = f'"v1-{i}"' if i % 2 == 0 else None
            if etag and self.headers.get("If-None-Match") == etag:
                self._answer(304, {"ETag": etag}, b"")
            else:
                self._answer(200, {"Content-Type": "application/rss+xml", **({"ETag": etag} if etag else {})}, feed(i))
        finally:
            with STATS.lock:
                STATS.in_flight -= 1

    def _answer(self, status: int, headers: dict, body: bytes) -> None:
        with STATS.lock:
            STATS.answers[status] += 1
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def settings_for(database_url: str, args, limited: bool = True):
    from syndicate.settings import Settings

    return Settings(
        database_url=database_url,
        allow_networks="127.0.0.1/32",
        var_dir=Path(tempfile.gettempdir()),
        host_limits=f"127.0.0.1={args.k}/{args.rate}" if limited else "127.0.0.1=0/0",
        host_busy_retry=0.05,
        min_interval=60,
        fetch_deadline=20,
    )


def worker_process(database_url: str, args, ids: list[int], results) -> None:
    """One worker process: ``args.threads`` threads re-poll their share of ``ids``; counts parse calls."""
    from syndicate.ingest import refresh
    from syndicate.models import Source
    from syndicate.runtime import Runtime

    runtime = Runtime(settings_for(database_url, args))
    real_parse, parse_calls, lock = refresh.parse_feed, [0], threading.Lock()

    def counting_parse(*a, **k):
        with lock:
            parse_calls[0] += 1
        return real_parse(*a, **k)

    refresh.parse_feed = counting_parse
    final, deferrals = {}, Counter()
    stop_at = time.monotonic() + args.max_seconds

    def thread(mine: list[int]) -> None:
        pending = [(0.0, source_id) for source_id in mine]
        with runtime.sessions() as session:
            while pending and time.monotonic() < stop_at:
                ready, source_id = heapq.heappop(pending)
                time.sleep(max(0.0, ready - time.monotonic()))
                outcome = refresh.refresh_source(session, runtime.client, source_id, runtime.refresh_config)
                if outcome.status == "deferred":
                    with lock:
                        deferrals[outcome.reason] += 1
                    wait = (session.get(Source, source_id).next_check_at - datetime.now(UTC)).total_seconds()
                    heapq.heappush(pending, (time.monotonic() + max(0.0, wait), source_id))
                else:
                    with lock:
                        final[source_id] = outcome.status if outcome.status != "error" else f"error:{outcome.reason}"

    threads = [threading.Thread(target=thread, args=(ids[t :: args.threads],)) for t in range(args.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    runtime.close()
    results.put({"final": final, "deferrals": dict(deferrals), "parse_calls": parse_calls[0]})


def prime(database_url: str, args, base: str) -> tuple[list[int], Counter]:
    from syndicate import db as migrate
    from syndicate.ingest.refresh import refresh_source
    from syndicate.models import City, Source
    from syndicate.reader.normalise import canonical_url
    from syndicate.runtime import Runtime

    migrate.upgrade(database_url)
    runtime = Runtime(settings_for(database_url, args, limited=False))  # priming is not what is measured
    with runtime.sessions() as session:
        city = City(slug="muenchen", name="München")
        session.add(city)
        session.flush()
        sources = [
            Source(city_id=city.id, url=f"{base}/feeds/{i}.xml", canonical_url=canonical_url(f"{base}/feeds/{i}.xml"))
            for i in range(args.sources)
        ]
        session.add_all(sources)
        session.commit()
        ids = [s.id for s in sources]
        first = Counter(refresh_source(session, runtime.client, i, runtime.refresh_config).status for i in ids)
        session.query(Source).update({Source.next_check_at: datetime.now(UTC)})  # all due again, at once
        session.commit()
    runtime.close()
    return ids, first


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sources", type=int, default=500)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--k", type=int, default=3, help="concurrent requests per host")
    parser.add_argument("--rate", type=int, default=6000, help="requests per host and minute")
    parser.add_argument("--server-delay", type=float, default=0.01, help="seconds the server takes per answer")
    parser.add_argument("--max-seconds", type=float, default=180.0)
    args = parser.parse_args()

    Handler.delay = args.server_delay
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"

    with tempfile.TemporaryDirectory() as tmp:
        database_url = f"sqlite:///{tmp}/bench.db"
        ids, first = prime(database_url, args, base)
        STATS.reset()
        context = multiprocessing.get_context("spawn")
        results = context.Queue()
        shares = [ids[p :: args.processes] for p in range(args.processes)]
        started = time.monotonic()
        workers = [context.Process(target=worker_process, args=(database_url, args, share, results)) for share in shares]
        for w in workers:
            w.start()
        reports = [results.get(timeout=args.max_seconds + 120) for _ in workers]
        for w in workers:
            w.join()
        elapsed = time.monotonic() - started
    server.shutdown()

    final = Counter()
    for report in reports:
        final.update(report["final"].values())
    deferrals = sum((Counter(r["deferrals"]) for r in reports), Counter())
    parse_calls = sum(r["parse_calls"] for r in reports)
    unfinished = args.sources - sum(final.values())
    good = final["not_modified"] + final["unchanged"]
    share = good / args.sources
    window = STATS.window_max()
    print(
        f"sources: {args.sources} on 127.0.0.1, workers: {args.processes} processes × {args.threads} threads, "
        f"host budget K={args.k} at once, R={args.rate}/min, server {args.server_delay * 1000:.0f} ms per answer"
    )
    print(f"priming poll: {dict(first)}")
    print(f"re-poll: {elapsed:.1f} s; ended: {dict(final)}" + (f", unfinished: {unfinished}" if unfinished else ""))
    print(f"  not_modified + unchanged: {good}/{args.sources} = {share:.1%} (need ≥ 95 %)")
    print(f"  parse calls during the re-poll: {parse_calls} (need 0)")
    print(f"  deferrals by the host budget: {dict(deferrals) or 0}")
    print(
        f"server saw: {sum(STATS.answers.values())} requests {dict(STATS.answers)}, "
        f"max {STATS.max_open} connections open at once (need ≤ K={args.k}), "
        f"max {STATS.max_in_flight} requests in flight, max {window} requests in any 60 s (R={args.rate})"
    )
    ok = share >= 0.95 and parse_calls == 0 and STATS.max_open <= args.k and window <= args.rate
    print("acceptance:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
