"""HTML page → the feed URLs it advertises with ``<link rel="alternate" type="…feed type…">``.

Values in, values out: the caller fetches the page (through the same fetcher and address
policy as polling) and decides what to do with the links.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser

from syndicate.reader.errors import NotAFeed
from syndicate.reader.normalise import absolute_url
from syndicate.reader.parse import ParsedFeed, parse

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


def parse_feed(
    content: bytes, *, url: str | None = None, content_type: str | None = None, page: Callable[[], str] | None = None
) -> ParsedFeed:
    """``parse``; when the document is a web page that advertises feeds, its ``NotAFeed`` names them.
    Polling, the API's test fetch and ``syndicate parse`` all read documents through here, so a city
    sees the same message wherever it meets the page. ``page``: the body decoded as its response
    declares (called only for a page that is no feed); without it, UTF-8."""
    try:
        return parse(content, url=url, content_type=content_type)
    except NotAFeed as exc:
        if b"<" not in content[:4096]:
            raise
        links = find_feed_links(page() if page is not None else content.decode("utf-8", errors="replace"), url or "")
        if not links:
            raise
        advertised = tuple(link.url for link in links[:5])
        raise NotAFeed(advertised_feeds_message(advertised), advertised=advertised) from exc


def advertised_feeds_message(urls: Sequence[str]) -> str:
    """The one message for a web page that names feeds (polling, test fetch, ``syndicate parse``, the API)."""
    return "Die Adresse liefert eine Webseite, keinen Feed. Die Seite bietet diese Feeds an: " + ", ".join(urls[:5])
