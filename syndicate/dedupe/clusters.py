"""Cluster rows: one story, its member articles across sources, and its representative — the
earliest publication, which merged feeds show as the entry (syndicate.publish.feeds names the others)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from syndicate.models import Article, Cluster


def merge(session: Session, cluster_id: int, others: set[int]) -> None:
    """An article bridged clusters that are one story: their members move into ``cluster_id``."""
    cluster = session.get_one(Cluster, cluster_id)
    for member in session.scalars(select(Article).where(Article.cluster_id.in_(others))):
        member.cluster_id = cluster_id
        if (member.published_at, member.id) < (cluster.published_at, cluster.representative_id or 0):
            cluster.published_at, cluster.representative_id = member.published_at, member.id
    session.flush()
    for other in others:
        if (row := session.get(Cluster, other)) is not None:
            session.delete(row)


def touch(session: Session, article: Article) -> None:
    if article.cluster_id is not None:
        session.get_one(Cluster, article.cluster_id).updated_at = article.changed_at


def detach(session: Session, article: Article) -> None:
    """Before ``article`` is deleted: the next-earliest member becomes the representative, or the cluster goes."""
    if article.cluster_id is None:
        return
    cluster = session.get_one(Cluster, article.cluster_id)
    rest = session.scalars(
        select(Article)
        .where(Article.cluster_id == cluster.id, Article.id != article.id)
        .order_by(Article.published_at, Article.id)
        .limit(1)
    ).first()
    if rest is None:
        article.cluster_id = None
        session.flush()
        session.delete(cluster)
    elif cluster.representative_id == article.id:
        cluster.representative_id, cluster.published_at = rest.id, rest.published_at
