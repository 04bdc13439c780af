"""A year of Bavaria on one machine (issue 27): load bench/bavaria.py's year into SQLite and PostgreSQL, ingest
a day's delta through the real pipeline, and measure what subscribers and operators wait for.

Usage:
    .venv/bin/python bench/year.py [--scale 0.05] [--db sqlite|postgresql|both] [--reuse] [--requests 40]
                                   [--postgres URL] [--sqlite-path PATH]

For each database: (1) bulk load (skipped with ``--reuse`` when the database holds a year already),
(2) a day's delta in a child process (the worker: loopback server, ``refresh_sources`` in groups; its
peak RSS is the worker's), (3) the reads in another child process (the API: the real app through
FastAPI's TestClient, in its thread; its peak RSS is the API's), each a fixed number of requests, p95:
  - cold render of /feeds/all.atom, a topic feed and a city feed (the render cache emptied before each
    request, so each one reads and renders; first pages and pages behind a cursor),
  - the portal's topic page and /suche (five kinds of query),
  - /ops (the first page of the source table), /ops/sources/{id}, /metrics,
(4) one maintenance run (``syndicate.ops.maintenance.run``: retention, fetch-log pruning, upkeep) in a
child process. Database size is measured after the delta. Goals (PostgreSQL): subscriber reads
p95 < 100 ms, /ops < 300 ms, maintenance < 5 min, API memory flat (RSS growth over a second round
of the requests reported). PostgreSQL default: postgresql+psycopg://postgres@127.0.0.1:5432/bench_year (emptied).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bavaria  # noqa: E402

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_year"
GOAL_READ_MS, GOAL_OPS_MS, GOAL_MAINTENANCE_S = 100, 300, 300


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(round(len(ordered) * 0.95)) - 1)]


def database_size(url: str) -> int:
    from syndicate.db import make_engine

    engine = make_engine(url)
    try:
        if engine.dialect.name == "sqlite":
            path = url.split("///", 1)[1]
            return sum(os.path.getsize(path + s) for s in ("", "-wal") if os.path.exists(path + s))
        with engine.connect() as connection:
            return connection.exec_driver_sql("SELECT pg_database_size(current_database())").scalar()
    finally:
        engine.dispose()


def holds_year(url: str) -> bool:
    from sqlalchemy import func, select
    from sqlalchemy.exc import SQLAlchemyError

    from syndicate.db import make_engine
    from syndicate.models import Article

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return (connection.scalar(select(func.count(Article.id))) or 0) > 0
    except SQLAlchemyError:
        return False
    finally:
        engine.dispose()


# ---------------------------------------------------------------- the API child


def measure(url: str, requests: int) -> dict:
    """The reads, in this process (the API's); returns p95 per kind and memory figures."""
    from fastapi.testclient import TestClient
    from sqlalchemy import select

    from syndicate.db import make_engine
    from syndicate.models import City, Source, Topic
    from syndicate.settings import Settings
    from syndicate.web.app import create_app

    logging.getLogger("syndicate.alerts").setLevel(logging.ERROR)
    tmp = Path(tempfile.mkdtemp(prefix="syndicate-year-"))
    engine = make_engine(url)
    with engine.connect() as connection:
        topics = list(connection.scalars(select(Topic.slug).order_by(Topic.id)))
        big_city = connection.scalar(select(City.slug).where(City.slug == "muenchen"))
        cities = list(connection.scalars(select(City.slug).where(City.kind == "city").order_by(City.id).limit(200)))
        source_ids = list(connection.scalars(select(Source.id).order_by(Source.id)))
    engine.dispose()
    settings = Settings(
        database_url=url,
        broker_url=f"sqla+sqlite:///{tmp}/broker.db",
        var_dir=tmp / "var",
        feeds_dir=tmp / "feeds",
        ops_allow_networks="testclient",
        feed_cache_seconds=0.0,
    )
    rng = random.Random(5)
    figures: dict[str, float] = {}
    with TestClient(create_app(settings)) as client:

        def run(label: str, paths: list[str], cold: bool = False) -> None:
            times = []
            cpu = time.process_time()
            for path in paths:
                if cold:
                    client.app.state.feed_cache = None  # an empty render cache: this request reads and renders
                started = time.perf_counter()
                response = client.get(path)
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, (path, response.status_code, response.text[:300])
            figures[label] = p95(times)
            figures[label + " cpu"] = (time.process_time() - cpu) / len(paths) * 1000

        def cursor_of(path: str) -> str:
            body = client.get(path).text
            marker = "vor=" if "/feeds/" not in path else "before="
            return body.split(marker, 1)[1].split('"', 1)[0].split("&", 1)[0] if marker in body else ""

        started = time.perf_counter()
        assert client.get("/metrics").status_code == 200
        figures["/metrics first"] = (time.perf_counter() - started) * 1000  # the process's first count of the tables
        # warm-up: templates, the app's first connections
        for path in ("/feeds/all.atom", f"/themen/{topics[0]}", "/suche?q=Rathaus", "/ops"):
            client.get(path)
        rss_warm = rss_mb()
        all_next = cursor_of("/feeds/all.atom")
        topic_next = cursor_of(f"/feeds/topics/{topics[0]}.rss")
        city_next = cursor_of(f"/feeds/cities/{big_city}.json")
        page_next = cursor_of(f"/themen/{topics[1]}")
        half = max(5, requests // 2)  # requests of /ops, a source page and /metrics

        def feeds(base: str, cursor: str) -> list[str]:
            return [base + (f"?before={cursor}" if i % 2 and cursor else "") for i in range(requests)]

        city_paths = feeds(f"/feeds/cities/{big_city}.json", city_next)
        city_paths[1::4] = [f"/feeds/cities/{rng.choice(cities)}.atom" for _ in city_paths[1::4]]
        words = ["Rathaus", "Klimaschutz", "Breitbandausbau", "Feuerwehr Sitzung", "Buergerbuero", "Photovoltaik", "Kläranlage"]
        kinds = [  # (label, paths, cold render)
            ("all", feeds("/feeds/all.atom", all_next), True),
            ("topic", feeds(f"/feeds/topics/{topics[0]}.rss", topic_next), True),
            ("city", city_paths, True),
            (
                "topic page",
                [f"/themen/{rng.choice(topics)}" + (f"?vor={page_next}" if i % 3 == 2 and page_next else "") for i in range(requests)],
                False,
            ),
            ("search", [f"/suche?q={words[i % len(words)]}" for i in range(requests)], False),
            ("/ops", ["/ops"] * half, False),
            ("/ops/sources/{id}", [f"/ops/sources/{rng.choice(source_ids)}" for _ in range(half)], False),
            ("/metrics", ["/metrics"] * half, False),
        ]
        for label, paths, cold in kinds:
            run(label, paths, cold)
        rss_first = rss_mb()
        # memory flat: the same reads once more; a leak grows the process again, a warm-up does not
        measured = dict(figures)
        for label, paths, cold in kinds:
            run(label, paths, cold)
        figures.update(measured)
        rss_second = rss_mb()
    figures["api rss warm"] = rss_warm
    figures["api rss first round"] = rss_first
    figures["api rss second round"] = rss_second
    figures["api peak rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return figures


def maintain(url: str) -> dict:
    from syndicate.clock import utcnow
    from syndicate.db import make_engine, make_session_factory
    from syndicate.ops import maintenance
    from syndicate.settings import Settings

    settings = Settings(database_url=url)
    engine = make_engine(url)
    # "now" is the day after the delta, so that retention has the year's first day to delete
    now = max(utcnow(), bavaria.END + timedelta(days=2))
    started = time.perf_counter()
    with make_session_factory(engine)() as session:
        report = maintenance.run(session, now, maintenance.Limits.from_settings(settings))
    seconds = time.perf_counter() - started
    engine.dispose()
    return {"seconds": seconds, "summary": report.summary(), "peak rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


# ---------------------------------------------------------------- the parent


def child(*args: str) -> dict:
    """Run this script (or bavaria.py) in a child process; its last stdout line is JSON."""
    output = subprocess.run([sys.executable, *args], check=True, stdout=subprocess.PIPE, text=True).stdout
    lines = output.strip().splitlines()
    for line in lines[:-1]:
        print(line, flush=True)
    return json.loads(lines[-1])


def one_database(name: str, url: str, args) -> dict:
    row: dict = {"db": name}
    print(f"{name}: {url}", flush=True)
    if args.reuse and holds_year(url):
        print("  reusing the loaded year", flush=True)
        row["load s"] = None
    else:
        loaded = child(str(ROOT / "bench" / "bavaria.py"), "load", "--url", url, "--scale", str(args.scale))
        row.update({"load s": loaded["seconds"], "articles": loaded["articles"], "sources": loaded["sources"]})
    delta = child(str(ROOT / "bench" / "bavaria.py"), "delta", "--url", url, "--scale", str(args.scale))
    row.update({"delta s": delta["seconds"], "delta articles": delta["articles_added"], "worker peak rss": delta["peak_rss_mb"]})
    row["size MB"] = database_size(url) / 1e6
    row.update(child(__file__, "measure", "--url", url, "--requests", str(args.requests)))
    maintained = child(__file__, "maintain", "--url", url)
    print(f"  maintenance: {maintained['summary']}", flush=True)
    row["maintenance s"] = maintained["seconds"]
    row["maintenance rss"] = maintained["peak rss"]
    if "articles" not in row:
        from sqlalchemy import func, select

        from syndicate.db import make_engine
        from syndicate.models import Article, Source

        engine = make_engine(url)
        with engine.connect() as connection:
            row["articles"] = connection.scalar(select(func.count(Article.id)))
            row["sources"] = connection.scalar(select(func.count(Source.id)))
        engine.dispose()
    return row


LINES = [
    ("articles", "articles", "{:,.0f}", None),
    ("sources", "sources", "{:,.0f}", None),
    ("load s", "bulk load (s)", "{:.0f}", None),
    ("size MB", "database size (MB)", "{:.0f}", None),
    ("delta s", "a day's delta ingest (s)", "{:.1f}", None),
    ("delta articles", "  articles the delta stored", "{:,.0f}", None),
    ("all", "cold render /feeds/all.atom p95 (CPU) ms", "{:.1f}", GOAL_READ_MS),
    ("topic", "cold render topic feed p95 (CPU) ms", "{:.1f}", GOAL_READ_MS),
    ("city", "cold render city feed p95 (CPU) ms", "{:.1f}", GOAL_READ_MS),
    ("topic page", "portal topic page p95 (CPU) ms", "{:.1f}", GOAL_READ_MS),
    ("search", "portal search p95 (CPU) ms", "{:.1f}", GOAL_READ_MS),
    ("/ops", "/ops p95 (CPU) ms", "{:.1f}", GOAL_OPS_MS),
    ("/ops/sources/{id}", "/ops/sources/{id} p95 (CPU) ms", "{:.1f}", GOAL_OPS_MS),
    ("/metrics", "/metrics p95 (CPU) ms", "{:.1f}", GOAL_OPS_MS),
    ("/metrics first", "  first /metrics of a process (ms)", "{:.0f}", None),
    ("maintenance s", "one maintenance run (s)", "{:.1f}", GOAL_MAINTENANCE_S),
    ("worker peak rss", "worker peak RSS (MB)", "{:.0f}", None),
    ("api peak rss", "API peak RSS (MB)", "{:.0f}", None),
    ("api rss growth", "API RSS growth over the same reads again (MB)", "{:+.1f}", None),
]


def cell(row: dict, key: str, fmt: str) -> str:
    """A figure; a read's p95 wall time with its mean CPU time in this process in brackets (the machine
    may be shared: wall time includes waiting for a core, CPU time does not; the database's CPU is not in it)."""
    if row.get(key) is None:
        return "—"
    if key + " cpu" in row:
        return f"{row[key]:.0f} ({row[key + ' cpu']:.0f})"
    return fmt.format(row[key])


def table(rows: list[dict], scale: float) -> str:
    for row in rows:
        if "api rss second round" in row:
            row["api rss growth"] = row["api rss second round"] - row["api rss first round"]
    out = [f"year of Bavaria, scale {scale} (bench/year.py)", f"{'':42}" + "".join(f"{r['db']:>14}" for r in rows) + "   goal (PostgreSQL)"]
    for key, label, fmt, goal in LINES:
        cells = "".join(f"{cell(r, key, fmt):>14}" for r in rows)
        out.append(f"{label:42}{cells}" + (f"   < {goal}" if goal else ""))
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command")
    for name in ("measure", "maintain"):
        p = sub.add_parser(name)
        p.add_argument("--url", required=True)
        p.add_argument("--requests", type=int, default=40)
    parser.add_argument("--scale", type=float, default=0.05)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--reuse", action="store_true", help="keep a database that holds a year already (no bulk load)")
    parser.add_argument("--requests", type=int, default=40, help="requests per measured kind")
    parser.add_argument("--postgres", default=PG_DEFAULT)
    parser.add_argument("--sqlite-path", default=str(Path(tempfile.gettempdir()) / "syndicate-year.db"))
    args = parser.parse_args()
    if args.command == "measure":
        print(json.dumps(measure(args.url, args.requests)))
        return 0
    if args.command == "maintain":
        print(json.dumps(maintain(args.url)))
        return 0
    rows = []
    if args.db in ("sqlite", "both"):
        rows.append(one_database("SQLite", f"sqlite:///{args.sqlite_path}", args))
    if args.db in ("postgresql", "both"):
        rows.append(one_database("PostgreSQL", args.postgres, args))
    print()
    print(table(rows, args.scale))
    pg = next((r for r in rows if r["db"] == "PostgreSQL"), None)
    if pg is None:
        return 0
    missed = [label for key, label, _f, goal in LINES if goal and pg.get(key) is not None and pg[key] >= goal]
    print("goals on PostgreSQL: " + ("all met" if not missed else "MISSED: " + "; ".join(m.strip() for m in missed)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
