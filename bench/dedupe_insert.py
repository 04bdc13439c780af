"""Time per stored article with 1,000 and with 100,000 articles already stored (SQLite).

    .venv/bin/python bench/dedupe_insert.py [--sizes 1000 100000] [--measure 400] [--same-span]

For each size a fresh SQLite file gets the schema (migrations) and the stored articles in bulk:
synthetic German-like press texts from 40 sources with a footer per source, their clusters,
LSH buckets and per-source sentence counts, published at a steady rate (150 a day) over a
history as long as the size needs; ``--same-span`` squeezes every size into the same 30 days
instead (the near-duplicate window then holds 100× more articles at 100,000).

Then ``--measure`` new items go through the real store path (``store_documents``: tombstone
check, key lookup, previous-version check, insert, exact and near-duplicate clustering,
buckets, sentence counts, topics with the real rules) in documents of 10 items, committed per
document as a refresh does: 60 % new stories, 25 % near-duplicate republications of recent
stored articles (new lead sentence, own footer), 15 % exact copies. Prints milliseconds per
article for each size and the ratio; the acceptance bound is a ratio below 2.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import dedupe_corpus as corpus  # noqa: E402
from sqlalchemy import insert, select  # noqa: E402

from syndicate import db as migrate  # noqa: E402
from syndicate.db import make_engine, make_session_factory  # noqa: E402
from syndicate.dedupe.rules import epoch  # noqa: E402
from syndicate.dedupe.store import store_documents  # noqa: E402
from syndicate.models import Article, ArticleBucket, City, Cluster, Source, SourcePassage  # noqa: E402
from syndicate.reader import neardup  # noqa: E402
from syndicate.reader.fingerprint import normalised_text  # noqa: E402
from syndicate.reader.normalise import normalise_entry  # noqa: E402
from syndicate.reader.parse import RawEntry  # noqa: E402
from syndicate.sources import registry  # noqa: E402
from syndicate.topics import rules as topics  # noqa: E402

SOURCES = 40
PER_DAY = 150
END = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
STEMS = [
    "Stadt",
    "Bürger",
    "Verkehr",
    "Schul",
    "Bau",
    "Rat",
    "Wasser",
    "Park",
    "Energie",
    "Kultur",
    "Sport",
    "Sozial",
    "Jugend",
    "Umwelt",
    "Wohn",
    "Straßen",
    "Gesundheit",
    "Feuerwehr",
    "Markt",
    "Kinder",
    "Senioren",
    "Rad",
    "Bus",
    "Bahn",
    "Garten",
    "Friedhof",
    "Museum",
    "Theater",
    "Bibliothek",
    "Klima",
]
ENDS = [
    "amt",
    "platz",
    "weg",
    "haus",
    "zentrum",
    "projekt",
    "plan",
    "rat",
    "netz",
    "werk",
    "verein",
    "fest",
    "bericht",
    "konzept",
    "förderung",
    "sanierung",
    "ausbau",
    "programm",
    "beirat",
    "gebühr",
    "satzung",
    "kasse",
    "büro",
    "leitung",
]


def vocabulary() -> list[str]:
    words = {w for story in corpus.SHARED + corpus.LOCAL for s in story["body"] for w in s.rstrip(".").split() if w.isalpha()}
    return sorted(words | {stem + end for stem in STEMS for end in ENDS})


class Texts:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.words = vocabulary()

    def sentence(self) -> str:
        words = self.rng.choices(self.words, k=self.rng.randint(8, 14))
        return " ".join(words).capitalize() + "."

    def story(self) -> tuple[str, list[str]]:
        title = " ".join(self.rng.choices(self.words, k=self.rng.randint(5, 9)))
        return title[:1].upper() + title[1:], [self.sentence() for _ in range(self.rng.randint(5, 8))]


def footer(source_index: int) -> str:
    return f"Pressestelle der Kommune {source_index}, Rathausplatz {source_index}, Telefon 0911 {1000 + source_index}."


def html_of(sentences: list[str]) -> str:
    return "".join(f"<p>{s}</p>" for s in sentences)


def setup(url: str, size: int, same_span: bool, texts: Texts) -> tuple[list[int], list[tuple[str, list[str], int, datetime]]]:
    """Schema, sources and ``size`` stored articles in bulk; returns source ids and the stories of the last days."""
    migrate.upgrade(url)
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        registry.sync(session, registry.load_registry(ROOT / "feeds"))  # the real topic rules
        for i in range(SOURCES):
            session.add(
                Source(
                    city=City(slug=f"kommune-{i}", name=f"Kommune {i}"),
                    url=f"https://kommune-{i}.example/rss",
                    canonical_url=f"https://kommune-{i}.example/rss",
                    origin="api",
                    default_topics=[],
                )
            )
        session.commit()
        source_ids = list(session.scalars(select(Source.id).order_by(Source.id)))
    span = timedelta(days=30) if same_span else timedelta(days=size / PER_DAY)
    recent, articles, clusters, buckets, passages = [], [], [], [], Counter()
    for n in range(1, size + 1):
        index = n % SOURCES
        title, body = texts.story()
        sentences = body + [footer(index)]
        published = END - span + span * n / size
        text = " ".join(sentences)
        evidence = neardup.Evidence.of(title, html_of(sentences), text)
        signature = neardup.minhash(evidence.words)
        clusters.append({"id": n, "representative_id": n, "published_at": published, "updated_at": published, "created_at": published})
        articles.append(
            {
                "id": n,
                "source_id": source_ids[index],
                "cluster_id": n,
                "item_key": hashlib.sha256(f"k{n}".encode()).hexdigest(),
                "guid": f"g{n}",
                "url": f"https://kommune-{index}.example/n/{n}",
                "canonical_url": f"https://kommune-{index}.example/n/{n}",
                "title": title,
                "summary_html": html_of(sentences),
                "content_html": "",
                "text": text,
                "content_hash": hashlib.sha256((normalised_text(title) + "\n" + normalised_text(text)).encode()).hexdigest(),
                "author": None,
                "categories": [],
                "language": "de",
                "published_at": published,
                "updated_at": None,
                "first_seen_at": published,
                "changed_at": published,
            }
        )
        buckets += [{"bucket": bucket, "published": epoch(published), "article_id": n} for bucket in neardup.buckets(signature, title)]
        passages.update((source_ids[index], h) for h in evidence.passage_hashes | {evidence.title_hash})
        if published > END - timedelta(days=2):
            recent.append((title, body, index, published))
        if len(articles) == 5000 or n == size:
            _flush(engine, clusters, articles, buckets)
    with engine.begin() as connection:
        rows = [{"source_id": s, "passage": h, "articles": c} for (s, h), c in passages.items()]
        for start in range(0, len(rows), 20000):
            connection.execute(insert(SourcePassage), rows[start : start + 20000])
    engine.dispose()
    return source_ids, recent


def _flush(engine, clusters: list, articles: list, buckets: list) -> None:
    with engine.begin() as connection:
        connection.execute(insert(Cluster), clusters)
        connection.execute(insert(Article), articles)
        connection.execute(insert(ArticleBucket), buckets)
    clusters.clear(), articles.clear(), buckets.clear()


def new_items(texts: Texts, recent: list, count: int, start: int) -> list[tuple[int, RawEntry]]:
    """(source index, raw item): new stories, near-duplicate republications and exact copies."""
    rng, items = texts.rng, []
    for n in range(start, start + count):
        kind, index = rng.random(), rng.randrange(SOURCES)
        published = END - timedelta(hours=rng.randint(0, 40))
        if kind < 0.6 or not recent:
            title, body = texts.story()
        else:
            title, body, origin, published = rng.choice(recent)
            index = (origin + rng.randint(1, SOURCES - 1)) % SOURCES
            if kind < 0.85:  # a republication with its own lead and without the last sentence
                body = [f"Die Kommune {index} gibt die folgende Mitteilung weiter.", *body[1:-1]]
        raw = RawEntry(
            guid=f"new-{n}",
            link=f"https://kommune-{index}.example/neu/{n}",
            title=title,
            summary=html_of(body + [footer(index)]),
            published=published,
        )
        items.append((index, raw))
    return items


def measure(url: str, source_ids: list[int], items: list[tuple[int, RawEntry]]) -> float:
    """Milliseconds per stored article, stored in documents of 10 items (one commit each)."""
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    elapsed = 0.0
    with sessions() as session:
        rules = topics.load_rules(session)
        sources = {i: session.get(Source, source_ids[i]) for i in range(SOURCES)}
        for start in range(0, len(items), 10):
            document: dict[int, list] = {}
            for index, raw in items[start : start + 10]:
                document.setdefault(index, []).append(normalise_entry(raw, base=None, now=END, future_tolerance=3600))
            began = time.perf_counter()
            for index, entries in document.items():
                store_documents(session, [(sources[index], entries)], rules, END)
            session.commit()
            elapsed += time.perf_counter() - began
    engine.dispose()
    return elapsed * 1000 / len(items)


def run(size: int, count: int, same_span: bool) -> tuple[float, float]:
    texts = Texts(seed=size)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        began = time.perf_counter()
        source_ids, recent = setup(url, size, same_span, texts)
        built = time.perf_counter() - began
        measure(url, source_ids, new_items(texts, recent, 50, start=0))  # warm-up: caches and compiled statements
        runs = [measure(url, source_ids, new_items(texts, recent, count, start=(i + 1) * 100000)) for i in range(3)]
        size_mb = Path(f"{tmp}/bench.db").stat().st_size / 1e6
    per_article = statistics.median(runs)
    print(
        f"{size:>7,} stored: {per_article:6.2f} ms per inserted article (runs {', '.join(f'{r:.2f}' for r in runs)}; "
        f"setup {built:.0f} s, database {size_mb:.0f} MB)",
        flush=True,
    )
    return per_article, built


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=[1000, 100000])
    parser.add_argument("--measure", type=int, default=400, help="articles stored per timed run (three runs)")
    parser.add_argument("--same-span", action="store_true", help="all sizes published within the same 30 days")
    args = parser.parse_args()
    small, _ = run(args.sizes[0], args.measure, args.same_span)
    large, _ = run(args.sizes[1], args.measure, args.same_span)
    ratio = large / small
    print(f"ratio {args.sizes[1]:,} / {args.sizes[0]:,}: {ratio:.2f} ({'within' if ratio <= 2 else 'NOT within'} 2x)")
    sys.exit(0 if ratio <= 2 else 1)


if __name__ == "__main__":
    main()
