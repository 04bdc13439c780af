"""Every merged feed there is (all, one per topic, one per city), for the index page, OPML and export."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

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


def opml(refs: list[FeedRef], public_url: str, fmt: str = "atom") -> bytes:
    """OPML 2.0 with one outline per merged feed, in one format."""
    base = public_url.rstrip("/")
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = "Kommunaler Feed-Verbund Bayern – alle Feeds"
    body = ET.SubElement(root, "body")
    for ref in refs:
        ET.SubElement(
            body,
            "outline",
            type="rss",
            text=ref.title,
            title=ref.title,
            description=ref.description,
            xmlUrl=f"{base}{ref.path}.{fmt}",
            htmlUrl=f"{base}/",
        )
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
