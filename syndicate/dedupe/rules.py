"""Which stored article tells the same story, and which one is the same item?

Across sources, a new article joins a cluster:

    same canonical URL (one that names a single item) or same content hash ──▶ that cluster
    LSH candidates published within ±window ──verified──▶ the cluster of the best match
    otherwise ──▶ a cluster of its own, with the article as its representative

Within one source, a new item key is not a new article when a stored item of the source that
is missing from the current document has the same canonical URL, or a similar title, a date
within two days and similar content: the item changed its GUID or URL (``previous_version``).

Verification compares word 3-shingles after leaving out sentences that recur in either
article's source (``syndicate.dedupe.boilerplate``), wants similar titles unless the texts are very
close, and refuses titles whose numbers conflict ("Rathaus Umschau 12/2025" vs "13/2025").
``Policy`` holds the thresholds; they were chosen by measurement (bench/dedupe_thresholds.py)
and are checked on the labelled set in tests/test_dedupe_labelled.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from sqlalchemy import bindparam, delete, insert
from sqlalchemy.orm import Session

from syndicate.dedupe import boilerplate, clusters
from syndicate.models import Article, ArticleBucket
from syndicate.reader import neardup
from syndicate.reader.neardup import Evidence


@dataclass(frozen=True)
class Policy:
    window: timedelta = timedelta(days=10)  # near duplicates are looked for this far before and after
    strong: float = 0.5  # shingle Jaccard that is enough on its own
    weak: float = 0.3  # shingle Jaccard that is enough with similar titles
    title: float = 0.5  # title similarity wanted with ``weak``
    same_source: float = 0.8  # two different items of one source: shingle Jaccard wanted
    item_title: float = 0.75  # the same item under a new key: title similarity (as NewsBlur) …
    item_content: float = 0.5  # … shingle Jaccard …
    item_window: timedelta = timedelta(days=2)  # … and dates this close
    thin: int = 4  # fewer shingles left without boilerplate: compare full texts, strictly
    candidates: int = 20


POLICY = Policy()


def epoch(moment: datetime) -> int:
    return math.floor(moment.timestamp())


HUB = 50  # this many articles with one canonical URL end a lookup: a hub page, not an item's own URL


@dataclass
class Probe:
    """One item's evidence and the LSH buckets of its full text (boilerplate is left out when verifying)."""

    source_id: int
    evidence: Evidence
    hashes: frozenset[int]  # sentence hashes
    published_at: datetime
    buckets: list[int]  # distinct bucket ids (neardup.buckets)

    @cached_property
    def published(self) -> int:
        """``published_at`` as stored with the buckets: whole seconds since 1970."""
        return epoch(self.published_at)

    @cached_property
    def counted(self) -> frozenset[int]:
        """What the article adds to its source's counts: its sentences and its title."""
        return counted_hashes(self.evidence)


# What the rules read of an article: an ``Article``, a row of its columns, or an item pending in a
# batch. They share the attribute names, and the rules rely on nothing else.
ArticleLike = Any


@dataclass
class Comparison:
    article: ArticleLike
    content: float  # Jaccard of the shingles without boilerplate
    title: float  # title similarity
    conflict: bool  # the titles' numbers conflict
    thin: bool = False  # too little left without boilerplate: ``content`` is on the full texts
    same_source: bool = False
    generic_title: bool = False  # the title recurs in one of the sources


def counted_hashes(evidence: Evidence) -> frozenset[int]:
    """An item's sentences and its title, the hashes its source's boilerplate counts are kept by."""
    title = evidence.title_hash
    return evidence.passage_hashes | {title} if title is not None else evidence.passage_hashes


def html_of(article: ArticleLike) -> str:
    return article.content_html or article.summary_html or ""


def probe(source_id: int, title: str, html: str, text: str, published_at: datetime, blocks: str | None = None) -> Probe:
    """``blocks``: the html's ``normalise.block_text``, when normalising made it already."""
    return probes(source_id, [(title, html, text, published_at, blocks)])[0]


def probes(source_id: int, items: list[tuple[str, str, str, datetime, str | None]]) -> list[Probe]:
    """``probe`` of each (title, html, text, published_at, blocks) of one source, the signatures and
    bands of all computed together (``neardup.minhashes``): the same probes, for less work."""
    evidence = [Evidence.of(title, html, text, blocks) for title, html, text, _published, blocks in items]
    signatures = neardup.minhashes([e.words for e in evidence])
    buckets = neardup.bucket_lists(signatures, [title for title, *_rest in items])
    return [Probe(source_id, e, e.passage_hashes, item[3], found) for e, item, found in zip(evidence, items, buckets)]


def compare(
    found: Probe, others: list, evidence: dict[int, Evidence], counted: dict[tuple[int, int], int], policy: Policy = POLICY
) -> list[Comparison]:
    """Each stored (or pending) article against the probe, without the sentences that recur in either source.

    ``evidence`` holds each other article's evidence by id; ``counted`` the boilerplate counts of
    (source, sentence) for the pairs the comparisons look up (``boilerplate.counts``)."""
    results = []
    for other in others:
        theirs_evidence = evidence[other.id]
        theirs = counted_hashes(theirs_evidence)
        same_source = other.source_id == found.source_id
        both = found.counted | theirs
        skip = boilerplate.common(counted, found.source_id, both, stored=theirs if same_source else ())
        skip |= boilerplate.common(counted, other.source_id, both, stored=theirs)
        left, right = found.evidence.shingles(skip), theirs_evidence.shingles(skip)
        thin = min(len(left), len(right)) < policy.thin
        if thin:
            left, right = found.evidence.shingles(), theirs_evidence.shingles()
        title = found.evidence.title
        generic = bool({found.evidence.title_hash, theirs_evidence.title_hash} & skip)
        results.append(
            Comparison(
                other,
                neardup.jaccard(left, right),
                neardup.title_similarity(title, other.title),
                neardup.numbers_conflict(title, other.title),
                thin,
                same_source,
                generic,
            )
        )
    return results


def same_story(c: Comparison, policy: Policy = POLICY) -> bool:
    if c.conflict:
        return False
    if c.same_source:  # two items of one source: recurring formats look alike, so only near-copies
        return c.content >= policy.same_source
    title = 0.0 if c.generic_title else c.title
    if c.thin:
        return title >= 0.9 and c.content >= policy.strong
    return c.content >= policy.strong or (c.content >= policy.weak and title >= policy.title)


def same_item(c: Comparison, found: Probe, policy: Policy = POLICY) -> bool:
    close = abs(c.article.published_at - found.published_at) <= policy.item_window
    return close and not c.conflict and c.title >= policy.item_title and c.content >= policy.item_content


def _keys(article_id: int, found: Probe) -> list[dict]:
    return [{"bucket": bucket, "published": found.published, "article_id": article_id} for bucket in sorted(found.buckets)]


def stored_probe(article: Article) -> Probe:
    """The probe of an article as stored: its bucket rows are those of this probe."""
    return probe(article.source_id, article.title, html_of(article), article.text or "", article.published_at)


_UNINDEX = delete(ArticleBucket).where(
    ArticleBucket.bucket == bindparam("bucket"),
    ArticleBucket.published == bindparam("published"),
    ArticleBucket.article_id == bindparam("article_id"),
)


def unindex(session: Session, article_id: int, before: Probe) -> None:
    """Delete an article's bucket rows by their key (``before``: its probe as it was stored, ``stored_probe``)."""
    if keys := _keys(article_id, before):
        session.connection().execute(_UNINDEX, keys)


def index(session: Session, article_id: int, found: Probe, before: Probe | None = None) -> None:
    """The article's bucket rows for ``found``, in place of those for ``before``."""
    if before is not None:
        unindex(session, article_id, before)
    if keys := _keys(article_id, found):
        session.execute(insert(ArticleBucket), keys)


def refresh(session: Session, article: Article, before: Probe) -> None:
    """After an edit in place: new buckets (``before``: the probe of the article before the edit), the
    same cluster, its change time moved on."""
    index(session, article.id, stored_probe(article), before)
    clusters.touch(session, article)
