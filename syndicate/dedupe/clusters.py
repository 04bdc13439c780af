"""Cluster rows: one story, its member articles across sources, and its representative, which
merged feeds show as the entry (syndicate.publish.feeds names the others, each with its own link).

The representative is the member the system saw first (``first_seen_at``); among members first
seen in the same poll round (one store, one ``now``), the one with the earliest claimed date. A
claimed date is the publisher's word: one older than its source's registration is not trusted
for ordering (it counts as the registration time; the date shown stays as claimed), so a copy
registered later and backdated cannot take the story over from the publisher that had it first.
``rank`` is that rule; the batch (``syndicate.dedupe.batch``) and the functions here both use it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from syndicate.models import Article, Cluster, Source


def rank(first_seen_at: datetime, published_at: datetime, registered_at: datetime | None) -> tuple[datetime, datetime]:
    """The order of members for the representative, lowest first: first seen, then the plausible claimed date."""
    claimed = max(published_at, registered_at) if registered_at is not None else published_at
    return (first_seen_at, claimed)


def _rank_of(session: Session, article: Article) -> tuple:
    source = session.get(Source, article.source_id)
    return (*rank(article.first_seen_at, article.published_at, source.created_at if source else None), article.id)


def merge(session: Session, cluster_id: int, others: set[int]) -> None:
    """An article bridged clusters that are one story: their members move into ``cluster_id``."""
    cluster = session.get_one(Cluster, cluster_id)
    representative = session.get(Article, cluster.representative_id) if cluster.representative_id else None
    first = _rank_of(session, representative) if representative is not None else None
    for member in session.scalars(select(Article).where(Article.cluster_id.in_(others))):
        member.cluster_id = cluster_id
        mine = _rank_of(session, member)
        if first is None or mine < first:
            first = mine
            cluster.published_at, cluster.representative_id = member.published_at, member.id
    session.flush()
    for other in others:
        if (row := session.get(Cluster, other)) is not None:
            session.delete(row)


def touch(session: Session, article: Article) -> None:
    if article.cluster_id is not None:
        session.get_one(Cluster, article.cluster_id).updated_at = article.changed_at


def detach(session: Session, article: Article) -> None:
    """Before ``article`` is deleted: the next member by ``rank`` becomes the representative, or the cluster goes."""
    if article.cluster_id is None:
        return
    cluster = session.get_one(Cluster, article.cluster_id)
    members = session.scalars(select(Article).where(Article.cluster_id == cluster.id, Article.id != article.id)).all()
    rest = min(members, key=lambda member: _rank_of(session, member), default=None)
    if rest is None:
        article.cluster_id = None
        session.flush()
        session.delete(cluster)
    elif cluster.representative_id == article.id:
        cluster.representative_id, cluster.published_at = rest.id, rest.published_at
