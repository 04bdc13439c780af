"""Which stored article tells the same story, and which one is the same item?

Across sources, a new article joins a cluster:

    same canonical URL (one that names a single item) or same content hash ──▶ that cluster
    LSH candidates published within ±window ──verified──▶ the cluster of the best match
    otherwise ──▶ a cluster of its own, with the article as its representative

Within one source, a new item key is not a new article when a stored item of the source that
is missing from the current document has the same canonical URL, or a similar title, a date
within two days and similar content: the item changed its GUID or URL (``previous_version``).

Verification compares word 3-shingles after leaving out sentences that recur in either
article's source (``syndicate.boilerplate``), wants similar titles unless the texts are very
close, and refuses titles whose numbers conflict ("Rathaus Umschau 12/2025" vs "13/2025").
``Policy`` holds the thresholds; they were chosen by measurement (bench/dedupe_thresholds.py)
and are checked on the labelled set in tests/test_dedupe_labelled.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from syndicate import boilerplate, clusters
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
HUB = 50  # this many articles with one canonical URL end a lookup: a hub page, not an item's own URL


@dataclass
class Probe:
    """One item's evidence and the LSH buckets of its full text (boilerplate is left out when verifying)."""

    source_id: int
    evidence: Evidence
    hashes: set[int]  # sentence hashes
    published_at: datetime
    buckets: list[tuple[int, int]]

    @property
    def counted(self) -> set[int]:
        """What the article adds to its source's counts: its sentences and its title."""
        title = self.evidence.title_hash
        return self.hashes | {title} if title is not None else self.hashes


@dataclass
class Comparison:
    article: Article
    content: float  # Jaccard of the shingles without boilerplate
    title: float  # title similarity
    conflict: bool  # the titles' numbers conflict
    thin: bool = False  # too little left without boilerplate: ``content`` is on the full texts
    same_source: bool = False
    generic_title: bool = False  # the title recurs in one of the sources


def html_of(article: Article) -> str:
    return article.content_html or article.summary_html or ""


def probe(source_id: int, title: str, html: str, text: str, published_at: datetime) -> Probe:
    evidence = Evidence.of(title, html, text)
    signature = neardup.minhash(evidence.shingles())
    return Probe(source_id, evidence, evidence.passage_hashes, published_at, neardup.buckets(signature, title))


def candidates(session: Session, found: Probe, policy: Policy = POLICY, exclude_id: int | None = None) -> list[Article]:
    """Stored articles sharing LSH buckets with the probe within the window, most shared buckets first."""
    if not found.buckets:
        return []
    hits = func.count().label("hits")
    query = (
        select(ArticleBucket.article_id, hits)
        .where(
            ArticleBucket.bucket.in_([bucket for _band, bucket in found.buckets]),
            ArticleBucket.published_at.between(found.published_at - policy.window, found.published_at + policy.window),
        )
        .group_by(ArticleBucket.article_id)
        .order_by(hits.desc(), ArticleBucket.article_id)
        .limit(policy.candidates + 1)
    )
    ranked = [article_id for article_id, _hits in session.execute(query) if article_id != exclude_id][: policy.candidates]
    by_id = {a.id: a for a in session.scalars(select(Article).where(Article.id.in_(ranked)))} if ranked else {}
    return [by_id[i] for i in ranked if i in by_id]


def compare(session: Session, found: Probe, others: list[Article], policy: Policy = POLICY) -> list[Comparison]:
    """Each stored article against the probe, without the sentences that recur in either source."""
    if not others:
        return []
    evidences = {a.id: Evidence.of(a.title, html_of(a), a.text) for a in others}
    theirs = {a.id: evidences[a.id].passage_hashes | {evidences[a.id].title_hash} - {None} for a in others}
    counted = boilerplate.counts(session, {found.source_id, *(a.source_id for a in others)}, found.counted.union(*theirs.values()))
    results = []
    for other in others:
        same_source = other.source_id == found.source_id
        both = found.counted | theirs[other.id]
        skip = boilerplate.common(counted, found.source_id, both, stored=theirs[other.id] if same_source else ())
        skip |= boilerplate.common(counted, other.source_id, both, stored=theirs[other.id])
        left, right = found.evidence.shingles(skip), evidences[other.id].shingles(skip)
        thin = min(len(left), len(right)) < policy.thin
        if thin:
            left, right = found.evidence.shingles(), evidences[other.id].shingles()
        title = found.evidence.title
        generic = bool({found.evidence.title_hash, evidences[other.id].title_hash} & skip)
        results.append(Comparison(
            other, neardup.jaccard(left, right), neardup.title_similarity(title, other.title),
            neardup.numbers_conflict(title, other.title), thin, same_source, generic,
        ))
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


def previous_version(session: Session, source_id: int, canonical_url: str | None, found: Probe, near: list[Article],
                     present_keys: set[str], policy: Policy = POLICY) -> Article | None:
    """A stored item of this source that the new item key replaces (a changed GUID or URL), if any."""
    if canonical_url:
        # by the canonical-URL index alone: with the source too, SQLite would walk the source's index
        with_url = session.scalars(select(Article).where(Article.canonical_url == canonical_url).limit(HUB)).all()
        same_url = [a for a in with_url if a.source_id == source_id]
        if len(with_url) < HUB and len(same_url) == 1 and same_url[0].item_key not in present_keys:
            (c,) = compare(session, found, same_url, policy)
            close = abs(c.article.published_at - found.published_at) <= policy.item_window
            if not c.conflict and (close and c.title >= 0.5 or c.content >= policy.item_content):
                return c.article
    mine = [a for a in near if a.source_id == source_id and a.item_key not in present_keys]
    matches = [c for c in compare(session, found, mine, policy) if same_item(c, found, policy)]
    return max(matches, key=lambda c: c.content).article if matches else None


def _exact_match(session: Session, article: Article) -> Article | None:
    """Same content hash, or the same canonical URL when that URL names one item in every source using it."""
    match = session.scalars(
        select(Article)
        .where(Article.content_hash == article.content_hash, Article.id != article.id, Article.cluster_id.is_not(None))
        .order_by(Article.published_at, Article.id)
        .limit(1)
    ).first()
    if match is not None or not article.canonical_url:
        return match
    rows = session.execute(
        select(Article.id, Article.source_id, Article.published_at, Article.cluster_id)
        .where(Article.canonical_url == article.canonical_url, Article.id != article.id)
        .limit(HUB)
    ).all()
    sources = [row.source_id for row in rows]
    if article.source_id in sources or len(sources) != len(set(sources)) or len(rows) == HUB:
        return None  # a hub URL (a newsroom page that many items link to), not an item's own
    clustered = sorted((row.published_at, row.id) for row in rows if row.cluster_id is not None)
    return session.get(Article, clustered[0][1]) if clustered else None


def index(session: Session, article_id: int, found: Probe) -> None:
    session.execute(delete(ArticleBucket).where(ArticleBucket.article_id == article_id))
    if found.buckets:
        session.execute(insert(ArticleBucket), [
            {"article_id": article_id, "band": band, "bucket": bucket, "published_at": found.published_at}
            for band, bucket in found.buckets
        ])


def add(session: Session, article: Article, found: Probe, near: list[Article], policy: Policy = POLICY) -> bool:
    """Cluster a newly inserted article, index it and count its sentences; True when it joined a cluster."""
    match = _exact_match(session, article)
    clustered = [a for a in near if a.cluster_id is not None and a.id != article.id]
    verified = sorted((c for c in compare(session, found, clustered, policy) if same_story(c, policy)),
                      key=lambda c: (-c.content, -c.title, c.article.id))
    match = match or (verified[0].article if verified else None)
    joined = clusters.join(session, article, match)
    if bridged := {c.article.cluster_id for c in verified} - {article.cluster_id}:
        clusters.merge(session, article.cluster_id, bridged)
    index(session, article.id, found)
    if not joined or not clusters.has_other_from_source(session, article):  # one story counts once per source
        boilerplate.record(session, article.source_id, found.counted)
    return joined


def assign_cluster(session: Session, article: Article, policy: Policy = POLICY) -> bool:
    """Cluster a stored article that has no cluster yet (the probe is computed from the row)."""
    found = probe(article.source_id, article.title, html_of(article), article.text, article.published_at)
    return add(session, article, found, candidates(session, found, policy, exclude_id=article.id), policy)


def refresh(session: Session, article: Article) -> None:
    """After an edit in place: new buckets, the same cluster, its change time moved on."""
    index(session, article.id, probe(article.source_id, article.title, html_of(article), article.text, article.published_at))
    clusters.touch(session, article)
