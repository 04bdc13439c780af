"""Parse + normalise throughput over the real-world corpus, beside plain feedparser.parse.

Usage: .venv/bin/python bench/parse_throughput.py [--rounds 5] [--corpus ../shared/corpus/real-world]
Both sides get the same bytes in the same process and run; the figure is entries per second
(best of the rounds). "plain" is feedparser.parse with its defaults (its own sanitiser and
relative-URI resolution on); "syndicate" is our whole stage: parse (feedparser with its
sanitiser off) + normalise (nh3 sanitiser, canonical URLs, dates, text) + item keys.
"""

from __future__ import annotations

import argparse
import io
import time
from datetime import UTC, datetime
from pathlib import Path

import feedparser

from syndicate.reader import fingerprint
from syndicate.reader.errors import SyndicateError
from syndicate.reader.normalise import normalise_entry
from syndicate.reader.parse import parse

ROOT = Path(__file__).resolve().parent.parent


def load(corpus: Path) -> list[bytes]:
    return [p.read_bytes() for p in sorted(corpus.rglob("*")) if p.is_file() and p.suffix in (".xml", ".json", ".rss", ".atom")]


def plain(documents: list[bytes]) -> int:
    return sum(len(feedparser.parse(io.BytesIO(doc)).entries) for doc in documents)


def ours(documents: list[bytes]) -> int:
    now, count = datetime.now(UTC), 0
    for doc in documents:
        try:
            feed = parse(doc)
        except SyndicateError:
            continue
        for raw in feed.entries:
            entry = normalise_entry(raw, base=feed.link, now=now, future_tolerance=3600)
            fingerprint.item_key(entry)
            fingerprint.content_hash(entry)
            count += 1
    return count


def best(fn, documents: list[bytes], rounds: int) -> tuple[float, int]:
    times, entries = [], 0
    for _ in range(rounds):
        started = time.perf_counter()
        entries = fn(documents)
        times.append(time.perf_counter() - started)
    return min(times), entries


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus" / "real-world")
    args = parser.parse_args()
    documents = load(args.corpus)
    plain_time, plain_entries = best(plain, documents, args.rounds)
    our_time, our_entries = best(ours, documents, args.rounds)
    print(f"documents: {len(documents)}, {sum(map(len, documents)) / 1e6:.2f} MB")
    print(
        f"plain feedparser.parse : {plain_entries:5d} entries in {plain_time * 1000:8.1f} ms = {plain_entries / plain_time:8.0f} entries/s"
    )
    print(f"syndicate parse+normal.: {our_entries:5d} entries in {our_time * 1000:8.1f} ms = {our_entries / our_time:8.0f} entries/s")
    print(f"ratio (ours / plain, entries/s): {(our_entries / our_time) / (plain_entries / plain_time):.2f}")


if __name__ == "__main__":
    main()
