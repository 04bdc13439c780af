"""Store normalised entries of one source: upsert by (source, item key), then cluster and classify.

    per item: tombstone? skip → stored under its key (or a former key)? update in place
    → the same item under a new GUID/URL (Batch.previous_version)? re-key, update in place
    → otherwise a new article: clustered (Batch.add), then written with the others (Batch.write)

The stored items and former keys of the document are read in two queries; new items are
compared and written in a batch (``syndicate.dedupe.batch``), so a 50-item document costs a
handful of statements, not several per item.

An update keeps the article's row and cluster; its previous title and text go to
``article_revisions``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from syndicate.db import placeholder
from syndicate.dedupe import rules as dedupe
from syndicate.dedupe import tombstones
from syndicate.dedupe.batch import Batch
from syndicate.models import Article, ArticleRevision, ItemAlias, Source
from syndicate.reader import fingerprint
from syndicate.reader.normalise import Entry
from syndicate.topics import rules as topics


@dataclass
class StoreCounts:
    new: int = 0
    updated: int = 0
    duplicates: int = 0
    suppressed: int = 0  # items with a tombstone (deleted or purged), not stored again


def _values(entry: Entry) -> dict:
    return {
        "guid": entry.guid,
        "url": entry.url,
        "canonical_url": entry.canonical_url,
        "title": entry.title[:1000],
        "summary_html": entry.summary_html,
        "content_html": entry.content_html,
        "text": entry.text,
        "content_hash": fingerprint.content_hash(entry),
        "author": entry.author,
        "categories": entry.categories,
        "enclosures": _enclosures(entry),
    }


def _enclosures(entry: Entry) -> list[dict]:
    """Images and media of an item as stored: {href, type, length}, each already checked and bounded by normalise."""
    return [enclosure.stored() for enclosure in entry.enclosures]


def _known(session: Session, source_id: int, keys: list[str]) -> dict[str, Article]:
    """The articles stored under these keys, or under them as former keys (aliases after a GUID change).
    Which keys are known at all is asked first in one plain statement: most items of a changed
    document are new, and a new source's first document has none known."""
    found: dict[str, Article] = {}
    for start in range(0, len(keys), 400):
        chunk = _stored_keys(session, source_id, keys[start : start + 400])
        if not chunk:
            continue
        found.update(
            (a.item_key, a) for a in session.scalars(select(Article).where(Article.source_id == source_id, Article.item_key.in_(chunk)))
        )
        aliases = dict(
            session.execute(
                select(ItemAlias.item_key, ItemAlias.article_id).where(ItemAlias.source_id == source_id, ItemAlias.item_key.in_(chunk))
            ).all()
        )
        if aliases:
            by_id = {a.id: a for a in session.scalars(select(Article).where(Article.id.in_(set(aliases.values()))))}
            found.update((key, by_id[i]) for key, i in aliases.items() if key not in found and i in by_id)
    return found


def _stored_keys(session: Session, source_id: int, keys: list[str]) -> list[str]:
    """Those of ``keys`` (at most a few hundred) that name a stored article or an alias of one."""
    if not keys:
        return []
    connection = session.connection()
    mark = placeholder(connection)
    marks = ", ".join([mark] * len(keys))
    rows = connection.exec_driver_sql(
        f"SELECT item_key FROM articles WHERE source_id = {mark} AND item_key IN ({marks}) "
        f"UNION SELECT item_key FROM item_aliases WHERE source_id = {mark} AND item_key IN ({marks})",
        (source_id, *keys, source_id, *keys),
    )
    return [key for (key,) in rows]


def _remember(session: Session, article: Article, reason: str, now: datetime) -> None:
    session.add(
        ArticleRevision(
            article_id=article.id,
            changed_at=now,
            reason=reason,
            item_key=article.item_key,
            title=article.title,
            content_hash=article.content_hash,
            text=article.text,
        )
    )


def _rekey(session: Session, article: Article, key: str, now: datetime) -> None:
    """The item came back under a new key: the old key stays an alias of the same article."""
    _remember(session, article, "rekeyed", now)
    session.merge(ItemAlias(source_id=article.source_id, item_key=article.item_key, article_id=article.id))
    article.item_key = key


def _update(session: Session, article: Article, entry: Entry, now: datetime) -> bool:
    """Change the article in place when the item changed; its cluster stays, its old text goes to the history."""
    values = _values(entry)
    if all(getattr(article, name) == value for name, value in values.items()):
        return False
    if (article.title, article.content_hash) != (values["title"], values["content_hash"]):
        _remember(session, article, "edited", now)
    before = dedupe.stored_probe(article)  # its bucket rows go by their key
    for name, value in values.items():
        setattr(article, name, value)
    article.updated_at = entry.updated_at or now
    article.changed_at = now
    dedupe.refresh(session, article, before)
    return True


def _new_row(entry: Entry, now: datetime, language: str | None) -> dict:
    """A new article's row; the language is the document's, as first seen (an update leaves it)."""
    return dict(
        published_at=entry.published_at, updated_at=entry.updated_at, first_seen_at=now, changed_at=now, language=language, **_values(entry)
    )


@dataclass
class _Document:
    source: Source
    todo: list[tuple[Entry, str]]  # (entry, item key) not suppressed, first occurrence only
    present: set[str]  # every item key of the document
    known: dict[str, Article]
    probes: dict[str, dedupe.Probe]  # item key → probe, for the keys not stored yet
    rows: dict[str, dict]
    counts: StoreCounts


def _document(session: Session, source: Source, entries: list[Entry], now: datetime, language: str | None) -> _Document:
    counts = StoreCounts()
    keys = fingerprint.item_keys(entries)
    buried = tombstones.buried(session, source.id, keys, [e.canonical_url for e in entries])
    todo, seen = [], set()
    for entry, key in zip(entries, keys):
        if key in seen:  # the same item twice in one document
            counts.duplicates += 1
            continue
        seen.add(key)
        if (key, entry.canonical_url) in buried:  # deleted or purged: stays gone
            counts.suppressed += 1
            continue
        todo.append((entry, key))
    known = _known(session, source.id, [key for _entry, key in todo])
    new = [(e, key) for e, key in todo if key not in known]
    probes = dict(
        zip(
            (key for _e, key in new),
            dedupe.probes(
                source.id, [(e.title, e.content_html or e.summary_html, e.text, e.published_at, e.block_text or None) for e, _key in new]
            ),
        )
    )
    rows = {key: _new_row(e, now, language) for e, key in todo if key in probes}  # content hash computed once, here
    return _Document(source, todo, set(keys), known, probes, rows, counts)


def store_documents(
    session: Session,
    documents: list[tuple[Source, list[Entry]]],
    rules: list[topics.TopicRule],
    now: datetime,
    policy: dedupe.Policy = dedupe.POLICY,
    languages: list[str | None] | None = None,
) -> list[StoreCounts]:
    """The documents of several sources (each source once) stored as one batch: their new items are
    compared with the stored articles read once and with each other, in document order, as if the
    documents had been stored one after the other; then written together.

    ``languages``: each document's language tag (``normalise.language_tag``), stored on its new articles."""
    languages = languages or [None] * len(documents)
    docs = [_document(session, source, entries, now, language) for (source, entries), language in zip(documents, languages)]
    new = [(d, e, key) for d in docs for e, key in d.todo if key in d.probes]
    batch = Batch(
        session,
        [d.probes[key] for d, _e, key in new],
        [e.canonical_url for _d, e, key in new],
        [d.rows[key]["content_hash"] for d, _e, key in new],
        now,
        policy,
    )
    for d in docs:
        _decide(session, d, batch, rules, now)
    lost = batch.write(rules, {d.source.id: d.source.default_topics for d in docs})  # items another worker stored first are not ours
    by_source = {d.source.id: d.counts for d in docs}
    for p in batch.pending:
        if p.id not in lost:
            by_source[p.source_id].new += 1
            by_source[p.source_id].duplicates += p.joined
    return [d.counts for d in docs]


def _decide(session: Session, d: _Document, batch: Batch, rules: list[topics.TopicRule], now: datetime) -> None:
    """Each item of one document: a new article (clustered in the batch), a re-keyed one, or an update in place."""
    handled: set[int] = set()  # articles already stored or updated from this document
    for entry, key in d.todo:
        article = d.known.get(key)
        if article is None:
            found = d.probes[key]
            near = batch.candidates(found)
            article = batch.previous_version(entry.canonical_url, found, near, d.present)
            if article is None:
                handled.add(batch.add(key, d.rows[key], found, near).id)
                continue
            if article.id not in handled:
                _rekey(session, article, key, now)
        if article.id in handled:  # an old and a new key of one item in the same document
            d.counts.duplicates += 1
            continue
        handled.add(article.id)
        if _update(session, article, entry, now):
            topics.assign(session, rules, article, d.source.default_topics)
            d.counts.updated += 1
