"""Merged feeds: /feeds/all, /feeds/topics/{slug}, /feeds/cities/{slug} as .rss, .atom, .json."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response

from syndicate.publish import FORMATS, FeedQuery, UnknownFeed, build_feed, etag_for
from syndicate.web.deps import RuntimeDep, SessionDep

router = APIRouter(prefix="/feeds", tags=["feeds"])


class FeedParams:
    def __init__(
        self,
        city: Annotated[str | None, Query(description="Komma-getrennte Stadt-Slugs")] = None,
        topic: str | None = None,
        q: Annotated[str | None, Query(max_length=200)] = None,
        limit: Annotated[int | None, Query(ge=1)] = None,
    ):
        self.city, self.topic, self.q, self.limit = city, topic, q, limit


def _respond(request: Request, session, runtime, query: FeedQuery, fmt: str) -> Response:
    if fmt not in FORMATS:
        raise HTTPException(404, detail={"reason": "unknown_format", "message": f"Format {fmt!r} gibt es nicht (rss, atom, json)"})
    try:
        body = build_feed(session, query, fmt, runtime.settings.public_url)
    except UnknownFeed as exc:
        raise HTTPException(404, detail={"reason": exc.reason, "message": str(exc)}) from exc
    etag = etag_for(body)
    headers = {"ETag": etag, "Cache-Control": "public, max-age=300", "Vary": "Accept-Encoding"}
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(content=body, media_type=FORMATS[fmt], headers=headers)


def _query(kind: str, slug: str | None, params: FeedParams, runtime) -> FeedQuery:
    settings = runtime.settings
    limit = min(params.limit or settings.feed_limit, settings.feed_limit_max)
    cities = tuple(c.strip() for c in (params.city or "").split(",") if c.strip())
    return FeedQuery(kind=kind, slug=slug, cities=cities, topic=params.topic, q=params.q, limit=limit)


@router.get("/all.{fmt}")
def all_feed(fmt: str, request: Request, session: SessionDep, runtime: RuntimeDep, params: Annotated[FeedParams, Depends()]):
    return _respond(request, session, runtime, _query("all", None, params, runtime), fmt)


@router.get("/topics/{slug}.{fmt}")
def topic_feed(slug: str, fmt: str, request: Request, session: SessionDep, runtime: RuntimeDep, params: Annotated[FeedParams, Depends()]):
    return _respond(request, session, runtime, _query("topic", slug, params, runtime), fmt)


@router.get("/cities/{slug}.{fmt}")
def city_feed(slug: str, fmt: str, request: Request, session: SessionDep, runtime: RuntimeDep, params: Annotated[FeedParams, Depends()]):
    return _respond(request, session, runtime, _query("city", slug, params, runtime), fmt)
