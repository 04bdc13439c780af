"""The portal at scale: a topic page and searches over 100,000 stories, and what the search index costs.

Usage: .venv/bin/python bench/portal.py [--stories 100000] [--requests 200] [--database-url URL]

Builds a fresh database (a temporary SQLite file, or the given PostgreSQL database, which is emptied)
with ``--stories`` stories from three cities, German text from a fixed vocabulary (a few words common,
one word rare), one topic each; then
  1. builds the search index: SQLite stems every article in Python (``search.index.catch_up``), reported
     per article and as the index's size; PostgreSQL's generated column is computed on insert, so the
     insert is timed with and without it (the column dropped) instead;
  2. requests /themen/{slug} through the app (first page and pages behind a cursor): p50/p95 (target p95 < 50 ms);
  3. requests /suche?q=… for a common word, a rare word, a compound's head and two words: p50/p95 (target p95 < 100 ms).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402

from syndicate import db as migrate  # noqa: E402
from syndicate.db import make_engine, make_session_factory  # noqa: E402
from syndicate.models import Article, ArticleTopic, Base, City, Cluster, Source, Topic  # noqa: E402
from syndicate.search import index as search_index  # noqa: E402
from syndicate.settings import Settings  # noqa: E402
from syndicate.web.app import create_app  # noqa: E402

TOPICS = [
    ("klimaschutz", "Klimaschutz"),
    ("mobilitaet", "Mobilität"),
    ("digitalisierung", "Digitalisierung"),
    ("buergerservice", "Bürgerservice"),
]
WORDS = [
    "Stadtrat",
    "Bürgerbüro",
    "Schulen",
    "Radwege",
    "Haushalt",
    "Digitalisierungsstrategie",
    "Photovoltaik",
    "Öffnungszeiten",
    "Baustelle",
    "Kindergarten",
    "Feuerwehr",
    "Bibliothek",
    "Sanierung",
    "Wohnungsbau",
    "Straßenbahn",
    "Bürgerversammlung",
    "Förderprogramm",
    "Klimaschutzkonzept",
    "Ausschreibung",
    "Verkehrsversuch",
    "Parkplätze",
    "Spielplatz",
    "Sportanlage",
    "Hallenbad",
    "Friedhof",
    "Wertstoffhof",
    "Müllabfuhr",
    "Stadtwerke",
    "Energieberatung",
    "Ausstellung",
    "Konzert",
    "Stadtfest",
    "Wahlhelfer",
    "Impfaktion",
    "Hitzeschutz",
    "Baumpflanzung",
    "Grünflächen",
    "Umleitung",
    "Sperrung",
    "Ferienprogramm",
]
FILLER = ["die", "der", "und", "in", "mit", "für", "auf", "am", "im", "zum", "von", "den", "wird", "werden", "hat", "ab", "bis", "nach"]
RARE = "Zwetschgendatschi"  # in one story in ten thousand


def story_text(rng: random.Random, i: int) -> tuple[str, str]:
    words = rng.sample(WORDS, 6)
    title = f"{words[0]} und {words[1]}: {words[2]} im Stadtteil {i % 97}"
    body = [w for _ in range(5) for w in (rng.choice(FILLER), rng.choice(WORDS), rng.choice(FILLER), rng.choice(words))]
    if i % 10_000 == 7:
        body.append(RARE)
    return title, " ".join(body) + "."


def populate(url: str, stories: int) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        Base.metadata.drop_all(connection)
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        if engine.dialect.name == "sqlite":  # the search index is no model table: drop_all leaves it
            connection.execute(text("DROP TABLE IF EXISTS article_search"))
            connection.execute(text("DROP TABLE IF EXISTS article_search_pending"))
    engine.dispose()
    migrate.upgrade(url)
    engine = make_engine(url)
    rng = random.Random(7)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    with engine.begin() as connection:
        connection.execute(
            insert(Topic), [{"id": i + 1, "slug": s, "title": t, "categories": [], "keywords": []} for i, (s, t) in enumerate(TOPICS)]
        )
        names = (("muenchen", "Landeshauptstadt München"), ("augsburg", "Stadt Augsburg"), ("nuernberg", "Stadt Nürnberg"))
        connection.execute(insert(City), [{"id": i + 1, "slug": s, "name": n, "kind": "city"} for i, (s, n) in enumerate(names)])
        connection.execute(
            insert(Source),
            [
                {"id": i + 1, "city_id": i + 1, "url": f"https://{s}.example/rss", "canonical_url": f"https://{s}.example/rss"}
                for i, (s, _) in enumerate(names)
            ],
        )
        for first in range(0, stories, 5000):
            ids = range(first + 1, min(first + 5000, stories) + 1)
            dates = {i: start + timedelta(minutes=7 * i) for i in ids}
            connection.execute(
                insert(Cluster), [{"id": i, "representative_id": i, "published_at": dates[i], "updated_at": dates[i]} for i in ids]
            )
            rows = []
            for i in ids:
                title, body = story_text(rng, i)
                rows.append(
                    {
                        "id": i,
                        "source_id": 1 + i % 3,
                        "cluster_id": i,
                        "item_key": str(i),
                        "url": f"https://stadt.example/{i}",
                        "title": title,
                        "text": body,
                        "summary_html": f"<p>{body}</p>",
                        "content_hash": str(i),
                        "simhash": 0,
                        "categories": [],
                        "published_at": dates[i],
                        "changed_at": dates[i],
                    }
                )
            connection.execute(insert(Article), rows)
            connection.execute(insert(ArticleTopic), [{"article_id": i, "topic_id": 1 + i % len(TOPICS), "reason": "keyword"} for i in ids])
    # statistics and a merged GIN pending list, as autovacuum leaves them on a database in service
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE")
    engine.dispose()


def sqlite_pages(connection) -> int:
    return connection.exec_driver_sql("PRAGMA page_count").scalar() * connection.exec_driver_sql("PRAGMA page_size").scalar()


def build_index(url: str, stories: int) -> None:
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            before = sqlite_pages(connection)
        with sessions() as session:
            started = time.perf_counter()
            done = search_index.catch_up(session)
            seconds = time.perf_counter() - started
        with engine.connect() as connection:
            after = sqlite_pages(connection)
        print(
            f"index build (SQLite FTS5, stems in Python): {done:,} articles in {seconds:.1f} s = {seconds / done * 1000:.3f} ms per article"
        )
        print(f"index size: {(after - before) / 1e6:.1f} MB (database file {after / 1e6:.1f} MB)")
    else:
        with engine.begin() as connection:
            size = connection.execute(
                text(
                    "SELECT sum(pg_column_size(search)), pg_relation_size('ix_articles_search'), pg_total_relation_size('articles') FROM articles"
                )
            ).one()
        print(
            f"index size (PostgreSQL): tsvector column {size[0] / 1e6:.1f} MB, GIN index {size[1] / 1e6:.1f} MB (articles in all {size[2] / 1e6:.1f} MB)"
        )
        time_pg_insert(engine, stories)
    engine.dispose()


def time_pg_insert(engine, stories: int, n: int = 5000) -> None:
    """Insert cost per article with and without the generated column (in a transaction that is rolled back)."""
    rng = random.Random(11)
    rows = []
    for i in range(n):
        title, body = story_text(rng, i)
        rows.append(
            {
                "id": stories + 1 + i,  # the bench wrote its ids itself, so the sequence has not moved
                "source_id": 1,
                "item_key": f"x{i}",
                "title": title,
                "text": body,
                "content_hash": "x",
                "simhash": 0,
                "categories": [],
                "published_at": datetime(2030, 1, 1, tzinfo=UTC),
                "changed_at": datetime(2030, 1, 1, tzinfo=UTC),
            }
        )
    figures = {}
    for label, drop in (("with index", False), ("without", True)):
        with engine.connect() as connection:
            transaction = connection.begin()
            if drop:
                connection.execute(text("ALTER TABLE articles DROP COLUMN search"))
            started = time.perf_counter()
            connection.execute(insert(Article), rows)
            figures[label] = (time.perf_counter() - started) / n * 1000
            transaction.rollback()
    extra = figures["with index"] - figures["without"]
    print(
        f"insert per article: {figures['with index']:.3f} ms with the tsvector column and GIN index, {figures['without']:.3f} ms without (+{extra:.3f} ms)"
    )


def timed(client: TestClient, paths: list[str]) -> tuple[float, float, float]:
    """p50 and p95 wall time, and the mean CPU time of the process (the app runs in the client's thread:
    on a shared machine the wall time includes waiting for a core, the CPU time does not)."""
    runs = []
    cpu_started = time.process_time()
    for path in paths:
        started = time.perf_counter()
        response = client.get(path)
        runs.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    cpu = (time.process_time() - cpu_started) / len(paths) * 1000
    runs.sort()
    return statistics.median(runs), runs[int(len(runs) * 0.95) - 1], cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stories", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/portal.db"
        started = time.perf_counter()
        populate(url, args.stories)
        print(f"{args.stories:,} stories on {url.split(':')[0]} written in {time.perf_counter() - started:.1f} s")
        build_index(url, args.stories)
        settings = Settings(database_url=url, feeds_dir=Path(tmp), var_dir=Path(tmp) / "var", feed_cache_seconds=0.0)
        rng = random.Random(3)
        with TestClient(create_app(settings)) as client:
            cursors = {}
            for slug, _ in TOPICS:  # the cursor of a page some way back, as a reader paging down gets it
                html = client.get(f"/themen/{slug}").text
                cursors[slug] = html.split("?vor=")[1].split('"')[0] if "?vor=" in html else ""
            pages = [
                f"/themen/{slug}" + (f"?vor={cursors[slug]}" if i % 2 else "")
                for i in range(args.requests)
                for slug in [rng.choice(TOPICS)[0]]
            ]
            timed(client, pages[:10])  # warm-up
            p50, p95, cpu = timed(client, pages)
            print(f"topic page: p50 {p50:.1f} ms, p95 {p95:.1f} ms, CPU {cpu:.1f} ms over {len(pages)} requests (target p95 < 50 ms)")
            for label, q in (
                ("common word", "Stadtrat"),
                ("rare word", RARE),
                ("compound head", "Digitalisierung"),
                ("two words", "Schulen Baustelle"),
                ("umlauts spelled out", "Buergerbuero"),
            ):
                p50, p95, cpu = timed(client, [f"/suche?q={q}"] * max(20, args.requests // 4))
                print(f"search {label:20} ({q}): p50 {p50:.1f} ms, p95 {p95:.1f} ms, CPU {cpu:.1f} ms (target p95 < 100 ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
