"""Deleted and purged items stay gone: a tombstone per item, checked when a feed is stored.

A tombstone names (source, item key) and the item's canonical URL; every key the item was known
under (its aliases after a GUID change) gets one. An incoming item is skipped when its source
and key, or its canonical URL within the same source, have a tombstone. A tombstone without a
source (``bury_url``) blocks a canonical URL in every source.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from syndicate.db import placeholder
from syndicate.dedupe import clusters
from syndicate.dedupe import rules as dedupe
from syndicate.models import Article, ItemAlias, Tombstone

CHUNK = 400  # keys and URLs per statement


@dataclass
class Buried:
    keys: set[str] = field(default_factory=set)
    urls: set[str] = field(default_factory=set)

    def __contains__(self, item: tuple[str, str | None]) -> bool:
        key, url = item
        return key in self.keys or (url is not None and url in self.urls)


def buried(session: Session, source_id: int, keys: list[str], urls: list[str | None]) -> Buried:
    """The keys and canonical URLs of one document that have tombstones (one plain statement per
    few hundred keys and URLs: it runs for every document stored, and finds nothing nearly always)."""
    named = sorted({u for u in urls if u})
    found = Buried()
    connection = session.connection()
    mark = placeholder(connection)
    for start in range(0, max(len(keys), len(named)), CHUNK):
        some_keys, some_urls = keys[start : start + CHUNK], named[start : start + CHUNK]
        conditions, params = [], []
        if some_keys:
            conditions.append(f"(source_id = {mark} AND item_key IN ({', '.join([mark] * len(some_keys))}))")
            params += [source_id, *some_keys]
        if some_urls:
            conditions.append(f"(canonical_url IN ({', '.join([mark] * len(some_urls))}) AND (source_id = {mark} OR source_id IS NULL))")
            params += [*some_urls, source_id]
        rows = connection.exec_driver_sql(
            f"SELECT item_key, canonical_url, source_id FROM tombstones WHERE {' OR '.join(conditions)}", tuple(params)
        )
        for item_key, url, owner in rows:
            if owner == source_id and item_key in keys:
                found.keys.add(item_key)
            if url in named:
                found.urls.add(url)
    return found


def bury(session: Session, article: Article, reason: str = "deleted") -> None:
    """Delete ``article`` and leave tombstones for its key, its former keys and its canonical URL."""
    keys = [article.item_key, *session.scalars(select(ItemAlias.item_key).where(ItemAlias.article_id == article.id))]
    for key in keys:
        if session.scalars(select(Tombstone.id).where(Tombstone.source_id == article.source_id, Tombstone.item_key == key)).first() is None:
            session.add(
                Tombstone(
                    source_id=article.source_id,
                    item_key=key,
                    canonical_url=article.canonical_url,
                    title=article.title[:1000],
                    reason=reason[:200],
                )
            )
    clusters.detach(session, article)
    dedupe.unindex(session, article.id, dedupe.stored_probe(article))
    session.delete(article)
    session.flush()


def bury_url(session: Session, canonical_url: str, reason: str = "blocked") -> Tombstone:
    """Block a canonical URL in every source (stored copies are left to ``bury``)."""
    tombstone = Tombstone(source_id=None, item_key=None, canonical_url=canonical_url, reason=reason[:200])
    session.add(tombstone)
    session.flush()
    return tombstone


def purge(session: Session, published_before: datetime, reason: str = "purged", batch: int = 500) -> int:
    """Retention: delete articles published before the cutoff, with tombstones so they do not return."""
    return bury_all(session, select(Article.id).where(Article.published_at < published_before).order_by(Article.id), reason, batch)[0]


def bury_all(session: Session, ids: Select, reason: str, batch: int = 500, deadline: float | None = None) -> tuple[int, bool]:
    """``bury`` the articles that ``ids`` selects, ``batch`` at a time, each batch committed (no long write lock).

    ``ids`` is re-run for every batch, so it must stop selecting what is buried. Stops between batches once
    ``time.monotonic()`` passes ``deadline``; returns (articles buried, whether nothing is left)."""
    buried_count = 0
    while deadline is None or time.monotonic() < deadline:
        found = session.scalars(ids.limit(batch)).all()
        if not found:
            return buried_count, True
        for article in filter(None, (session.get(Article, article_id) for article_id in found)):  # None: deleted meanwhile
            bury(session, article, reason)
            buried_count += 1
        session.commit()
    return buried_count, False
