"""What the portal's pages show: the front page, a topic's or a city's stream, one story, a search.

The streams are the merged feeds' own queries (``feeds.load_page``), so a page and its feed show the
same stories in the same order; a search ranks the stories by the search index instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from markupsafe import Markup, escape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from syndicate.models import Article, ArticleTopic, City, Cluster, Topic
from syndicate.publish import feeds
from syndicate.publish.feeds import FeedItem, FeedMeta, FeedPage, FeedQuery
from syndicate.search import german
from syndicate.search import index as search_index
from syndicate.search.snippet import snippet

KIND_TITLES = {"city": "Städte und Gemeinden", "district": "Landkreise und Bezirke", "partner": "Partner"}


@dataclass(frozen=True)
class FrontPage:
    latest: list[FeedItem]
    topics: list[tuple[Topic, list[FeedItem]]]
    places: list[tuple[str, list[Place]]]  # (heading, cities) per kind


def front_page(session: Session, latest: int = 10, per_topic: int = 3) -> FrontPage:
    topics = session.scalars(select(Topic).order_by(Topic.title)).all()
    return FrontPage(
        latest=feeds.load_items(session, FeedQuery(limit=latest)),
        topics=[(t, feeds.load_items(session, FeedQuery("topic", t.slug, limit=per_topic))) for t in topics],
        places=places(session),
    )


@dataclass(frozen=True, slots=True)
class Place:
    """A city as the portal's lists and forms name it: read as plain columns, since Bavaria's 2,140
    publishers as ORM objects cost more than the rest of a search page."""

    id: int
    slug: str
    name: str
    kind: str


def places(session: Session) -> list[tuple[str, list[Place]]]:
    cities = [Place(*row) for row in session.execute(select(City.id, City.slug, City.name, City.kind).order_by(City.name))]
    groups = [(title, [c for c in cities if c.kind == kind]) for kind, title in KIND_TITLES.items()]
    others = [c for c in cities if c.kind not in KIND_TITLES]
    return [(title, members) for title, members in [*groups, ("Weitere", others)] if members]


def place_options(groups: list[tuple[str, list[Place]]], selected: tuple[str, ...] = ()) -> Markup:
    """The <optgroup>s of a place <select>, made once per process for the same places and choice: 2,140
    options were a third of a search page's time when the template wrote them on every request."""
    return _place_options(tuple((heading, tuple(members)) for heading, members in groups), tuple(sorted(set(selected))))


@lru_cache(maxsize=16)
def _place_options(groups: tuple[tuple[str, tuple[Place, ...]], ...], selected: tuple[str, ...]) -> Markup:
    chosen = set(selected)
    parts = []
    for heading, members in groups:
        parts.append(f'<optgroup label="{escape(heading)}">')
        parts.extend(
            f'<option value="{escape(c.slug)}"{" selected" if c.slug in chosen else ""}>{escape(c.name)}</option>' for c in members
        )
        parts.append("</optgroup>")
    return Markup("".join(parts))


def topic(session: Session, slug: str) -> Topic | None:
    return session.scalar(select(Topic).where(Topic.slug == slug))


def city(session: Session, slug: str) -> City | None:
    return session.scalar(select(City).where(City.slug == slug))


def stream(session: Session, kind: str, slug: str, before: str | None, limit: int = 20) -> FeedPage:
    """One page of a topic's or a city's merged stream, older pages by cursor (raises InvalidCursor)."""
    return feeds.load_page(session, FeedQuery(kind, slug, limit=limit, before=before))


def story(session: Session, story_id: int) -> FeedItem | None:
    """The story (cluster) with all its publishers, or None when there is no such story."""
    cluster = session.get(Cluster, story_id)
    if cluster is None:
        return None
    items = feeds.items_for(session, [cluster], [])
    return items[0] if items else None


@dataclass(frozen=True)
class Hit:
    item: FeedItem
    snippet: Markup


@dataclass(frozen=True)
class SearchResults:
    query: FeedQuery
    terms: list[german.Term]
    hits: list[Hit] = field(default_factory=list)
    page: int = 1
    more: bool = False


def search(
    session: Session,
    q: str,
    cities: tuple[str, ...] = (),
    topic_slug: str | None = None,
    since: date | None = None,
    until: date | None = None,
    page: int = 1,
    per_page: int = 20,
) -> SearchResults:
    """Stories whose articles match every word of ``q`` and the filters, best match first, newer first
    among equals. An empty or word-less query gives no hits (not every story)."""
    query = FeedQuery("search", cities=cities, topic=topic_slug, q=q, since=since, until=until)
    terms = german.parse(q)
    if not terms:
        return SearchResults(query, terms, page=page)
    matches = search_index.ranked(session, terms)
    conditions = feeds.article_filter(session, FeedQuery(cities=cities, topic=topic_slug, since=since, until=until))
    # At most search_index.MOST matching articles: their stories are ranked in the database (best match,
    # then newest) and only the page's clusters are read, by primary key (a join let PostgreSQL scan
    # every cluster for a handful of hits).
    rank, newest = func.min(matches.c.rank), func.max(Article.published_at)
    best = session.execute(
        select(Article.cluster_id)
        .join(matches, matches.c.article_id == Article.id)
        .where(Article.cluster_id.is_not(None), *conditions)
        .group_by(Article.cluster_id)
        .order_by(rank, newest.desc(), Article.cluster_id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page + 1)
    ).all()
    page_ids = [row[0] for row in best[:per_page]]
    by_id = {c.id: c for c in session.scalars(select(Cluster).where(Cluster.id.in_(page_ids)))}
    clusters = [by_id[i] for i in page_ids if i in by_id]
    items = feeds.items_for(session, clusters, conditions)
    hits = [Hit(item, _best_snippet(item, terms)) for item in items]
    return SearchResults(query, terms, hits, page, more=len(best) > per_page)


def _best_snippet(item: FeedItem, terms: list[german.Term]) -> Markup:
    """The passage with hits from the shown article, or from another publisher's copy when only that one matches in its text."""
    shown = snippet(item.article.text or item.article.title, terms)
    if "<mark>" in shown:
        return shown
    for _, copy in item.also:  # the copies only while no passage has a hit
        passage = snippet(copy.text or copy.title, terms)
        if "<mark>" in passage:
            return passage
    return shown


def all_topics(session: Session) -> list[Topic]:
    return list(session.scalars(select(Topic).order_by(Topic.title)))


def topics_of(session: Session, item: FeedItem) -> list[Topic]:
    """The topics of a story's articles (any publisher's copy), by title."""
    ids = [item.article.id, *(a.id for _, a in item.also)]
    topic_ids = select(ArticleTopic.topic_id).where(ArticleTopic.article_id.in_(ids))
    return list(session.scalars(select(Topic).where(Topic.id.in_(topic_ids)).order_by(Topic.title)))


def feed_title(session: Session, query: FeedQuery, meta: FeedMeta | None = None) -> str:
    """The feed's title and the filters on top of it, e.g. "Alle Meldungen (IT-Sicherheit, Stadt Augsburg)":
    the widget's heading and its iframe's title. Raises UnknownFeed for an unknown topic or city feed."""
    query = feeds.canonical(query)  # as the FeedCache keys it: the same title for every spelling of a feed
    meta = meta or feeds.describe(session, query)
    parts = []
    if query.topic and not (query.kind == "topic" and query.slug == query.topic):
        parts.append(session.scalar(select(Topic.title).where(Topic.slug == query.topic)) or query.topic)
    if query.cities:
        names = dict(session.execute(select(City.slug, City.name).where(City.slug.in_(query.cities))).all())
        parts.extend(names.get(slug, slug) for slug in query.cities)
    if query.q and query.kind != "search":
        parts.append(f"„{query.q}“")
    return f"{meta.title} ({', '.join(parts)})" if parts else meta.title


def preview(session: Session, query: FeedQuery) -> list[FeedItem]:
    """The latest entries of a feed the builder made."""
    return feeds.load_items(session, query)
