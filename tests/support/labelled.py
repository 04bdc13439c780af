"""Store the labelled deduplication set through the real store path and score it pairwise.

Used by tests/test_dedupe_labelled.py and bench/dedupe_thresholds.py. Each record is stored as
a one-item document of its source at its ``seen`` time, in that order; a record's prediction
is the cluster of the article it ended up in (its own row, or the row it updated).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from itertools import combinations
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from syndicate.dedupe import rules as dedupe
from syndicate.dedupe import store
from syndicate.models import Article, City, ItemAlias, Source
from syndicate.reader.fingerprint import item_keys
from syndicate.reader.normalise import Entry, canonical_url, normalise_entry
from syndicate.reader.parse import RawEntry

LABELLED = Path(__file__).resolve().parent.parent / "fixtures" / "dedupe" / "labelled.json"


def load(path: Path = LABELLED) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def entry_of(record: dict) -> Entry:
    raw = RawEntry(
        guid=record["guid"],
        link=record["link"],
        title=record["title"],
        summary=record["html"],
        published=datetime.fromisoformat(record["published"]),
    )
    return normalise_entry(raw, base=None, now=datetime.fromisoformat(record["seen"]), future_tolerance=3600)


def make_sources(session: Session, data: dict) -> dict[str, Source]:
    sources = {}
    for slug, meta in data["sources"].items():
        city = session.scalars(select(City).where(City.slug == slug)).first() or City(slug=slug, name=meta["name"], kind="city")
        source = Source(city=city, url=meta["url"], canonical_url=canonical_url(meta["url"]), origin="api", default_topics=[])
        session.add(source)
        sources[slug] = source
    session.flush()
    return sources


@dataclass(frozen=True)
class Outcome:
    article_id: int  # the row the record ended up in
    cluster_id: int


def run(session: Session, data: dict, policy: dedupe.Policy = dedupe.POLICY) -> dict[str, Outcome]:
    """Record id → its row and cluster after storing every record in ``seen`` order."""
    sources = make_sources(session, data)
    keys: dict[str, tuple[int, str]] = {}
    for record in data["records"]:
        source, entry = sources[record["source"]], entry_of(record)
        store.store_documents(session, [(source, [entry])], [], datetime.fromisoformat(record["seen"]), policy=policy)
        keys[record["id"]] = (source.id, item_keys([entry])[0])
    session.flush()
    result = {}
    for record_id, (source_id, key) in keys.items():
        article = stored_under(session, source_id, key)
        result[record_id] = Outcome(article.id, article.cluster_id)
    return result


def stored_under(session: Session, source_id: int, key: str) -> Article:
    """The article stored under this item key, or under it as a former key (re-keyed after a GUID change)."""
    article = session.scalar(select(Article).where(Article.source_id == source_id, Article.item_key == key))
    if article is None:
        alias = select(ItemAlias.article_id).where(ItemAlias.source_id == source_id, ItemAlias.item_key == key)
        article = session.get(Article, session.scalar(alias))
    return article


@dataclass
class Scores:
    pairs: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    missed: Counter = field(default_factory=Counter)  # (kind, kind) → same-story pairs split apart
    merged: list[tuple[str, str]] = field(default_factory=list)  # different stories put together (record ids)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def score(data: dict, outcomes: dict[str, Outcome], *, cross_source_only: bool = False) -> Scores:
    scores = Scores()
    for a, b in combinations(data["records"], 2):
        if cross_source_only and a["source"] == b["source"]:
            continue
        scores.pairs += 1
        gold, predicted = a["story"] == b["story"], outcomes[a["id"]].cluster_id == outcomes[b["id"]].cluster_id
        if gold and predicted:
            scores.tp += 1
        elif predicted:
            scores.fp += 1
            scores.merged.append((a["id"], b["id"]))
        elif gold:
            scores.fn += 1
            scores.missed[tuple(sorted((a["kind"], b["kind"])))] += 1
    return scores


def same_row_rate(data: dict, outcomes: dict[str, Outcome], kind: str) -> tuple[int, int]:
    """(records of ``kind`` stored in the row of an earlier record of their story and source, records of ``kind``)."""
    hits = total = 0
    for i, record in enumerate(data["records"]):
        if record["kind"] != kind:
            continue
        total += 1
        earlier = [r for r in data["records"][:i] if r["story"] == record["story"] and r["source"] == record["source"]]
        hits += any(outcomes[r["id"]].article_id == outcomes[record["id"]].article_id for r in earlier)
    return hits, total
