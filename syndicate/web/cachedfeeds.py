"""The app's own fast path for merged feeds: a cached first page answered before routing.

Readers poll the same few URLs (``/feeds/all.atom``, a topic, a city) without a query, and while the
render cache holds a fresh copy (``SYNDICATE_FEED_CACHE_SECONDS``) the answer is the same bytes for
everyone. Routing, validation and dependency injection cost far more than sending those bytes, so
this ASGI middleware answers such requests straight from ``FeedCache.peek``: no database work, no
thread hop, headers and a gzip copy made once per rendered feed. Everything else — a query string,
a cache miss, another path — goes on to the app unchanged, which renders and fills the cache.
"""

from __future__ import annotations

import gzip
import re
from collections import OrderedDict
from dataclasses import dataclass
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from syndicate.publish.feeds import FORMATS, FeedQuery, RenderedFeed

FEED_PATH = re.compile(r"/feeds/(?:(all)|(topics|cities)/([a-z0-9-]{1,64}))\.(rss|atom|json)")
KINDS = {"topics": "topic", "cities": "city"}
CACHE_CONTROL = "public, max-age=300"


@dataclass(frozen=True)
class Prepared:
    """A rendered feed's answer, made once: the headers as bytes and the body plain and gzipped."""

    headers: list[tuple[bytes, bytes]]
    body: bytes
    gzipped: bytes
    etag: str
    last_modified: str


def prepare(feed: RenderedFeed, fmt: str, path: str, public_url: str) -> Prepared:
    base = public_url.rstrip("/")
    last_modified = format_datetime(feed.last_modified, usegmt=True)
    headers = [
        (b"content-type", f"{FORMATS[fmt]}".encode()),
        (b"etag", feed.etag.encode()),
        (b"last-modified", last_modified.encode()),
        (b"cache-control", CACHE_CONTROL.encode()),
        (b"vary", b"Accept-Encoding, Accept"),
        (b"link", f'<{base}/websub>; rel="hub", <{base}{path}>; rel="self"'.encode()),
    ]
    return Prepared(headers, feed.body, gzip.compress(feed.body, compresslevel=6, mtime=0), feed.etag, last_modified)


def not_modified(if_none_match: str | None, if_modified_since: str | None, etag: str, last_modified: Any) -> bool:
    """RFC 9110 §13.2.2: If-None-Match wins; If-Modified-Since only without it. ``last_modified``: an aware datetime."""
    if if_none_match is not None:
        candidates = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
        return "*" in candidates or etag in candidates
    if if_modified_since is not None:
        try:
            return last_modified.replace(microsecond=0) <= parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError, OverflowError):  # not a date, a naive one, or a year past any C integer
            return False
    return False


class CachedFeeds:
    """ASGI middleware: a fresh cached first page of a merged feed, sent without entering the app."""

    def __init__(self, app: Any, prepared_max: int = 256) -> None:
        self.app = app
        self.prepared: OrderedDict[tuple[int, str], Prepared] = OrderedDict()  # by (id of the RenderedFeed, path)
        self.prepared_max = prepared_max

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["query_string"] or scope["method"] not in ("GET", "HEAD"):
            return await self.app(scope, receive, send)
        match = FEED_PATH.fullmatch(scope["path"])
        state = getattr(scope.get("app"), "state", None)
        cache = getattr(state, "feed_cache", None)
        if match is None or cache is None:
            return await self.app(scope, receive, send)
        everything, kind, slug, fmt = match.groups()
        if fmt != "json" and b"text/html" in dict(scope["headers"]).get(b"accept", b""):
            return await self.app(scope, receive, send)  # a browser: the app answers with XML for the feed's stylesheet
        settings = state.runtime.settings  # type: ignore[union-attr]
        query = FeedQuery("all" if everything else KINDS[kind], slug, limit=min(settings.feed_limit, settings.feed_limit_max))
        feed = cache.peek(query, fmt, settings.public_url)
        if feed is None:
            return await self.app(scope, receive, send)
        answer = self._prepared(feed, fmt, scope["path"], settings.public_url)
        await self._send(scope, send, answer, feed)

    def _prepared(self, feed: RenderedFeed, fmt: str, path: str, public_url: str) -> Prepared:
        key = (id(feed), path)
        found = self.prepared.get(key)
        if found is None or found.body is not feed.body:  # an id can be reused once the old feed is gone
            found = prepare(feed, fmt, path, public_url)
            self.prepared[key] = found
            while len(self.prepared) > self.prepared_max:
                self.prepared.popitem(last=False)
        return found

    @staticmethod
    async def _send(scope: dict, send: Any, answer: Prepared, feed: RenderedFeed) -> None:
        request_headers = dict(scope["headers"])
        if_none_match = request_headers.get(b"if-none-match")
        if_modified_since = request_headers.get(b"if-modified-since")
        if not_modified(
            if_none_match.decode("latin-1") if if_none_match is not None else None,
            if_modified_since.decode("latin-1") if if_modified_since is not None else None,
            answer.etag,
            feed.last_modified,
        ):
            await send({"type": "http.response.start", "status": 304, "headers": answer.headers[1:]})
            await send({"type": "http.response.body", "body": b""})
            return
        zipped = b"gzip" in request_headers.get(b"accept-encoding", b"")
        body = answer.gzipped if zipped else answer.body
        headers = [*answer.headers, (b"content-length", str(len(body)).encode())]
        if zipped:
            headers.append((b"content-encoding", b"gzip"))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
