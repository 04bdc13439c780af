"""Store normalised entries of one source: upsert by (source, item key), then cluster and classify."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from syndicate import dedupe, topics
from syndicate.models import Article, Source
from syndicate.reader import fingerprint
from syndicate.reader.normalise import Entry


@dataclass
class StoreCounts:
    new: int = 0
    updated: int = 0
    duplicates: int = 0


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
    }


def _insert(session: Session, source: Source, key: str, entry: Entry, now: datetime) -> Article | None:
    """Insert under a savepoint; None when another worker inserted the same item first."""
    article = Article(
        source_id=source.id,
        item_key=key,
        published_at=entry.published_at,
        updated_at=entry.updated_at,
        first_seen_at=now,
        changed_at=now,
        **_values(entry),
    )
    try:
        with session.begin_nested():
            session.add(article)
    except IntegrityError:
        return None
    return article


def store_entries(session: Session, source: Source, entries: list[Entry], rules: list[topics.TopicRule], now: datetime) -> StoreCounts:
    counts = StoreCounts()
    seen: set[str] = set()
    for entry in entries:
        key = fingerprint.item_key(entry)
        if key in seen:  # the same item twice in one document
            counts.duplicates += 1
            continue
        seen.add(key)
        query = select(Article).where(Article.source_id == source.id, Article.item_key == key)
        article = session.scalar(query)
        if article is None:
            article = _insert(session, source, key, entry, now)
            if article is not None:
                counts.new += 1
                counts.duplicates += dedupe.assign_cluster(session, article)
                topics.assign(session, rules, article, source.default_topics)
                continue
            article = session.scalar(query)
        values = _values(entry)
        if any(getattr(article, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(article, name, value)
            article.updated_at = entry.updated_at or now
            article.changed_at = now
            dedupe.touch_cluster(session, article)
            topics.assign(session, rules, article, source.default_topics)
            counts.updated += 1
    return counts
