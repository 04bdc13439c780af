"""Cluster assignment: an article joins the cluster of a stored article with the same
canonical URL or the same content hash; otherwise it starts a cluster of its own."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from syndicate.models import Article, Cluster


def find_match(session: Session, article: Article) -> Article | None:
    conditions = [Article.content_hash == article.content_hash]
    if article.canonical_url:
        conditions.append(Article.canonical_url == article.canonical_url)
    return session.scalars(
        select(Article)
        .where(or_(*conditions), Article.id != article.id, Article.cluster_id.is_not(None))
        .order_by(Article.published_at, Article.id)
        .limit(1)
    ).first()


def assign_cluster(session: Session, article: Article) -> bool:
    """Put ``article`` into a cluster; True when it joined an existing one (a duplicate)."""
    match = find_match(session, article)
    if match is None:
        cluster = Cluster(published_at=article.published_at, updated_at=article.changed_at)
        session.add(cluster)
        session.flush()
        cluster.representative_id = article.id
        article.cluster_id = cluster.id
        return False
    cluster = session.get(Cluster, match.cluster_id)
    article.cluster_id = cluster.id
    if article.published_at < cluster.published_at:
        cluster.published_at = article.published_at
        cluster.representative_id = article.id
    cluster.updated_at = article.changed_at
    return True


def touch_cluster(session: Session, article: Article) -> None:
    if article.cluster_id is not None:
        cluster = session.get(Cluster, article.cluster_id)
        cluster.updated_at = article.changed_at
