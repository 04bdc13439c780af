"""The new items of a group of documents (one per source; often just one), clustered together: a few
queries to read, a few to write.

    Batch(probes, urls, hashes) ── reads once: shared LSH buckets, same content hashes, same
        canonical URLs, those articles, the boilerplate counts of their sources
    for each new item, document after document, in document order:
        previous_version()  a stored item of the source that it replaces (a changed GUID/URL)?
        add()               otherwise: exact match or verified near duplicate → cluster (in memory)
    write() ── articles (INSERT … ON CONFLICT DO NOTHING), clusters, buckets, sentence counts, topics

The decisions are those of ``syndicate.dedupe.rules`` (one rule set); only the reads and writes are
batched. Items decided earlier in the batch are visible to later ones, exactly as if they had
been stored one by one: they are "pending" articles with provisional (negative) ids until written.
An item that another worker stored between our read and our write is dropped at the write (the
unique key refuses it), and nothing that depended on it is lost: clusters are formed from the
items actually written.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, lru_cache
from itertools import chain, islice
from typing import Any

import numpy
from sqlalchemy import BindParameter, Row, Table, bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from syndicate.db import placeholder
from syndicate.dedupe import boilerplate, clusters
from syndicate.dedupe.rules import (
    HUB,
    POLICY,
    ArticleLike,
    Comparison,
    Policy,
    Probe,
    compare,
    counted_hashes,
    html_of,
    same_item,
    same_story,
)
from syndicate.models import Article, Cluster, Source, UTCDateTime
from syndicate.reader.neardup import Evidence
from syndicate.topics import rules as topics

_UPSERT: dict[str, Callable[[Table], sqlite.Insert | postgresql.Insert]] = {"sqlite": sqlite_insert, "postgresql": postgresql_insert}
CHUNK = 400  # bounded IN lists

# built once: an expanding IN parameter is bound as a list, not coerced element by element
_KEYS: BindParameter[Any] = bindparam("keys", expanding=True)
_BY_BUCKET = "SELECT bucket, article_id, published FROM article_buckets WHERE bucket IN ({keys}) AND published BETWEEN {mark} AND {mark}"
# stored articles are read as plain rows (what the rules compare), not as ORM objects: one is made an
# ORM object only when the store is going to change it (a previous version, see ``_stored``)
_COMPARED = [
    Article.id,
    Article.source_id,
    Article.item_key,
    Article.title,
    Article.text,
    Article.content_html,
    Article.summary_html,
    Article.published_at,
    Article.canonical_url,
    Article.content_hash,
    Article.cluster_id,
    Article.changed_at,
]
_BY_HASH = select(*_COMPARED).where(Article.content_hash.in_(_KEYS), Article.cluster_id.is_not(None))
_URL_USE = select(Article.canonical_url, func.count()).where(Article.canonical_url.in_(_KEYS)).group_by(Article.canonical_url)
_BY_URL = select(Article.id, Article.source_id, Article.published_at, Article.cluster_id, Article.canonical_url).where(
    Article.canonical_url.in_(_KEYS)
)
_BY_ID = select(*_COMPARED).where(Article.id.in_(_KEYS))
# with what the representative's rank is made of (``clusters.rank``): when it was first seen, its claimed date, its source's registration
_CLUSTER_ROW = (
    select(
        Cluster.id,
        Cluster.published_at,
        Cluster.representative_id,
        Cluster.updated_at,
        Article.first_seen_at.label("representative_seen"),
        Source.created_at.label("representative_registered"),
    )
    .outerjoin(Article, Article.id == Cluster.representative_id)
    .outerjoin(Source, Source.id == Article.source_id)
)
_CLUSTERS = _CLUSTER_ROW.where(Cluster.id.in_(_KEYS))
_CLUSTER = _CLUSTER_ROW.where(Cluster.id == bindparam("b_id"))
_REGISTERED = select(Source.id, Source.created_at).where(Source.id.in_(_KEYS))
_MOVE_CLUSTER = (
    update(Cluster.__table__)
    .where(Cluster.__table__.c.id == bindparam("b_id"))
    .values(published_at=bindparam("b_published"), representative_id=bindparam("b_representative"), updated_at=bindparam("b_updated"))
)
_MEMBERS = select(Article.cluster_id, Article.id, Article.source_id).where(Article.cluster_id.in_(_KEYS))


@lru_cache(maxsize=2048)
def _stored_evidence(_article_id: int, _changed_at: datetime, title: str, html: str, text: str) -> Evidence:
    """A stored article's evidence, remembered: the articles of a recent story are candidates of
    every new copy (keyed by id and change time, and by the texts themselves)."""
    return Evidence.of(title, html, text)


class StaleRead(Exception):
    """What a batch read changed before its write; the caller rolls back and stores again (fresh reads)."""


def _chunks(values: list, size: int = CHUNK):
    it = iter(values)
    while chunk := list(islice(it, size)):
        yield chunk


class Pending:
    """A new article decided in this batch; attribute names as on ``Article`` so that the rules read both."""

    __slots__ = (
        "id",
        "source_id",
        "item_key",
        "row",
        "found",
        "cluster_id",
        "joined",
        "title",
        "text",
        "content_html",
        "summary_html",
        "published_at",
        "canonical_url",
        "content_hash",
        "categories",
        "rank",
    )
    id: int
    source_id: int
    item_key: str
    row: dict
    found: Probe
    cluster_id: int | None
    joined: bool
    title: str
    text: str
    content_html: str | None
    summary_html: str | None
    published_at: datetime
    canonical_url: str | None
    content_hash: str
    categories: list[str]

    def __init__(self, provisional_id: int, source_id: int, item_key: str, row: dict, found: Probe, registered_at: datetime | None = None):
        self.id, self.source_id, self.item_key, self.row, self.found = provisional_id, source_id, item_key, row, found
        self.cluster_id = None
        self.joined = False
        self.rank = (*clusters.rank(row["first_seen_at"], row["published_at"], registered_at), *_order(self))
        for name in ("title", "text", "content_html", "summary_html", "published_at", "canonical_url", "content_hash", "categories"):
            setattr(self, name, row[name])


@dataclass
class ClusterState:
    id: int  # real, or provisional (negative) for a cluster made in this batch
    published_at: datetime
    representative_id: int | None
    updated_at: datetime
    stored: Row | None = None  # the stored cluster (id, published_at, representative_id, updated_at), when there is one
    members: list[Pending] = field(default_factory=list)  # pending members
    rank: tuple | None = None  # the representative's (``clusters.rank``, then stored before pending, then id)

    @classmethod
    def of(cls, row: Row) -> ClusterState:
        """A stored cluster, with its representative's rank when the representative is still there."""
        rank = None
        if row.representative_seen is not None:
            rank = (*clusters.rank(row.representative_seen, row.published_at, row.representative_registered), 0, row.representative_id)
        return cls(row.id, row.published_at, row.representative_id, row.updated_at, row, rank=rank)


def _earlier(rank: tuple | None, than: tuple | None) -> bool:
    return rank is not None and (than is None or rank < than)


def _order(article) -> tuple:
    """Stored articles before pending ones, each by id (pending ids count up from -1)."""
    return (0, article.id) if article.id > 0 else (1, -article.id)


ROWS_PER_INSERT = 500  # × 19 article columns: well below SQLite's 32,766 parameters
_ARTICLE_INSERT = "ON CONFLICT (source_id, item_key) DO NOTHING RETURNING id, item_key"  # what follows an article INSERT's values


def bucket_rows(pending: list) -> tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]:
    """The bucket index rows of pending articles as three int64 columns — bucket, published (epoch
    seconds) and the article's position in ``pending`` — sorted by bucket, then date, then position
    (the order of ``sorted`` on (bucket, published, position) tuples, made without building them)."""
    counts = [len(p.found.buckets) for p in pending]
    buckets = numpy.fromiter(chain.from_iterable(p.found.buckets for p in pending), dtype=numpy.int64, count=sum(counts))
    published = numpy.repeat(numpy.fromiter((p.found.published for p in pending), dtype=numpy.int64, count=len(pending)), counts)
    positions = numpy.repeat(numpy.arange(len(pending), dtype=numpy.int64), counts)
    order = numpy.lexsort((positions, published, buckets))
    return buckets[order], published[order], positions[order]


def sqlite_datetime(value: datetime | None) -> str | None:
    """What SQLAlchemy binds for a ``UTCDateTime`` on SQLite ("2026-11-24 08:00:00.000000", the
    fields of the aware UTC value), made by the C ``isoformat`` in a fraction of the time."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given; use UTC-aware values")
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


@cache
def _plain_columns(table, dialect) -> list[tuple[str, Callable[[Any], Any] | None, object, bool]]:
    """(name, bind processor, scalar default, whether the default is computed) of each column but the id."""
    found = []
    for column in (c for c in table.columns if c.name != "id"):
        scalar = column.default is not None and column.default.is_scalar
        process = sqlite_datetime if isinstance(column.type, UTCDateTime) else column.type.dialect_impl(dialect).bind_processor(dialect)
        found.append((column.name, process, column.default.arg if scalar else None, column.default is not None and not scalar))
    return found


def insert_plain(connection, rows: list[dict]) -> list[tuple[int, str]]:
    """SQLite: ``INSERT … ON CONFLICT (source_id, item_key) DO NOTHING RETURNING id, item_key`` of article
    rows, with each value made what SQLAlchemy would bind (the columns' own bind processors: dates as
    text, lists as JSON) and the columns' scalar defaults, as a few multi-row statements: the per-row
    work of SQLAlchemy's statement machinery was most of the cost of the store's first write."""
    return run_plain(connection, plain_statements(connection.dialect, rows))


def run_plain(connection, statements: list[tuple[str, tuple]]) -> list[tuple]:
    """The statements of ``plain_statements`` sent; what they return (articles: id and item key of each row written)."""
    returned = []
    for sql, values in statements:
        returned += connection.exec_driver_sql(sql, values).all()
    return returned


def plain_statements(dialect, rows: list[dict], table=Article.__table__, tail: str = _ARTICLE_INSERT) -> list[tuple[str, tuple]]:
    """``insert_plain``'s statements and their values, made without a connection: the store makes
    them before it takes SQLite's write lock, so that the lock is held for the writing only.
    ``table`` and ``tail`` (what follows the values): another table's rows, the same way."""
    columns = _plain_columns(table, dialect)
    names = ", ".join(name for name, *_ in columns)
    mark = "(" + ", ".join(["?"] * len(columns)) + ")"
    statements = []
    for start in range(0, len(rows), ROWS_PER_INSERT):
        chunk = rows[start : start + ROWS_PER_INSERT]
        values = []
        for row in chunk:
            for name, process, default, computed in columns:
                if computed and name not in row:
                    raise TypeError(f"{table.name}.{name}: a computed default; insert_plain wants the value given")
                value = row.get(name, default)
                values.append(process(value) if process is not None else value)
        statements.append((f"INSERT INTO {table.name} ({names}) VALUES {', '.join([mark] * len(chunk))} {tail}", tuple(values)))
    return statements


class Batch:
    def __init__(
        self, session: Session, probes: list[Probe], urls: list[str | None], hashes: list[str], now: datetime, policy: Policy = POLICY
    ):
        self.session, self.now, self.policy = session, now, policy
        self.sources = {p.source_id for p in probes}  # the sources of the documents (usually one)
        self.pending: list[Pending] = []
        self._pending_by_id: dict[int, Pending] = {}
        self.articles: dict[int, Row] = {}  # stored articles read for comparisons and matches (rows)
        self.evidence: dict[int, Evidence] = {}
        self._buckets: dict[int, list[tuple[int, int]]] = defaultdict(list)  # bucket → stored (article id, published epoch s)
        self._pending_buckets: dict[int, list[tuple[int, int]]] = defaultdict(list)  # bucket → pending ones
        self._stored_hits: dict[int, Counter] = {}  # id(probe) → stored article id → shared buckets
        self._by_hash: dict[str, list] = defaultdict(list)  # content hash → clustered articles
        self._by_url: dict[str, list] = defaultdict(list)  # canonical URL → (id, source id, published, cluster id) rows
        self._hubs: set[str] = set()
        self._clusters: dict[int, ClusterState] = {}
        self._merged: dict[int, int] = {}  # cluster id → the cluster it went into
        self._stored_members: dict[int, list[tuple[int, int]]] = {}
        self._counted: boilerplate.Counts = boilerplate.Counts(session)
        self._registered: dict[int, datetime] = {}  # source id → when it was registered (``clusters.rank``)
        self._recorded: Counter = Counter()  # (source, sentence) → articles added by this batch
        self._load(probes, sorted({u for u in urls if u}), sorted(set(hashes)))

    # ---------------------------------------------------------------- reads
    def _load(self, probes: list[Probe], urls: list[str], hashes: list[str]) -> None:
        self.session.flush()  # nothing should be pending here; the reads below go past the ORM (plain rows)
        s, window = self.session.connection(), self.policy.window
        dated = [p for p in probes if p.buckets]
        if dated:
            span = int(window.total_seconds())
            low, high = min(p.published for p in dated) - span, max(p.published for p in dated) + span
            mark = placeholder(s)
            cursor = s.connection.cursor()  # plain tuples, fetched at once: thousands of rows per document
            try:
                keys: set[int] = set()
                for p in dated:
                    keys.update(p.buckets)
                for chunk in _chunks(sorted(keys)):
                    # ~1,250 keys per document: sent as plain parameters (SQLAlchemy's expanding IN names each one)
                    cursor.execute(_BY_BUCKET.format(keys=", ".join([mark] * len(chunk)), mark=mark), (*chunk, low, high))
                    for bucket, article_id, published in cursor.fetchall():
                        self._buckets[bucket].append((article_id, published))
            finally:
                cursor.close()
        ranked = [(p, self._ranked(p, stored_only=True)) for p in dated]
        compared = {a for _p, candidates in ranked for a in candidates}
        for chunk in _chunks(hashes):
            for article in s.execute(_BY_HASH, {"keys": chunk}):
                self.articles[article.id] = article
                self._by_hash[article.content_hash].append(article)
        used: dict[str, int] = {}
        for chunk in _chunks(urls):
            used.update((url, n) for url, n in s.execute(_URL_USE, {"keys": chunk}) if url is not None)
        self._hubs = {url for url, n in used.items() if n >= HUB}
        for chunk in _chunks(sorted(url for url in used if url not in self._hubs)):
            for row in s.execute(_BY_URL, {"keys": chunk}):
                self._by_url[row.canonical_url].append(row)
                if row.source_id in self.sources:
                    compared.add(row.id)  # a candidate previous version
        for chunk in _chunks(sorted(compared - self.articles.keys())):
            self.articles.update((a.id, a) for a in s.execute(_BY_ID, {"keys": chunk}))
        for article_id in compared:
            if (stored := self.articles.get(article_id)) is not None:
                self.evidence[article_id] = _stored_evidence(stored.id, stored.changed_at, stored.title, html_of(stored), stored.text)
        self._load_clusters({a.cluster_id for a in self.articles.values()} | {r.cluster_id for rows in self._by_url.values() for r in rows})
        # the boilerplate counts the rules will look up: an item's own source's for its sentences and those
        # of everything it is compared with; another source's for the sentences of its stored candidates and
        # of the items they are compared with (a stored article among an item's candidates later is among
        # its stored-only candidates now); between the documents of a group, both sources' for the sentences
        # of new items that share a bucket. A pair missed here is looked up when the rules ask for it.
        own: dict[int, set[int]] = defaultdict(set)
        pairs: set[tuple[int, int]] = set()
        for p in probes:
            own[p.source_id] |= p.counted
        for p, candidates in ranked:
            for article_id in candidates:
                if article_id in self.evidence:
                    theirs = self._counted_of(article_id)
                    own[p.source_id] |= theirs
                    if (source_id := self.articles[article_id].source_id) != p.source_id:
                        pairs.update((source_id, h) for h in p.counted | theirs)
        for rows in self._by_url.values():
            for row in rows:
                if row.source_id in self.sources and row.id in self.evidence:  # compared as a previous version
                    own[row.source_id] |= self._counted_of(row.id)
        if len(self.sources) > 1:  # buckets that more than one new item has (counted in C: ~25 per item)
            shared = {bucket for bucket, n in Counter(chain.from_iterable(p.buckets for p in dated)).items() if n > 1}
            sharing: dict[int, list[Probe]] = defaultdict(list)
            for p in dated:
                for bucket in shared.intersection(p.buckets):
                    sharing[bucket].append(p)
            for group in sharing.values():
                if len(sources := {q.source_id for q in group}) > 1:
                    sentences = set().union(*(q.counted for q in group))
                    pairs.update((source_id, h) for source_id in sources for h in sentences)
        pairs.update((source_id, h) for source_id, sentences in own.items() for h in sentences)
        self._counted = boilerplate.counts(self.session, pairs)

    def _load_clusters(self, cluster_ids: set[int | None]) -> None:
        """The clusters the new items may join, and their members' sources (two queries); the new items' sources' registration."""
        self._registered.update(self.session.connection().execute(_REGISTERED, {"keys": sorted(self.sources)}).all())
        wanted = sorted(c for c in cluster_ids if c is not None)
        for chunk in _chunks(wanted):
            connection = self.session.connection()
            for row in connection.execute(_CLUSTERS, {"keys": chunk}):
                self._clusters[row.id] = ClusterState.of(row)
            for member in connection.execute(_MEMBERS, {"keys": chunk}):
                self._stored_members.setdefault(member.cluster_id, []).append((member.id, member.source_id))
        for cluster_id in wanted:
            self._stored_members.setdefault(cluster_id, [])

    def _counted_of(self, article_id: int) -> frozenset[int]:
        return counted_hashes(self.evidence[article_id])

    def _hits(self, found: Probe, index: dict[int, list[tuple[int, int]]]) -> Counter:
        hits: Counter = Counter()
        window, at = self.policy.window.total_seconds(), found.published
        for bucket in found.buckets:
            for article_id, published in index.get(bucket, ()):
                if abs(published - at) <= window:
                    hits[article_id] += 1
        return hits

    def _ranked(self, found: Probe, stored_only: bool = False) -> list[int]:
        """Article ids sharing buckets with the probe within the window, most shared buckets first."""
        stored = self._stored_hits.get(id(found))
        if stored is None:  # the stored buckets are read once (``_load``): so are a probe's hits among them
            stored = self._stored_hits[id(found)] = self._hits(found, self._buckets)
        hits = stored if stored_only or not self._pending_buckets else stored + self._hits(found, self._pending_buckets)
        ranked = sorted(hits.items(), key=lambda kv: (-kv[1], (0, kv[0]) if kv[0] > 0 else (1, -kv[0])))
        return [article_id for article_id, _n in ranked[: self.policy.candidates]]

    def candidates(self, found: Probe) -> list:
        """Stored and pending articles sharing LSH buckets with the probe, most shared buckets first."""
        return [a for i in self._ranked(found) if (a := self.articles.get(i) or self._pending_by_id.get(i)) is not None]

    def _compare(self, found: Probe, others: list) -> list[Comparison]:
        return compare(found, others, self.evidence, self._counted, self.policy)

    # ---------------------------------------------------------------- decisions
    def previous_version(self, canonical_url: str | None, found: Probe, near: list, present_keys: set[str]) -> Article | None:
        """A stored item of this source that the new item key replaces (a changed GUID or URL), if any."""
        if canonical_url and canonical_url not in self._hubs:
            same_url = [
                self.articles[row.id]
                for row in self._by_url.get(canonical_url, ())
                if row.source_id == found.source_id and row.id in self.articles
            ]
            if len(same_url) == 1 and same_url[0].item_key not in present_keys:
                (c,) = self._compare(found, same_url)
                close = abs(c.article.published_at - found.published_at) <= self.policy.item_window
                if not c.conflict and (close and c.title >= 0.5 or c.content >= self.policy.item_content):
                    return self._stored(c.article)
        mine = [a for a in near if a.id > 0 and a.source_id == found.source_id and a.item_key not in present_keys]
        matches = [c for c in self._compare(found, mine) if same_item(c, found, self.policy)]
        return self._stored(max(matches, key=lambda c: c.content).article) if matches else None

    def _stored(self, row: ArticleLike) -> Article | None:
        """The ORM object of a stored article read as a row (the store changes it); None when it is gone since."""
        return self.session.get(Article, row.id)

    def add(self, item_key: str, row: dict, found: Probe, near: list) -> Pending:
        """A new article: clustered (exact match, else the best verified near duplicate) and indexed, in memory."""
        article = Pending(-(len(self.pending) + 1), found.source_id, item_key, row, found, self._registered.get(found.source_id))
        self.evidence[article.id] = found.evidence
        match = self._exact_match(article)
        clustered = [a for a in near if self.cluster_of(a) is not None]
        verified = sorted(
            (c for c in self._compare(found, clustered) if same_story(c, self.policy)),
            key=lambda c: (-c.content, -c.title, _order(c.article)),
        )
        if match is None and verified:
            match = self.cluster_of(verified[0].article)
        article.joined = self._join(article, match)
        if bridged := {self._clustered(c.article) for c in verified} - {article.cluster_id}:
            self._merge(self._clustered(article), bridged)
        self.pending.append(article)
        pending = (article.id, found.published)
        for bucket in found.buckets:
            self._pending_buckets[bucket].append(pending)
        self._by_hash[article.content_hash].append(article)
        if article.canonical_url:
            self._by_url[article.canonical_url].append(article)
        self._pending_by_id[article.id] = article
        if not article.joined or not self._has_other_from_source(article):  # one story counts once per source
            for key in ((article.source_id, h) for h in found.counted):
                self._recorded[key] += 1
                self._counted[key] = self._counted.get(key, 0) + 1  # visible to the items after this one
        return article

    def cluster_of(self, article) -> int | None:
        return None if article.cluster_id is None else self._resolve(article.cluster_id)

    def _clustered(self, article) -> int:
        """The cluster of an article known to be in one: a pending article from ``_join`` on, or a candidate kept for being clustered."""
        cluster_id = self.cluster_of(article)
        if cluster_id is None:
            raise ValueError(f"article {article.id} is in no cluster")
        return cluster_id

    def _exact_match(self, article: Pending) -> int | None:
        """The cluster of the earliest article with the same content hash, or with the same canonical URL
        when that URL names one item in every source using it."""
        same = self._by_hash.get(article.content_hash, [])
        if same:
            return self.cluster_of(min(same, key=lambda a: (a.published_at, _order(a))))
        if not article.canonical_url or article.canonical_url in self._hubs:
            return None
        rows = self._by_url.get(article.canonical_url, [])
        sources = [row.source_id for row in rows]
        if article.source_id in sources or len(sources) != len(set(sources)) or len(rows) >= HUB:
            return None  # a hub URL (a newsroom page that many items link to), not an item's own
        clustered = [row for row in rows if self.cluster_of(row) is not None]
        return self.cluster_of(min(clustered, key=lambda r: (r.published_at, _order(r)))) if clustered else None

    def _cluster(self, cluster_id: int) -> ClusterState:
        if cluster_id not in self._clusters:
            row = self.session.connection().execute(_CLUSTER, {"b_id": cluster_id}).one()
            self._clusters[cluster_id] = ClusterState.of(row)
        return self._clusters[cluster_id]

    def _join(self, article: Pending, cluster_id: int | None) -> bool:
        if cluster_id is None:
            provisional = -(len(self._clusters) + 1)
            while provisional in self._clusters:
                provisional -= 1
            self._clusters[provisional] = ClusterState(
                provisional, article.published_at, article.id, self.now, members=[article], rank=article.rank
            )
            article.cluster_id = provisional
            return False
        cluster = self._cluster(cluster_id)
        article.cluster_id = cluster_id
        cluster.members.append(article)
        if _earlier(article.rank, cluster.rank):
            cluster.published_at, cluster.representative_id, cluster.rank = article.published_at, article.id, article.rank
        cluster.updated_at = self.now
        return True

    def _merge(self, target_id: int, others: set[int]) -> None:
        """An article bridged clusters that are one story: they go into ``target_id``."""
        target = self._cluster(target_id)
        for other_id in others:
            other = self._cluster(other_id)
            self._merged[other_id] = target_id
            for member in other.members:
                member.cluster_id = target_id
            target.members += other.members
            other.members = []
            if _earlier(other.rank, target.rank):
                target.published_at, target.representative_id, target.rank = other.published_at, other.representative_id, other.rank

    def _has_other_from_source(self, article: Pending) -> bool:
        cluster_id = self._clustered(article)
        if any(m.source_id == article.source_id and m.id != article.id for m in self._cluster(cluster_id).members):
            return True
        stored = [c for c in [cluster_id, *(k for k in self._merged if self._resolve(k) == cluster_id)] if c > 0]
        return any(source_id == article.source_id for c in stored for _id, source_id in self._members_stored(c))

    def _resolve(self, cluster_id: int) -> int:
        while cluster_id in self._merged:
            cluster_id = self._merged[cluster_id]
        return cluster_id

    def _members_stored(self, cluster_id: int) -> list[tuple[int, int]]:
        if cluster_id not in self._stored_members:
            # every member, as ``_load_clusters`` reads them: a source's one earlier member may be anywhere among them
            rows = self.session.execute(select(Article.id, Article.source_id).where(Article.cluster_id == cluster_id))
            self._stored_members[cluster_id] = list(rows.tuples())
        return self._stored_members[cluster_id]

    # ---------------------------------------------------------------- writes
    def _check_clusters(self) -> None:
        """The stored clusters this batch joins, moves or merges still exist (another worker may have
        merged one away since the read; on PostgreSQL they are locked from here to the commit)."""
        involved = {cid for cid, state in self._clusters.items() if cid > 0 and state.members}
        involved |= {c for old in self._merged for c in (old, self._resolve(old)) if c > 0}
        query = select(Cluster.id).where(Cluster.id.in_(_KEYS))
        if self.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        present: set[int] = set()
        for chunk in _chunks(sorted(involved)):
            present.update(self.session.connection().execute(query, {"keys": chunk}).scalars())
        if involved - present:
            raise StaleRead(f"clusters {sorted(involved - present)[:5]} were merged away by another worker after this batch read them")

    def write(self, rules: list[topics.TopicRule], defaults: dict[int, list[str]]) -> set[int]:
        """Store the pending articles and everything that hangs on them; returns the provisional ids of
        items another worker stored first (not written)."""
        if not self.pending:
            return set()
        # topics, the rows and the bucket keys first: CPU work done before the first INSERT is not done
        # under SQLite's one write lock (the other worker's store waits for it)
        explained = {
            p.id: topics.explain(rules, categories=p.categories, title=p.title, text=p.text, defaults=defaults[p.source_id])
            for p in self.pending
        }
        rows = [p.row | {"source_id": p.source_id, "item_key": p.item_key} for p in self.pending]
        sqlite = self.session.get_bind().dialect.name == "sqlite"
        prepared = plain_statements(self.session.get_bind().dialect, rows) if sqlite else None
        keyed = bucket_rows(self.pending)
        self.session.flush()  # the ORM's own changes first (a re-keyed item frees its old key); then plain Core writes
        ids = self._insert_articles(rows, prepared)  # the first write: on SQLite this transaction now holds the write lock
        self._check_clusters()
        lost = {p.id for p in self.pending if p.id not in ids}
        written = [p for p in self.pending if p.id in ids]
        real_clusters = self._write_clusters(ids)
        connection = self.session.connection()
        postgres = connection.dialect.name == "postgresql"  # there: arrays in one statement, not rows one by one
        if written:  # a few hundred per group
            pairs = [(real_clusters[self._clustered(p)], ids[p.id]) for p in written]
            if postgres:
                connection.exec_driver_sql(
                    "UPDATE articles SET cluster_id = v.c FROM unnest(%s::integer[], %s::integer[]) AS v(c, id) WHERE articles.id = v.id",
                    tuple(map(list, zip(*pairs))),
                )
            else:
                connection.exec_driver_sql("UPDATE articles SET cluster_id = ? WHERE id = ?", pairs)
        for old, _target in self._merged.items():
            if old > 0:
                clusters.merge(self.session, real_clusters[self._resolve(old)], {old})
        self._write_buckets(keyed, ids)
        if not lost:
            boilerplate.add(self.session, dict(self._recorded))
        else:  # counted again from the items written
            boilerplate.add(self.session, Counter((p.source_id, h) for p in written for h in p.found.counted))
        memberships = [(ids[p.id], tid, m.reason, m.rule[:300]) for p in written for tid, m in explained[p.id].items()]
        if memberships and postgres:
            connection.exec_driver_sql(
                "INSERT INTO article_topics (article_id, topic_id, reason, rule) "
                "SELECT * FROM unnest(%s::integer[], %s::integer[], %s::text[], %s::text[])",
                tuple(map(list, zip(*memberships))),
            )
        elif memberships:
            connection.exec_driver_sql("INSERT INTO article_topics (article_id, topic_id, reason, rule) VALUES (?, ?, ?, ?)", memberships)
        return lost

    def _write_buckets(self, keyed: tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray], ids: dict[int, int]) -> None:
        """About 25 rows per article, sent to the driver as they are (plain integers). ``keyed``: the
        pending articles' ``bucket_rows``, made before the write lock; a position's real id grows with
        the position (rows are inserted in that order), so the rows stay in key order and each b-tree
        page on the way is visited once, not once per row."""
        buckets, published, positions = keyed
        real = numpy.fromiter((ids.get(p.id, 0) for p in self.pending), dtype=numpy.int64, count=len(self.pending))[positions]
        kept = real > 0  # an item another worker stored first has no rows
        columns = (buckets[kept].tolist(), published[kept].tolist(), real[kept].tolist())
        if not columns[0]:
            return
        connection = self.session.connection()
        if connection.dialect.name == "postgresql":  # three arrays in one statement, not thousands of rows sent one by one
            connection.exec_driver_sql(
                "INSERT INTO article_buckets (bucket, published, article_id) "
                "SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::integer[])",
                columns,
            )
            return
        connection.exec_driver_sql("INSERT INTO article_buckets (bucket, published, article_id) VALUES (?, ?, ?)", list(zip(*columns)))

    def _insert_articles(self, rows: list[dict], prepared: list[tuple[str, tuple]] | None) -> dict[int, int]:
        """Provisional id → real id for the items written; items under a key stored meanwhile are left out.
        ``prepared``: on SQLite, the rows' ``plain_statements``."""
        by_key = {p.item_key: p.id for p in self.pending}
        upsert = _UPSERT.get(self.session.get_bind().dialect.name)
        statement = (
            upsert(Article.__table__).on_conflict_do_nothing(index_elements=["source_id", "item_key"])
            if upsert is not None
            else insert(Article.__table__)
        )
        if prepared is not None:
            return {by_key[key]: article_id for article_id, key in run_plain(self.session.connection(), prepared)}
        # one compiled statement, sent as batched multi-row INSERTs ("insertmanyvalues")
        returned = self.session.connection().execute(statement.returning(Article.id, Article.item_key), rows)
        ids: dict[int, int] = {by_key[key]: article_id for article_id, key in returned}
        return ids

    def _write_clusters(self, ids: dict[int, int]) -> dict[int, int]:
        """New clusters from their written members; stored clusters moved on. Returns cluster id → real id."""
        real = {cid: cid for cid in self._clusters if cid > 0}
        made, moved = [], []
        for state in self._clusters.values():
            live = [m for m in state.members if m.id in ids]
            if state.id < 0 and state.id not in self._merged and live:
                first = min(live, key=lambda m: m.rank)
                made.append(
                    (
                        state,
                        {
                            "published_at": first.published_at,
                            "updated_at": state.updated_at,
                            "created_at": self.now,
                            "representative_id": ids[first.id],
                        },
                    )
                )
            elif (stored := state.stored) is not None:
                published, representative = stored.published_at, stored.representative_id
                if state.representative_id is not None and state.representative_id < 0:
                    if state.representative_id in ids:  # a pending member that was written is the earliest now
                        published, representative = state.published_at, ids[state.representative_id]
                elif state.representative_id != stored.representative_id:
                    published, representative = state.published_at, state.representative_id
                if (published, representative, state.updated_at) != (stored.published_at, stored.representative_id, stored.updated_at):
                    moved.append(
                        {"b_id": state.id, "b_published": published, "b_representative": representative, "b_updated": state.updated_at}
                    )
        if moved:
            self.session.connection().execute(_MOVE_CLUSTER, moved)
            for values in moved:  # a Cluster object this session holds would show the values before the update
                if (held := self.session.identity_map.get(identity_key(Cluster, values["b_id"]))) is not None:
                    self.session.expire(held)
        if made:
            # matched by representative (one article is the first of one new cluster only), not by row
            # order: an ordered RETURNING is sent one row per statement on SQLite, this is one statement
            connection, rows = self.session.connection(), [v for _s, v in made]
            returned: Iterable[Sequence[Any]]
            if connection.dialect.name == "sqlite":  # as the articles: past SQLAlchemy's per-row parameter work
                returned = run_plain(
                    connection, plain_statements(connection.dialect, rows, Cluster.__table__, "RETURNING id, representative_id")
                )
            else:
                returned = connection.execute(insert(Cluster.__table__).returning(Cluster.id, Cluster.representative_id), rows)
            by_representative = {rep: new_id for new_id, rep in returned}
            real.update((state.id, by_representative[v["representative_id"]]) for state, v in made)
        self.session.flush()
        return real
