"""HTML page → the feed URLs it advertises with ``<link rel="alternate" type="…feed type…">``.

Values in, values out: the caller fetches the page (through the same fetcher and address
policy as polling) and decides what to do with the links.
"""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser

from syndicate.reader.normalise import absolute_url

FEED_TYPES = {
    "application/rss+xml": "rss",
    "application/atom+xml": "atom",
    "application/feed+json": "json",
    "application/json": "json",
    "application/rdf+xml": "rdf",
    "text/xml": "rss",
    "application/xml": "rss",
}


@dataclass(frozen=True)
class FeedLink:
    url: str
    title: str | None
    type: str  # rss | atom | json | rdf


class _LinkCollector(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.links: list[dict[str, str]] = []

    def handle_starttag(self, tag, attrs):
        values = {name.lower(): (value or "") for name, value in attrs}
        if tag == "base" and self.base is None and values.get("href"):
            self.base = values["href"]
        elif tag == "link":
            self.links.append(values)

    handle_startendtag = handle_starttag


def find_feed_links(html: str, base_url: str) -> list[FeedLink]:
    """Advertised feeds in document order, each URL once, resolved against ``<base>`` and ``base_url``."""
    collector = _LinkCollector()
    collector.feed(html)
    collector.close()
    base = absolute_url(collector.base, base_url) or base_url
    found: dict[str, FeedLink] = {}
    for link in collector.links:
        rels = link.get("rel", "").lower().split()
        kind = FEED_TYPES.get(link.get("type", "").split(";")[0].strip().lower())
        url = absolute_url(link.get("href"), base)
        if "alternate" in rels and kind and url and url not in found:
            found[url] = FeedLink(url=url, title=link.get("title") or None, type=kind)
    return list(found.values())
