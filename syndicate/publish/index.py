"""Every merged feed there is (all, one per topic, one per city), for the index page, OPML and export."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session

from syndicate.models import City, Topic
from syndicate.publish.feeds import FeedQuery

FORMAT_TYPES = {"rss": "application/rss+xml", "atom": "application/atom+xml", "json": "application/feed+json"}


@dataclass(frozen=True)
class FeedRef:
    title: str
    description: str
    path: str  # without format suffix, e.g. /feeds/topics/klimaschutz
    query: FeedQuery
    params: str = ""  # the query string of a filtered feed (the feed builder's), without "?"

    def href(self, fmt: str) -> str:
        return f"{self.path}.{fmt}{'?' + self.params if self.params else ''}"


def feeds(session: Session, limit: int = 50) -> list[FeedRef]:
    refs = [FeedRef("Alle Meldungen", "Alles aus allen Quellen, jede Meldung einmal", "/feeds/all", FeedQuery(limit=limit))]
    for t in session.scalars(select(Topic).order_by(Topic.title)):
        refs.append(
            FeedRef(
                f"Thema: {t.title}",
                t.description or f"Meldungen zum Thema {t.title}",
                f"/feeds/topics/{t.slug}",
                FeedQuery("topic", t.slug, limit=limit),
            )
        )
    for c in session.scalars(select(City).order_by(City.name)):
        refs.append(FeedRef(c.name, f"Meldungen von {c.name}", f"/feeds/cities/{c.slug}", FeedQuery("city", c.slug, limit=limit)))
    return refs


def opml(refs: list[FeedRef], public_url: str, fmt: str = "atom", title: str = "alle Feeds") -> bytes:
    """OPML 2.0 with one outline per feed, in one format (one outline, not three, per feed: a reader
    importing the file would otherwise subscribe to the same stories three times)."""
    base = public_url.rstrip("/")
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = f"Kommunaler Feed-Verbund Bayern – {title}"
    body = ET.SubElement(root, "body")
    for ref in refs:
        ET.SubElement(
            body,
            "outline",
            type="rss",
            text=ref.title,
            title=ref.title,
            description=ref.description,
            xmlUrl=f"{base}{ref.href(fmt)}",
            htmlUrl=f"{base}/",
        )
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def address(cities: tuple[str, ...] = (), topic: str | None = None, q: str | None = None) -> tuple[str, str]:
    """The feed (path without format, query string) for a choice of cities, one topic and search words,
    as the feed builder offers it: the plain topic or city feed where one fits, else a filtered one."""
    cities = tuple(sorted(set(cities)))
    if q:
        params = {"q": q, "city": ",".join(cities), "topic": topic}
        return "/feeds/search", urlencode({k: v for k, v in params.items() if v})
    if topic and not cities:
        return f"/feeds/topics/{topic}", ""
    if len(cities) == 1 and not topic:
        return f"/feeds/cities/{cities[0]}", ""
    params = {"city": ",".join(cities), "topic": topic}
    return "/feeds/all", urlencode({k: v for k, v in params.items() if v})


def builder_query(cities: tuple[str, ...] = (), topic: str | None = None, q: str | None = None, limit: int = 5) -> FeedQuery:
    """The query of the builder's feed, for its preview."""
    return FeedQuery("search" if q else "all", cities=tuple(sorted(set(cities))), topic=topic, q=q or None, limit=limit)


class Named(Protocol):
    """A city or a portal place (``stories.Place``): what a feed's address and title are made of."""

    @property
    def slug(self) -> str: ...

    @property
    def name(self) -> str: ...


def built(cities: Sequence[Named], topic: Topic | None, q: str | None) -> FeedRef:
    """The feed builder's feed for a choice of cities, one topic and search words, named after the choice."""
    slugs = tuple(sorted(c.slug for c in cities))
    path, params = address(slugs, topic.slug if topic else None, q)
    parts = [", ".join(c.name for c in sorted(cities, key=lambda c: c.name)) or "alle Kommunen"]
    parts.append(f"Thema: {topic.title}" if topic else "alle Themen")
    if q:
        parts.append(f"Suche: {q}")
    title = " · ".join(parts)
    return FeedRef(title, f"Eigener Feed: {title}", path, builder_query(slugs, topic.slug if topic else None, q), params)
