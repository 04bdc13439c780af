"""Store normalised entries of one source: upsert by (source, item key), then cluster and classify.

    per item: tombstone? skip → stored under its key (or a former key)? update in place
    → the same item under a new GUID/URL (dedupe.previous_version)? re-key, update in place
    → otherwise insert, cluster (dedupe.add) and classify (topics.assign)

An update keeps the article's row and cluster; its previous title and text go to
``article_revisions``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from syndicate import dedupe, tombstones, topics
from syndicate.models import Article, ArticleRevision, ItemAlias, Source
from syndicate.reader import fingerprint
from syndicate.reader.normalise import Entry


_UPSERT = {"sqlite": sqlite_insert, "postgresql": postgresql_insert}


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
        "simhash": fingerprint.simhash(entry.title + " " + entry.text),
        "author": entry.author,
        "categories": entry.categories,
        "enclosures": _enclosures(entry),
    }


def _enclosures(entry: Entry) -> list[dict]:
    """Images and media of an item as plain {href, type, length}; at most ten."""
    kept = []
    for enclosure in entry.enclosures[:10]:
        href, kind, length = enclosure.get("href"), enclosure.get("type"), str(enclosure.get("length") or "")
        if isinstance(href, str) and href.startswith(("http://", "https://")) and len(href) <= 2000:
            kept.append({"href": href, "type": kind if isinstance(kind, str) else "", "length": length if length.isdigit() else "0"})
    return kept


def _insert(session: Session, source: Source, key: str, entry: Entry, now: datetime) -> Article | None:
    """Insert unless (source, item key) exists; None when another worker inserted the same item first.

    SQLite and PostgreSQL get INSERT … ON CONFLICT DO NOTHING, not a savepoint: with pysqlite a
    SAVEPOINT opened before any other write starts the transaction and its RELEASE commits it, so a
    later rollback (crash, lock timeout) left the article stored without its cluster."""
    values = dict(
        source_id=source.id,
        item_key=key,
        published_at=entry.published_at,
        updated_at=entry.updated_at,
        first_seen_at=now,
        changed_at=now,
        **_values(entry),
    )
    upsert = _UPSERT.get(session.get_bind().dialect.name)
    if upsert is not None:
        statement = upsert(Article).values(**values).on_conflict_do_nothing(index_elements=["source_id", "item_key"])
        article_id = session.execute(statement.returning(Article.id)).scalar()
        return session.get(Article, article_id) if article_id is not None else None
    article = Article(**values)
    try:
        with session.begin_nested():
            session.add(article)
    except IntegrityError:
        return None
    return article


def _lookup(session: Session, source_id: int, key: str) -> Article | None:
    """The article stored under this key, or under it as a former key (an alias after a GUID change)."""
    article = session.scalar(select(Article).where(Article.source_id == source_id, Article.item_key == key))
    if article is not None:
        return article
    alias = select(ItemAlias.article_id).where(ItemAlias.source_id == source_id, ItemAlias.item_key == key)
    article_id = session.execute(alias).scalar_one_or_none()
    return session.get(Article, article_id) if article_id is not None else None


def _remember(session: Session, article: Article, reason: str, now: datetime) -> None:
    session.add(ArticleRevision(
        article_id=article.id, changed_at=now, reason=reason, item_key=article.item_key,
        title=article.title, content_hash=article.content_hash, text=article.text,
    ))


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
    for name, value in values.items():
        setattr(article, name, value)
    article.updated_at = entry.updated_at or now
    article.changed_at = now
    dedupe.refresh(session, article)
    return True


def store_entries(session: Session, source: Source, entries: list[Entry], rules: list[topics.TopicRule], now: datetime,
                  policy: dedupe.Policy = dedupe.POLICY) -> StoreCounts:
    counts = StoreCounts()
    keys = fingerprint.item_keys(entries)
    present = set(keys)
    buried = tombstones.buried(session, source.id, keys, [e.canonical_url for e in entries])
    seen: set[str] = set()
    handled: set[int] = set()  # articles already stored or updated from this document
    for entry, key in zip(entries, keys):
        if key in seen:  # the same item twice in one document
            counts.duplicates += 1
            continue
        seen.add(key)
        if (key, entry.canonical_url) in buried:  # deleted or purged: stays gone
            counts.suppressed += 1
            continue
        article = _lookup(session, source.id, key)
        if article is None:
            found = dedupe.probe(source.id, entry.title, entry.content_html or entry.summary_html, entry.text, entry.published_at)
            near = dedupe.candidates(session, found, policy)
            article = dedupe.previous_version(session, source.id, entry.canonical_url, found, near, present, policy)
            if article is not None and article.id not in handled:
                _rekey(session, article, key, now)
            elif article is None and (article := _insert(session, source, key, entry, now)) is not None:
                counts.new += 1
                counts.duplicates += dedupe.add(session, article, found, near, policy)
                topics.assign(session, rules, article, source.default_topics)
                handled.add(article.id)
                continue
            else:
                article = article or _lookup(session, source.id, key)
        if article.id in handled:  # an old and a new key of one item in the same document
            counts.duplicates += 1
            continue
        handled.add(article.id)
        if _update(session, article, entry, now):
            topics.assign(session, rules, article, source.default_topics)
            counts.updated += 1
    return counts
