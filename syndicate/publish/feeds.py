"""Merged feeds: which clusters belong in a feed, and rendering with feedgen (RSS, Atom) or as JSON Feed.

A merged feed shows one entry per cluster, newest first. The entry is the
cluster's representative (the member seen first, see syndicate.dedupe.clusters) unless the feed is filtered
to cities that did not publish that one; the other publishers are named.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from urllib.parse import urlencode

from feedgen.feed import FeedGenerator
from lxml import etree
from sqlalchemy import ColumnElement, exists, false, func, or_, select
from sqlalchemy.orm import Session

from syndicate.models import Article, ArticleTopic, City, Cluster, Source, Topic
from syndicate.reader.normalise import Enclosure, shorten
from syndicate.search import index as search_index

logger = logging.getLogger(__name__)

FORMATS = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}
EMPTY_FEED_UPDATED = datetime(2000, 1, 1, tzinfo=UTC)
STYLESHEET = "/static/feed.xsl"  # same origin as the feed: browsers apply no stylesheet from elsewhere
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class UnknownFeed(LookupError):
    reason = "unknown_feed"


@dataclass(frozen=True)
class FeedQuery:
    kind: str = "all"  # all | topic | city | search
    slug: str | None = None
    cities: tuple[str, ...] = ()
    topic: str | None = None
    q: str | None = None  # words for the search index (syndicate.search); a search feed without words is empty
    since: date | None = None  # stories published on or after this day (UTC)
    until: date | None = None  # stories published on or before this day (UTC)
    limit: int = 50
    before: str | None = None  # paging cursor from a feed's rel="next" link (see parse_cursor)


@dataclass
class FeedItem:
    cluster_id: int
    article: Article
    city: City
    topics: list[str]
    source_url: str
    published_at: datetime  # the story's (cluster's) date: the paging key
    also: list[tuple[City, Article]] = field(default_factory=list)


@dataclass
class FeedMeta:
    title: str
    description: str
    self_path: str


ATOM_NS = "http://www.w3.org/2005/Atom"


@dataclass(frozen=True)
class FeedPage:
    """One page of a feed: its items, the query that made it, and the cursor of the next (older) page."""

    items: list[FeedItem]
    query: FeedQuery
    next_before: str | None = None


@dataclass(frozen=True)
class RenderedFeed:
    body: bytes
    etag: str
    last_modified: datetime


def cursor_for(published_at: datetime, cluster_id: int) -> str:
    """An opaque-looking but readable keyset cursor: the last entry's date and story id."""
    moment = published_at.astimezone(UTC)
    return f"{moment.year:04d}{moment:%m%dT%H%M%S.%f}Z-{cluster_id}"  # %Y writes year 1 as "1" on glibc


# exactly what ``cursor_for`` writes, in ASCII digits (``\d`` would also take other scripts' digits)
_CURSOR = re.compile(r"([0-9]{8}T[0-9]{6}\.[0-9]{6}Z)-([0-9]{1,19})\Z")
MAX_CLUSTER_ID = 2**31 - 1  # clusters.id is a 32-bit integer column
MAX_STORY_ID = 2**63 - 1  # the database's integers: a larger bound parameter overflows in the driver


def parse_cursor(value: str) -> tuple[datetime, int]:
    """The date and story id of a ``cursor_for`` cursor; anything else is an ``InvalidCursor``."""
    match = _CURSOR.match(value)
    if match is not None:
        try:
            stamp, story = datetime.strptime(match[1], "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=UTC), int(match[2])
        except ValueError:  # a month 13, a day 32
            pass
        else:
            if story <= MAX_STORY_ID:
                return stamp, story
    raise InvalidCursor("Der Blätter-Cursor (before=…) ist ungültig. Bitte den Link „next“ aus dem Feed verwenden.")


class InvalidCursor(ValueError):
    reason = "invalid_cursor"


def query_string(query: FeedQuery, before: str | None) -> str:
    """The query string that reproduces ``query`` (filters, limit, cursor) in a feed URL."""
    params = {
        "city": ",".join(query.cities) or None,
        "topic": query.topic,
        "q": query.q,
        "von": query.since and query.since.isoformat(),
        "bis": query.until and query.until.isoformat(),
        "before": before,
    }
    return urlencode({k: v for k, v in params.items() if v})


def describe(session: Session, query: FeedQuery) -> FeedMeta:
    if query.kind == "topic":
        topic = session.scalar(select(Topic).where(Topic.slug == query.slug))
        if topic is None:
            raise UnknownFeed(f"das Thema {query.slug!r} gibt es nicht")
        return FeedMeta(
            f"Thema: {topic.title}",
            topic.description or f"Meldungen bayerischer Kommunen zum Thema {topic.title}",
            f"/feeds/topics/{topic.slug}",
        )
    if query.kind == "city":
        city = session.scalar(select(City).where(City.slug == query.slug))
        if city is None:
            raise UnknownFeed(f"die Kommune {query.slug!r} gibt es nicht")
        return FeedMeta(city.name, f"Meldungen von {city.name}", f"/feeds/cities/{city.slug}")
    if query.kind == "search":
        words = CONTROL.sub("", query.q or "").strip()  # XML has no place for control characters
        return FeedMeta(f"Suche: {words}", f"Meldungen zur Suche „{words}“", "/feeds/search")
    return FeedMeta("Alle Meldungen", "Zusammengeführte Meldungen bayerischer Kommunen und Partner", "/feeds/all")


def _cities(query: FeedQuery) -> set[str | None]:
    """The cities a query is limited to: its ``?city=`` filter, within the city's own feed its city."""
    cities: set[str | None] = set(query.cities)
    if query.kind == "city":
        cities = {query.slug} if not cities else cities & {query.slug}
    return cities


def article_filter(session: Session, query: FeedQuery):
    """SQL conditions on Article for the feed's own scope and the query filters."""
    conditions: list[ColumnElement[bool]] = []
    cities = _cities(query)
    if query.kind == "city" and not cities:  # ?city= names only other cities: nothing of this city's feed is left
        conditions.append(false())
    if cities:
        # the sources' ids as bound values, read first: PostgreSQL then estimates the city's share of the
        # articles from the source_id statistics and, for a village with a few articles a year, reads its
        # articles by source instead of walking every story newest first in search of them
        ids = session.scalars(select(Source.id).join(City).where(City.slug.in_(cities)).order_by(Source.id)).all()
        conditions.append(Article.source_id.in_(ids) if ids else false())
    for topic_slug in filter(None, {query.slug if query.kind == "topic" else None, query.topic}):
        conditions.append(
            exists().where(
                ArticleTopic.article_id == Article.id,
                ArticleTopic.topic_id == select(Topic.id).where(Topic.slug == topic_slug).scalar_subquery(),
            )
        )
    if query.q or query.kind == "search":
        conditions.append(Article.id.in_(search_index.matching_ids(session, query.q or "")))
    if query.since:
        conditions.append(Article.published_at >= datetime.combine(query.since, day_time(), UTC))
    if query.until:
        conditions.append(Article.published_at < datetime.combine(query.until + timedelta(days=1), day_time(), UTC))
    return conditions


def load_items(session: Session, query: FeedQuery, clusters: Sequence[Cluster] | None = None) -> list[FeedItem]:
    """``clusters``: the page's stories when the caller read them already (``stamp_clusters``)."""
    conditions = article_filter(session, query)
    return items_for(session, page_clusters(session, query, conditions) if clusters is None else clusters, conditions)


def page_clusters(session: Session, query: FeedQuery, conditions: list) -> Sequence[Cluster]:
    """The ``query.limit`` stories of the page, newest first (``conditions``: ``article_filter`` of the query)."""
    matching: ColumnElement[bool]
    if query.q or query.kind == "search":  # few matches at most (search.index.MOST): collect them first
        matching = Cluster.id.in_(select(Article.cluster_id).where(*conditions, Article.cluster_id.is_not(None)))
    else:  # walk the clusters newest first (their published_at index) and check each: a page stops after ``limit`` hits
        matching = exists().where(Article.cluster_id == Cluster.id, *conditions)
    page = []
    if query.before:
        date, cluster_id = parse_cursor(query.before)
        # a story id past the column's range (a valid cursor may name one) means every story of that date:
        # bound it to the column, where PostgreSQL would refuse the parameter instead of comparing it
        below = Cluster.id < cluster_id if cluster_id <= MAX_CLUSTER_ID else Cluster.id <= MAX_CLUSTER_ID
        page.append(or_(Cluster.published_at < date, (Cluster.published_at == date) & below))
    if not (query.q or query.kind == "search") and _few_sources(session, query):
        # a city's feed: its own articles first (by source), their stories' dates, the newest of those. Walking
        # the stories newest first probed 8,500 stories for München's 51 at a quarter of a year of Bavaria
        # (64 ms; 50,000 for Nürnberg's at a whole year), the city's 6,400 articles and their stories are 21 ms.
        # A city's articles are bounded by retention (``retention_per_source`` per source); MATERIALIZED keeps
        # PostgreSQL from turning this back into that walk.
        found = (
            select(Article.cluster_id)
            .where(*conditions, Article.cluster_id.is_not(None))
            .cte("found")
            .prefix_with("MATERIALIZED", dialect="postgresql")
        )
        matching = Cluster.id.in_(select(found.c.cluster_id))
    return session.scalars(
        select(Cluster).where(matching, *page).order_by(Cluster.published_at.desc(), Cluster.id.desc()).limit(query.limit)
    ).all()


GATHER_SOURCES = 24  # a feed limited to at most this many sources starts from their articles (see page_clusters)


def _few_sources(session: Session, query: FeedQuery) -> bool:
    cities = _cities(query)
    if not cities:
        return False
    count = session.scalar(select(func.count(Source.id)).join(City).where(City.slug.in_(cities)))
    return 0 < (count or 0) <= GATHER_SOURCES


def items_for(session: Session, clusters: Sequence[Cluster], conditions: list) -> list[FeedItem]:
    """One item per cluster, in the given order: the representative among the articles that meet
    ``conditions`` (the first of them otherwise), the other publishers, the story's topics."""
    if not clusters:
        return []
    ids = [c.id for c in clusters]
    matching_ids = set(session.scalars(select(Article.id).where(Article.cluster_id.in_(ids), *conditions)))
    members: dict[int | None, list[tuple[Article, City]]] = {}
    source_urls: dict[int, str] = {}
    rows = session.execute(
        select(Article, City, Source.url)
        .join(Source, Article.source_id == Source.id)
        .join(City)
        .where(Article.cluster_id.in_(ids))
        .order_by(Article.first_seen_at, Article.published_at, Article.id)  # as the representative is chosen: first seen first
    )
    for article, city, source_url in rows:
        members.setdefault(article.cluster_id, []).append((article, city))
        source_urls[article.id] = source_url
    topic_rows = session.execute(
        select(ArticleTopic.article_id, Topic.title)
        .join(Topic)
        .where(ArticleTopic.article_id.in_([a.id for m in members.values() for a, _ in m]))
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
        items.append(FeedItem(cluster.id, main[0], main[1], topics, source_urls[main[0].id], cluster.published_at, also))
    return items


def entry_id(public_url: str, item: FeedItem) -> str:
    return f"{public_url.rstrip('/')}/stories/{item.cluster_id}"


def _body(item: FeedItem) -> str:
    body = item.article.content_html or item.article.summary_html or ""
    if item.also:
        links = ", ".join(
            f'<a href="{html.escape(a.url or "", quote=True)}" rel="noopener noreferrer">{html.escape(c.name)}</a>'
            if a.url
            else html.escape(c.name)
            for c, a in item.also
        )
        body += f"<p>Auch veröffentlicht von: {links}</p>"
    return body


def load_page(session: Session, query: FeedQuery, clusters: Sequence[Cluster] | None = None) -> FeedPage:
    """``query.limit`` items after the ``before`` cursor, and the cursor of the next page if there is one
    (``clusters``: ``stamp_clusters`` of the query, when the caller read them already)."""
    items = load_items(session, replace(query, limit=query.limit + 1), clusters)
    more, items = len(items) > query.limit, items[: query.limit]
    last = items[-1] if items else None
    return FeedPage(items, query, cursor_for(last.published_at, last.cluster_id) if more and last else None)


def page_links(page: FeedPage, meta: FeedMeta, fmt: str, public_url: str) -> dict[str, str]:
    """rel → URL: self, hub (WebSub), first and, when older entries exist, next and prev-archive (RFC 5005)."""
    base = public_url.rstrip("/")
    url = f"{base}{meta.self_path}.{fmt}"
    with_query = lambda before: f"{url}?{qs}" if (qs := query_string(page.query, before)) else url  # noqa: E731
    links = {"self": with_query(page.query.before), "hub": f"{base}/websub", "first": with_query(None)}
    if page.next_before:
        links["next"] = links["prev-archive"] = with_query(page.next_before)
    return links


def last_modified(items: list[FeedItem]) -> datetime:
    # an empty feed gets a fixed date, not "now": its body, and so its ETag, must not change per request
    return max((i.article.changed_at for i in items), default=None) or EMPTY_FEED_UPDATED


def render(
    items: list[FeedItem], meta: FeedMeta, fmt: str, public_url: str, updated: datetime | None = None, links: dict[str, str] | None = None
) -> bytes:
    base = public_url.rstrip("/")
    links = links or {"self": f"{base}{meta.self_path}.{fmt}", "hub": f"{base}/websub"}
    self_url = links["self"]
    updated = updated or last_modified(items)
    if fmt == "json":
        return _render_json(items, meta, links, base)
    fg = FeedGenerator()
    fg.id(f"{base}{meta.self_path}.{fmt}")  # one id for every page of the feed
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
        if fmt == "rss" and (media := stored_enclosures(article)):  # RSS 2.0 allows one enclosure per item
            first = media[0]  # RSS 2.0 requires a length; 0 says it is unknown
            fe.enclosure(first.url, str(first.length or 0), first.type or "application/octet-stream")
        body = _body(item) or html.escape(article.title)
        if fmt == "atom":
            fe.summary(shorten(article.text, 300) or article.title)
            fe.content(body, type="html")
        else:
            fe.description(body)
    root, _ = fg._create_atom() if fmt == "atom" else fg._create_rss()
    _add_links(root if fmt == "atom" else root.find("channel"), links, fmt)
    if fmt == "atom":
        _add_atom_enclosures(root, items)
    # a browser shows the feed as a German page through this stylesheet; feed readers ignore it
    root.addprevious(etree.ProcessingInstruction("xml-stylesheet", f'type="text/xsl" href="{STYLESHEET}"'))
    return etree.tostring(root.getroottree(), encoding="UTF-8", xml_declaration=True)


def _add_atom_enclosures(root, items: list[FeedItem]) -> None:
    """rel="enclosure" links, written here because feedgen 1.0 drops rel/type/length of entry links."""
    for element, item in zip(root.findall("entry"), items):  # feedgen's elements carry no namespace of their own
        for enclosure in stored_enclosures(item.article):
            attributes = {"rel": "enclosure", "href": enclosure.url}
            if enclosure.type:
                attributes["type"] = enclosure.type
            if enclosure.length is not None:
                attributes["length"] = str(enclosure.length)
            etree.SubElement(element, "link", attributes)


def _add_links(parent, links: dict[str, str], fmt: str) -> None:
    """hub, first, next, prev-archive as atom:link (feedgen writes only rel=self into RSS)."""
    position = next((i + 1 for i, child in enumerate(parent) if child.tag == f"{{{ATOM_NS}}}link" and child.get("rel") == "self"), 0)
    for rel, href in links.items():
        if rel != "self":
            parent.insert(position, etree.Element(f"{{{ATOM_NS}}}link", rel=rel, href=href))
            position += 1


def _render_json(items: list[FeedItem], meta: FeedMeta, links: dict[str, str], base: str) -> bytes:
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": f"{meta.title} – Kommunaler Feed-Verbund Bayern",
        "description": meta.description,
        "home_page_url": f"{base}/",
        "feed_url": links["self"],
        **({"next_url": links["next"]} if "next" in links else {}),
        "hubs": [{"type": "WebSub", "url": links["hub"]}],
        "language": "de",
        "items": [
            {
                "id": entry_id(base, item),
                **({"url": item.article.url} if item.article.url else {}),
                "title": item.article.title,
                "content_html": _body(item),
                "summary": shorten(item.article.text, 300),
                "date_published": item.article.published_at.isoformat(),
                "date_modified": (item.article.updated_at or item.article.published_at).isoformat(),
                "authors": [{"name": item.city.name}],
                "tags": list(dict.fromkeys([*item.article.categories, *item.topics])),
                **_json_media(stored_enclosures(item.article)),
                "_syndicate": {"also_published_by": [{"city": c.slug, "name": c.name, "url": a.url} for c, a in item.also]},
            }
            for item in items
        ],
    }
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


def stored_enclosures(article: Article) -> list[Enclosure]:
    """The article's enclosures as the typed values normalise made; nothing stored is parsed here."""
    stored = article.enclosures
    return [e for e in map(Enclosure.from_stored, stored) if e is not None] if isinstance(stored, list) else []


def _json_media(enclosures: list[Enclosure]) -> dict:
    """JSON Feed 1.1: the first image as ``image``, every enclosure as an attachment."""
    media: dict = {}
    image = next((e.url for e in enclosures if e.type.startswith("image/")), None)
    if image:
        media["image"] = image
    if enclosures:
        media["attachments"] = [
            {"url": e.url, "mime_type": e.type or "application/octet-stream", **({"size_in_bytes": e.length} if e.length else {})}
            for e in enclosures
        ]
    return media


def etag_for(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def render_feed(
    session: Session,
    query: FeedQuery,
    fmt: str,
    public_url: str,
    meta: FeedMeta | None = None,
    clusters: Sequence[Cluster] | None = None,
) -> RenderedFeed:
    """``clusters``: the page's stories as the version stamp read them (``stamp_clusters``), so a cold
    render reads them once."""
    if fmt not in FORMATS:
        raise UnknownFeed(f"das Format {fmt!r} gibt es nicht (rss, atom, json)")
    meta = meta or describe(session, query)
    page = load_page(session, query, clusters)
    updated = last_modified(page.items)
    body = render_isolated(page.items, meta, fmt, public_url, updated, page_links(page, meta, fmt, public_url))
    return RenderedFeed(body, etag_for(body), updated)


def render_isolated(items: list[FeedItem], meta: FeedMeta, fmt: str, public_url: str, updated: datetime, links: dict[str, str]) -> bytes:
    """``render``; when that fails, the feed without the entries that cannot be rendered on their own
    (each logged). Normalise makes every stored value renderable, so this is for rows it did not
    write (older versions, hand edits): one such article must not take down every feed it is in."""
    try:
        return render(items, meta, fmt, public_url, updated, links)
    except Exception:
        logger.exception("feed %s.%s failed to render; rendering its entries one by one", meta.self_path, fmt)
    kept = []
    for item in items:
        try:
            render([item], meta, fmt, public_url, updated, links)
        except Exception:
            logger.exception(
                "article %s (story %s) cannot be rendered as %s; left out of %s", item.article.id, item.cluster_id, fmt, meta.self_path
            )
        else:
            kept.append(item)
    return render(kept, meta, fmt, public_url, updated, links)


def stamp_clusters(session: Session, query: FeedQuery) -> Sequence[Cluster]:
    """The page's stories and the first of the next page: what ``version_stamp`` and ``load_page`` read."""
    return page_clusters(session, replace(query, limit=query.limit + 1), article_filter(session, query))


def version_stamp(session: Session, query: FeedQuery, clusters: Sequence[Cluster] | None = None) -> tuple:
    """Changes whenever what the page shows may change: the stories on it (and whether one more follows,
    the next link), or any article of those stories (changed, joined, left) or the story itself (a new
    representative). Two small queries, the page's stories and an aggregate over their articles by the
    cluster index, instead of a render; an aggregate over the whole scope read every article of the
    year for /feeds/all (312 ms at 255,000 articles on PostgreSQL, and growing with the database).
    ``clusters``: ``stamp_clusters`` of the query, when the caller read them already."""
    clusters = stamp_clusters(session, query) if clusters is None else clusters
    if not clusters:
        return ()
    ids = [c.id for c in clusters]
    row = session.execute(
        select(func.count(Article.id), func.max(Article.id), func.max(Article.changed_at)).where(Article.cluster_id.in_(ids))
    ).one()
    return (tuple((c.id, c.published_at, c.updated_at, c.representative_id) for c in clusters), *row)


def scope_stamp(session: Session, query: FeedQuery) -> tuple:
    """Changes whenever an article anywhere in the feed's scope changes, joins or leaves it, or its story
    changes: one aggregate over the whole scope (WebSub's "has anything moved at all" check)."""
    conditions = article_filter(session, query)
    row = session.execute(
        select(
            func.count(Article.id),
            func.max(Article.id),
            func.max(Article.changed_at),
            func.max(Cluster.updated_at),
            func.count(Cluster.id.distinct()),
        )
        .join(Cluster, Article.cluster_id == Cluster.id)
        .where(*conditions)
    ).one()
    return tuple(row)


def canonical(query: FeedQuery) -> FeedQuery:
    """The one spelling of a query, so that requests that must get the same feed share one cache entry:
    cities as a sorted set, the feed's own city or topic repeated as a filter dropped, the search
    lower-cased (it is matched lower-cased), empty filters as None and the paging cursor re-written.
    An unknown cursor raises InvalidCursor here already."""
    cities = tuple(sorted({c.strip() for c in query.cities if c.strip()}))
    if query.kind == "city" and query.slug in cities:
        cities = ()  # the city's own feed filtered to itself, or to itself among others, is the whole feed
    topic = query.topic or None
    if query.kind == "topic" and topic == query.slug:
        topic = None
    before = cursor_for(*parse_cursor(query.before)) if query.before else None
    return replace(query, cities=cities, topic=topic, q=query.q.lower() if query.q else None, before=before)


Renderer = Callable[[Session, FeedQuery, FeedMeta], RenderedFeed]


class FeedCache:
    """Rendered feeds by canonical (query, format), kept while their version stamp holds and within
    ``max_bytes`` in all; least recently used go first. A feed larger than the whole budget is served
    but not kept, so one huge page cannot push out every other feed."""

    ENTRY_OVERHEAD = 1024  # key, stamp and bookkeeping of an entry, so that many tiny feeds count too

    def __init__(self, max_bytes: int = 64 * 1024 * 1024, fresh_for: float = 0.0):
        self.max_bytes, self.fresh_for = max_bytes, fresh_for
        self.hits = self.misses = 0
        self.size = 0  # bytes held, as counted by cost()
        self._entries: OrderedDict[tuple, tuple[tuple, RenderedFeed]] = OrderedDict()
        self._checked: dict[tuple, float] = {}  # key → monotonic time of the last version check
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    @classmethod
    def cost(cls, rendered: RenderedFeed) -> int:
        return len(rendered.body) + cls.ENTRY_OVERHEAD

    def peek(self, query: FeedQuery, fmt: str, public_url: str) -> RenderedFeed | None:
        """The cached feed without any query, if its version was checked less than ``fresh_for`` seconds ago."""
        if self.fresh_for <= 0:
            return None
        key = (canonical(query), fmt, public_url)
        with self._lock:
            cached = self._entries.get(key)
            if cached is None or time.monotonic() - self._checked.get(key, float("-inf")) >= self.fresh_for:
                return None
            self.hits += 1
            return cached[1]

    def get(self, session: Session, query: FeedQuery, fmt: str, public_url: str, renderer: Renderer | None = None) -> RenderedFeed:
        """The feed as ``fmt``; with a ``renderer``, another view of the same stories (the widget), kept
        under ``fmt`` as its name and renewed by the same version stamp."""
        if renderer is None and fmt not in FORMATS:
            raise UnknownFeed(f"das Format {fmt!r} gibt es nicht (rss, atom, json)")
        query = canonical(query)
        meta = describe(session, query)  # also the 404 for unknown topics and cities
        clusters = stamp_clusters(session, query)  # read once: the stamp's, and the page's on a miss
        stamp = (meta, version_stamp(session, query, clusters))
        key = (query, fmt, public_url)
        with self._lock:
            cached = self._entries.get(key)
            if cached is not None and cached[0] == stamp:
                self._entries.move_to_end(key)
                self._checked[key] = time.monotonic()
                self.hits += 1
                return cached[1]
        rendered = renderer(session, query, meta) if renderer else render_feed(session, query, fmt, public_url, meta, clusters)
        with self._lock:
            self.misses += 1
            self._store(key, stamp, rendered)
        return rendered

    def _store(self, key: tuple, stamp: tuple, rendered: RenderedFeed) -> None:
        """Keep ``rendered`` under ``key`` and evict from the least recently used end until the budget holds (lock held)."""
        if (old := self._entries.pop(key, None)) is not None:
            self.size -= self.cost(old[1])
        self._checked.pop(key, None)
        if self.cost(rendered) > self.max_bytes:
            return
        self._entries[key] = (stamp, rendered)
        self._checked[key] = time.monotonic()
        self.size += self.cost(rendered)
        while self.size > self.max_bytes:
            evicted, (_, feed) = self._entries.popitem(last=False)
            self._checked.pop(evicted, None)
            self.size -= self.cost(feed)
