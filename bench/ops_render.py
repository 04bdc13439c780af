"""How fast /ops renders with 1,000 sources and 100,000 fetch-log rows (target: under 300 ms).

Usage: .venv/bin/python bench/ops_render.py [--sources 1000] [--fetches 100000] [--articles 20000] [--rounds 9]
                                             [--database-url URL]   (default: a fresh SQLite file)

Builds a fresh database (cities, sources in every state, fetch log and articles spread over
the last 14 days), then requests /ops through the real app (FastAPI TestClient, the embedded
broker in a temporary directory) and prints the median of ``--rounds`` timed requests after
two warm-up requests; /metrics, a filtered /ops and a source page are timed the same way.
"""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402

from syndicate import db as migrate  # noqa: E402
from syndicate.clock import utcnow  # noqa: E402
from syndicate.db import make_engine  # noqa: E402
from syndicate.models import Article, Base, City, Cluster, FetchLog, Source  # noqa: E402
from syndicate.settings import Settings  # noqa: E402
from syndicate.web.app import create_app  # noqa: E402

TARGET_MS = 300
REASONS = ["http_5xx", "timeout", "http_404", "not_a_feed", "network_error"]


def populate(url: str, n_sources: int, n_fetches: int, n_articles: int) -> None:
    rng, now = random.Random(8), utcnow()
    engine = make_engine(url)
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
        connection.execute(
            insert(City), [{"id": i, "slug": f"gemeinde-{i}", "name": f"Gemeinde {i:03d}", "kind": "city"} for i in range(1, 51)]
        )
        sources = []
        for i in range(1, n_sources + 1):
            roll = rng.random()
            errors = 0 if roll < 0.85 else rng.randint(1, 40)
            reason = rng.choice(REASONS) if errors else None
            sources.append(
                {
                    "id": i,
                    "city_id": 1 + i % 50,
                    "url": f"https://gemeinde-{1 + i % 50}.example/feed-{i}.xml",
                    "canonical_url": f"https://gemeinde-{1 + i % 50}.example/feed-{i}.xml",
                    "title": f"Pressemitteilungen {i}",
                    "origin": "file",
                    "enabled": roll < 0.99,
                    "default_topics": [],
                    "error_count": errors,
                    "last_error_reason": reason,
                    "last_error_message": f"{reason} beim Abruf" if reason else None,
                    "first_error_at": now - timedelta(hours=rng.randint(1, 48)) if errors else None,
                    "last_http_status": 429 if 0.83 < roll < 0.85 else (500 if errors else 200),
                    "last_success_at": now - timedelta(minutes=rng.randint(1, 600)) if roll < 0.97 else None,
                    "last_checked_at": now - timedelta(minutes=rng.randint(1, 30)),
                    "next_check_at": now + timedelta(minutes=rng.randint(-5, 60)),
                    "created_at": now - timedelta(days=30),
                }
            )
        connection.execute(insert(Source), sources)
        statuses = ["new"] * 2 + ["not_modified"] * 5 + ["unchanged"] * 2 + ["error"]
        for start in range(0, n_fetches, 10_000):
            rows = []
            for j in range(start, min(start + 10_000, n_fetches)):
                fetch_status = rng.choice(statuses)
                rows.append(
                    {
                        "source_id": 1 + j % n_sources,
                        "started_at": now - timedelta(seconds=rng.randint(0, 14 * 86400)),
                        "duration_ms": int(rng.lognormvariate(5.5, 0.8)),
                        "status": fetch_status,
                        "http_status": 500 if fetch_status == "error" else 200,
                        "bytes": rng.randint(0, 200_000),
                        "new_items": rng.randint(1, 3) if fetch_status == "new" else 0,
                        "updated_items": 0,
                        "duplicates": rng.randint(0, 1),
                        "reason": "http_5xx" if fetch_status == "error" else None,
                    }
                )
            connection.execute(insert(FetchLog), rows)
        n_clusters = int(n_articles * 0.8)
        connection.execute(
            insert(Cluster),
            [
                {"id": k, "published_at": now - timedelta(hours=k % 336), "updated_at": now, "created_at": now - timedelta(hours=k % 336)}
                for k in range(1, n_clusters + 1)
            ],
        )
        connection.execute(
            insert(Article),
            [
                {
                    "source_id": 1 + k % n_sources,
                    "cluster_id": 1 + k % n_clusters,
                    "item_key": f"k{k}",
                    "title": f"Meldung {k}",
                    "text": "",
                    "content_hash": f"{k:064x}",
                    "categories": [],
                    "published_at": now - timedelta(hours=k % 336),
                    "first_seen_at": now - timedelta(hours=k % 336),
                    "changed_at": now,
                }
                for k in range(1, n_articles + 1)
            ],
        )
        if engine.dialect.name == "sqlite":
            connection.execute(text("ANALYZE"))
    engine.dispose()


def timed(client: TestClient, path: str, rounds: int) -> tuple[float, int]:
    for _ in range(2):
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), len(response.content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--fetches", type=int, default=100_000)
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    logging.getLogger("syndicate.alerts").setLevel(logging.ERROR)  # the generated broken sources raise alerts
    with tempfile.TemporaryDirectory(prefix="ops-bench-") as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        migrate.upgrade(url)
        started = time.perf_counter()
        populate(url, args.sources, args.fetches, args.articles)
        print(
            f"database: {make_engine(url).dialect.name}; {args.sources} sources, {args.fetches} fetch-log rows, "
            f"{args.articles} articles (built in {time.perf_counter() - started:.1f} s)"
        )
        settings = Settings(
            database_url=url, broker_url=f"sqla+sqlite:///{tmp}/broker.db", var_dir=Path(tmp), ops_allow_networks="testclient"
        )
        with TestClient(create_app(settings)) as client:
            median, size = timed(client, "/ops", args.rounds)
            print(
                f"/ops                      median {median:7.1f} ms  ({size / 1024:.0f} KiB, {args.sources} rows)  "
                f"{'OK' if median < TARGET_MS else 'OVER'} (target < {TARGET_MS} ms)"
            )
            for path in ("/ops?state=problem", "/ops/sources/1", "/metrics"):
                other, size = timed(client, path, args.rounds)
                print(f"{path:<25} median {other:7.1f} ms  ({size / 1024:.0f} KiB)")
    sys.exit(0 if median < TARGET_MS else 1)


if __name__ == "__main__":
    main()
