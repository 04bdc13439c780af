"""Merged feeds: /feeds/all, /feeds/topics/{slug}, /feeds/cities/{slug} as .rss, .atom, .json, and /feeds/opml.

Rendered bytes come from a per-process FeedCache (publish.FeedCache): a request whose feed has not
changed costs the version-stamp query and no rendering; while the cached copy is fresh, a request
without a query is answered before routing (syndicate.web.cachedfeeds). Conditional requests get 304; HEAD gets the
headers only; gzip is done by the app's GZipMiddleware.
"""

from __future__ import annotations

from datetime import date
from email.utils import format_datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from syndicate.publish import index as feedindex
from syndicate.publish.feeds import FORMATS, FeedCache, FeedQuery, InvalidCursor, RenderedFeed, UnknownFeed, parse_cursor
from syndicate.web import cachedfeeds
from syndicate.web.deps import RuntimeDep, SessionDep

router = APIRouter(prefix="/feeds", tags=["feeds"])
CACHE_CONTROL = cachedfeeds.CACHE_CONTROL


CityParam = Annotated[str | None, Query(description="Komma-getrennte Stadt-Slugs")]
SearchParam = Annotated[str | None, Query(max_length=200, description="Suche in Titel und Text")]
LimitParam = Annotated[int | None, Query(ge=1, description="Einträge je Seite (gedeckelt)")]
# no max_length here: that would be a 422 in English; parse_cursor refuses anything but a cursor's form (a 400 in German)
BeforeParam = Annotated[str | None, Query(description="Blättern: Cursor aus dem rel=next-Link")]


def feed_cache(request: Request) -> FeedCache:
    """The app's render cache (plain function, not a dependency: sync dependencies cost a thread hop)."""
    state = request.app.state
    if getattr(state, "feed_cache", None) is None:
        settings = state.runtime.settings
        state.feed_cache = FeedCache(max_bytes=settings.feed_cache_bytes, fresh_for=settings.feed_cache_seconds)
    return state.feed_cache


def not_modified(request: Request, feed: RenderedFeed) -> bool:
    return cachedfeeds.not_modified(
        request.headers.get("if-none-match"), request.headers.get("if-modified-since"), feed.etag, feed.last_modified
    )


def _load(runtime, cache: FeedCache, query: FeedQuery, fmt: str) -> RenderedFeed:
    with runtime.sessions() as session:
        return cache.get(session, query, fmt, runtime.settings.public_url)


async def _respond(request: Request, query: FeedQuery, fmt: str) -> Response:
    """Async so that a fresh cache hit (FeedCache.peek) costs no thread hop; the database work runs in the threadpool."""
    if fmt not in FORMATS:
        raise HTTPException(404, detail={"reason": "unknown_format", "message": f"Format {fmt!r} gibt es nicht (rss, atom, json)"})
    runtime, cache = request.app.state.runtime, feed_cache(request)
    base = runtime.settings.public_url.rstrip("/")
    try:
        feed = cache.peek(query, fmt, runtime.settings.public_url)
        if feed is None:
            feed = await run_in_threadpool(_load, runtime, cache, query, fmt)
    except UnknownFeed as exc:
        raise HTTPException(404, detail={"reason": exc.reason, "message": str(exc)}) from exc
    except InvalidCursor as exc:
        raise HTTPException(400, detail={"reason": exc.reason, "message": str(exc)}) from exc
    media_type = browser_type(request, fmt)
    headers = {
        "ETag": feed.etag,
        "Last-Modified": format_datetime(feed.last_modified, usegmt=True),
        "Cache-Control": CACHE_CONTROL,
        "Vary": "Accept-Encoding, Accept",
        "Link": f'<{base}/websub>; rel="hub", <{base}{request.url.path}>; rel="self"',
    }
    if not_modified(request, feed):
        return Response(status_code=304, headers=headers)
    if request.method == "HEAD":
        return Response(headers={**headers, "Content-Length": str(len(feed.body))}, media_type=media_type)
    return Response(content=feed.body, media_type=media_type, headers=headers)


def browser_type(request: Request, fmt: str) -> str:
    """The feed's own media type, but plain XML for a browser (it asks for text/html): browsers show
    application/rss+xml as source text and apply the feed's XSLT stylesheet only to XML."""
    if fmt in ("rss", "atom") and "text/html" in request.headers.get("accept", ""):
        return "application/xml; charset=utf-8"
    return FORMATS[fmt]


def _query(request: Request, kind: str, slug: str | None, city, topic, q, limit, before, since=None, until=None) -> FeedQuery:
    if before:  # checked here, before any cache or database work, so a bad cursor is always a 400
        try:
            parse_cursor(before)
        except InvalidCursor as exc:
            raise HTTPException(400, detail={"reason": exc.reason, "message": str(exc)}) from exc
    settings = request.app.state.runtime.settings
    limit = min(limit or settings.feed_limit, settings.feed_limit_max)
    cities = tuple(sorted({c.strip() for c in (city or "").split(",") if c.strip()}))
    return FeedQuery(kind=kind, slug=slug, cities=cities, topic=topic, q=q, limit=limit, before=before, since=since, until=until)


@router.get("/opml", summary="OPML-Liste aller Feeds")
def opml_all(session: SessionDep, runtime: RuntimeDep, fmt: Annotated[str, Query(alias="format", pattern="^(rss|atom|json)$")] = "atom"):
    body = feedindex.opml(feedindex.feeds(session), runtime.settings.public_url, fmt)
    return Response(
        body, media_type="text/x-opml; charset=utf-8", headers={"Content-Disposition": 'attachment; filename="syndicate-feeds.opml"'}
    )


@router.api_route("/all.{fmt}", methods=["GET", "HEAD"])
async def all_feed(
    fmt: str,
    request: Request,
    city: CityParam = None,
    topic: str | None = None,
    q: SearchParam = None,
    limit: LimitParam = None,
    before: BeforeParam = None,
):
    return await _respond(request, _query(request, "all", None, city, topic, q, limit, before), fmt)


@router.api_route("/search.{fmt}", methods=["GET", "HEAD"])
async def search_feed(
    fmt: str,
    request: Request,
    q: SearchParam = None,
    city: CityParam = None,
    topic: str | None = None,
    von: Annotated[date | None, Query(description="veröffentlicht ab (JJJJ-MM-TT)")] = None,
    bis: Annotated[date | None, Query(description="veröffentlicht bis (JJJJ-MM-TT)")] = None,
    limit: LimitParam = None,
    before: BeforeParam = None,
):
    """The stories matching a search (the portal's /suche) as a feed, newest first."""
    return await _respond(request, _query(request, "search", None, city, topic, q, limit, before, von, bis), fmt)


@router.api_route("/topics/{slug}.{fmt}", methods=["GET", "HEAD"])
async def topic_feed(
    slug: str,
    fmt: str,
    request: Request,
    city: CityParam = None,
    topic: str | None = None,
    q: SearchParam = None,
    limit: LimitParam = None,
    before: BeforeParam = None,
):
    return await _respond(request, _query(request, "topic", slug, city, topic, q, limit, before), fmt)


@router.api_route("/cities/{slug}.{fmt}", methods=["GET", "HEAD"])
async def city_feed(
    slug: str,
    fmt: str,
    request: Request,
    city: CityParam = None,
    topic: str | None = None,
    q: SearchParam = None,
    limit: LimitParam = None,
    before: BeforeParam = None,
):
    return await _respond(request, _query(request, "city", slug, city, topic, q, limit, before), fmt)
