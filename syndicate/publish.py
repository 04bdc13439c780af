"""Merged feeds: which clusters belong in a feed, and rendering with feedgen (RSS, Atom) or as JSON Feed.

A merged feed shows one entry per cluster, newest first. The entry is the
cluster's representative (its earliest publication) unless the feed is filtered
to cities that did not publish that one; the other publishers are named.
"""

from __future__ import annotations

import hashlib
import html
import json
from dataclasses import dataclass, field
from datetime import datetime

from feedgen.feed import FeedGenerator
from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session

from syndicate.clock import utcnow
from syndicate.models import Article, ArticleTopic, City, Cluster, Source, Topic

FORMATS = {"rss": "application/rss+xml; charset=utf-8", "atom": "application/atom+xml; charset=utf-8", "json": "application/feed+json; charset=utf-8"}


class UnknownFeed(LookupError):
    reason = "unknown_feed"


@dataclass(frozen=True)
class FeedQuery:
    kind: str = "all"  # all | topic | city
    slug: str | None = None
    cities: tuple[str, ...] = ()
    topic: str | None = None
    q: str | None = None
    limit: int = 50


@dataclass
class FeedItem:
    cluster_id: int
    article: Article
    city: City
    topics: list[str]
    source_url: str
    also: list[tuple[City, Article]] = field(default_factory=list)


@dataclass
class FeedMeta:
    title: str
    description: str
    self_path: str


def describe(session: Session, query: FeedQuery) -> FeedMeta:
    if query.kind == "topic":
        topic = session.scalar(select(Topic).where(Topic.slug == query.slug))
        if topic is None:
            raise UnknownFeed(f"unknown topic {query.slug!r}")
        return FeedMeta(f"Thema: {topic.title}", topic.description or f"Meldungen bayerischer Kommunen zum Thema {topic.title}", f"/feeds/topics/{topic.slug}")
    if query.kind == "city":
        city = session.scalar(select(City).where(City.slug == query.slug))
        if city is None:
            raise UnknownFeed(f"unknown city {query.slug!r}")
        return FeedMeta(city.name, f"Meldungen von {city.name}", f"/feeds/cities/{city.slug}")
    return FeedMeta("Alle Meldungen", "Zusammengeführte Meldungen bayerischer Kommunen und Partner", "/feeds/all")


def _article_filter(session: Session, query: FeedQuery):
    """SQL conditions on Article for the feed's own scope and the query filters."""
    conditions = []
    cities = set(query.cities)
    if query.kind == "city":
        cities = {query.slug} if not cities else cities & {query.slug}
    if cities:
        conditions.append(Article.source_id.in_(select(Source.id).join(City).where(City.slug.in_(cities))))
    for topic_slug in filter(None, {query.slug if query.kind == "topic" else None, query.topic}):
        conditions.append(
            exists().where(ArticleTopic.article_id == Article.id, ArticleTopic.topic_id == select(Topic.id).where(Topic.slug == topic_slug).scalar_subquery())
        )
    if query.q:
        like = f"%{query.q.lower()}%"
        conditions.append(or_(func.lower(Article.title).like(like), func.lower(Article.text).like(like)))
    return conditions


def load_items(session: Session, query: FeedQuery) -> list[FeedItem]:
    conditions = _article_filter(session, query)
    matching = select(Article.cluster_id).where(*conditions, Article.cluster_id.is_not(None))
    clusters = session.scalars(
        select(Cluster).where(Cluster.id.in_(matching)).order_by(Cluster.published_at.desc(), Cluster.id.desc()).limit(query.limit)
    ).all()
    if not clusters:
        return []
    ids = [c.id for c in clusters]
    matching_ids = set(session.scalars(select(Article.id).where(Article.cluster_id.in_(ids), *conditions)))
    members: dict[int, list[tuple[Article, City]]] = {}
    source_urls: dict[int, str] = {}
    rows = session.execute(
        select(Article, City, Source.url).join(Source, Article.source_id == Source.id).join(City).where(Article.cluster_id.in_(ids)).order_by(Article.published_at, Article.id)
    )
    for article, city, source_url in rows:
        members.setdefault(article.cluster_id, []).append((article, city))
        source_urls[article.id] = source_url
    topic_rows = session.execute(
        select(ArticleTopic.article_id, Topic.title).join(Topic).where(ArticleTopic.article_id.in_([a.id for m in members.values() for a, _ in m]))
    )
    topic_titles: dict[int, list[str]] = {}
    for article_id, title in topic_rows:
        topic_titles.setdefault(article_id, []).append(title)
    items = []
    for cluster in clusters:
        group = members.get(cluster.id, [])
        main = next(((a, c) for a, c in group if a.id == cluster.representative_id and a.id in matching_ids), None)
        main = main or next(((a, c) for a, c in group if a.id in matching_ids), None) or (group[0] if group else None)
        if main is None:
            continue
        also, seen_cities = [], {main[1].id}
        for article, city in group:
            if city.id not in seen_cities:
                also.append((city, article))
                seen_cities.add(city.id)
        topics = sorted({t for a, _ in group for t in topic_titles.get(a.id, [])})
        items.append(FeedItem(cluster.id, main[0], main[1], topics, source_urls[main[0].id], also))
    return items


def entry_id(public_url: str, item: FeedItem) -> str:
    return f"{public_url.rstrip('/')}/stories/{item.cluster_id}"


def _body(item: FeedItem) -> str:
    body = item.article.content_html or item.article.summary_html or ""
    if item.also:
        links = ", ".join(
            f'<a href="{html.escape(a.url or "", quote=True)}" rel="noopener noreferrer">{html.escape(c.name)}</a>' if a.url else html.escape(c.name)
            for c, a in item.also
        )
        body += f"<p>Auch veröffentlicht von: {links}</p>"
    return body


def render(items: list[FeedItem], meta: FeedMeta, fmt: str, public_url: str, updated: datetime | None = None) -> bytes:
    base = public_url.rstrip("/")
    self_url = f"{base}{meta.self_path}.{fmt}"
    updated = updated or (max((i.article.changed_at for i in items), default=None)) or utcnow()
    if fmt == "json":
        return _render_json(items, meta, self_url, base)
    fg = FeedGenerator()
    fg.id(self_url)
    fg.title(f"{meta.title} – Kommunaler Feed-Verbund Bayern")
    fg.subtitle(meta.description)
    fg.link(href=self_url, rel="self")
    fg.link(href=f"{base}/", rel="alternate")
    fg.language("de")
    fg.generator("syndicate")
    fg.updated(updated)
    for item in items:
        article = item.article
        fe = fg.add_entry(order="append")
        fe.id(entry_id(base, item))
        fe.guid(entry_id(base, item), permalink=False)
        fe.title(article.title)
        if article.url:
            fe.link(href=article.url, rel="alternate")
        fe.published(article.published_at)
        fe.updated(article.updated_at or article.published_at)
        if fmt == "atom":
            fe.author(name=item.city.name)
        else:  # RSS <author> must be an e-mail address; <source> names the publishing city's feed
            fe.source(title=item.city.name, url=item.source_url)
        for term in dict.fromkeys([*article.categories, *item.topics]):
            fe.category(term=term)
        body = _body(item) or html.escape(article.title)
        if fmt == "atom":
            fe.summary(article.text[:300] or article.title)
            fe.content(body, type="html")
        else:
            fe.description(body)
    return fg.atom_str(pretty=False) if fmt == "atom" else fg.rss_str(pretty=False)


def _render_json(items: list[FeedItem], meta: FeedMeta, self_url: str, base: str) -> bytes:
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": f"{meta.title} – Kommunaler Feed-Verbund Bayern",
        "description": meta.description,
        "home_page_url": f"{base}/",
        "feed_url": self_url,
        "language": "de",
        "items": [
            {
                "id": entry_id(base, item),
                "url": item.article.url,
                "title": item.article.title,
                "content_html": _body(item),
                "summary": item.article.text[:300],
                "date_published": item.article.published_at.isoformat(),
                "date_modified": (item.article.updated_at or item.article.published_at).isoformat(),
                "authors": [{"name": item.city.name}],
                "tags": list(dict.fromkeys([*item.article.categories, *item.topics])),
                "_syndicate": {"also_published_by": [{"city": c.slug, "name": c.name, "url": a.url} for c, a in item.also]},
            }
            for item in items
        ],
    }
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


def etag_for(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def build_feed(session: Session, query: FeedQuery, fmt: str, public_url: str) -> bytes:
    if fmt not in FORMATS:
        raise UnknownFeed(f"unknown format {fmt!r}")
    meta = describe(session, query)
    return render(load_items(session, query), meta, fmt, public_url)
