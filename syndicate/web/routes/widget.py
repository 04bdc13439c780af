"""The widget: ``/einbetten/{feed path}?anzahl=N`` — the latest stories of any merged feed as a small
German HTML page for an ``<iframe>`` on a city's website.

No cookies, no scripts, no other resources: the page carries its own few lines of CSS (allowed by
their hash, nothing else is), links to the portal's story pages, and comes light, dark or following
the reader's system setting (``stil=hell|dunkel``). Who may frame it is ``SYNDICATE_EMBED_ORIGINS``
(CSP ``frame-ancestors``). It is rendered once per feed version through the feeds' FeedCache and
answered with the feeds' ETag, Last-Modified and Cache-Control, so embedding it on a busy page costs
about what a feed reader's poll costs. Parameters are read leniently: a wrong ``anzahl`` or ``stil`` gives the
default, never an error page inside someone else's website.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from email.utils import format_datetime
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from markupsafe import Markup
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from syndicate.publish import feeds, stories
from syndicate.publish.feeds import FeedMeta, FeedQuery, RenderedFeed, UnknownFeed
from syndicate.web import cachedfeeds
from syndicate.web.routes.feeds import feed_cache
from syndicate.web.routes.portal import templates

router = APIRouter(tags=["widget"])

DEFAULT_COUNT, MAX_COUNT = 5, 20
SLUG = re.compile(r"[a-z0-9-]{1,64}")
KINDS = {"topics": "topic", "cities": "city"}

BASE_CSS = (
    "*{box-sizing:border-box}"
    "html{background:var(--bg);color:var(--fg)}"
    "body{margin:0;padding:.75rem 1rem;font:1rem/1.45 system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif}"
    "h1{font-size:1.1rem;margin:0 0 .5rem}"
    "ol{list-style:none;margin:0;padding:0}"
    "li{padding:.5rem 0;border-top:1px solid var(--line)}"
    "li:first-child{border-top:0}"
    "a{color:var(--link);text-underline-offset:.15em}"
    "a:hover{text-decoration-thickness:2px}"
    "a:focus-visible{outline:3px solid var(--link);outline-offset:2px}"
    ".title{font-weight:600;overflow-wrap:anywhere}"
    ".meta,.more{margin:.15rem 0 0;font-size:.875rem;color:var(--muted)}"
    ".more{margin-top:.5rem}"
)
LIGHT = ":root{color-scheme:light;--bg:#fff;--fg:#1b1b1b;--muted:#555;--link:#0b57a4;--line:#d8d8d8}"
DARK = ":root{color-scheme:dark;--bg:#16181d;--fg:#ececec;--muted:#b9b9b9;--link:#8ab4f8;--line:#3d4048}"
STYLES = {
    "auto": LIGHT + "@media (prefers-color-scheme:dark){" + DARK + "}" + BASE_CSS,
    "hell": LIGHT + BASE_CSS,
    "dunkel": DARK + BASE_CSS,
}
STYLE_HASHES = {name: "'sha256-" + base64.b64encode(hashlib.sha256(css.encode()).digest()).decode() + "'" for name, css in STYLES.items()}


@dataclass(frozen=True)
class Widget:
    """What a widget request asks for, read leniently from its path and query."""

    query: FeedQuery
    style: str

    @property
    def fmt(self) -> str:
        return f"widget-{self.style}"  # the name of this view in the FeedCache


def count(value: str | None) -> int:
    """``anzahl``: a number from 1 to 20; out of range is clamped, anything else is the default."""
    value = (value or "").strip()
    if not value.isascii() or not value.isdigit():  # isdigit alone takes "²" and other scripts' digits
        return DEFAULT_COUNT
    value = value.lstrip("0") or "0"
    return MAX_COUNT if len(value) > 3 else min(max(int(value), 1), MAX_COUNT)  # no int() of a thousand digits


def feed_query(path: str, city: str, topic: str, q: str, limit: int) -> FeedQuery | None:
    """The merged feed a widget path names (``all``, ``search``, ``topics/{slug}``, ``cities/{slug}``), or None."""
    parts = path.strip("/").split("/")
    cities = tuple(sorted({c.strip() for c in city[:500].split(",") if c.strip()}))
    if parts in (["all"], ["search"]):
        kind, slug = parts[0], None
    elif len(parts) == 2 and parts[0] in KINDS and SLUG.fullmatch(parts[1]):
        kind, slug = KINDS[parts[0]], parts[1]
    else:
        return None
    return FeedQuery(kind, slug, cities=cities, topic=topic[:64].strip() or None, q=q[:200].strip() or None, limit=limit)


def portal_link(query: FeedQuery) -> str:
    """The portal page with more of the same stories."""
    if query.kind == "topic":
        return f"/themen/{query.slug}"
    if query.kind == "city":
        return f"/kommunen/{query.slug}"
    if query.q:
        params = {"q": query.q, "kommune": ",".join(query.cities), "thema": query.topic}
        return "/suche?" + urlencode({k: v for k, v in params.items() if v})
    return "/"


def render_widget(widget: Widget, public_url: str):
    """A FeedCache renderer: the widget page of ``widget``'s feed as a RenderedFeed (body, ETag, Last-Modified)."""
    base = public_url.rstrip("/")

    def renderer(session: Session, query: FeedQuery, meta: FeedMeta) -> RenderedFeed:
        items = feeds.load_items(session, query)
        body = (
            templates.env.get_template("widget.html")
            .render(
                heading=stories.feed_title(session, query, meta),
                items=items,
                base=base,
                more=portal_link(query),
                css=Markup(STYLES[widget.style]),  # noqa: S704 - our own constant, hashed for the CSP as it is written
            )
            .encode()
        )
        return RenderedFeed(body, feeds.etag_for(body), feeds.last_modified(items))

    return renderer


def security_headers(request: Request, style: str) -> dict[str, str]:
    """Only the inline style of the page is allowed (by its hash); framing as configured; no referrer sent on."""
    settings = request.app.state.runtime.settings
    return {
        "Content-Security-Policy": (
            f"default-src 'none'; style-src {STYLE_HASHES[style]}; base-uri 'none'; form-action 'none'; frame-ancestors {settings.frame_ancestors}"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }


@router.api_route("/einbetten/{feed_path:path}", methods=["GET", "HEAD"], response_class=HTMLResponse, summary="Widget zum Einbetten")
async def embed(
    feed_path: str, request: Request, anzahl: str = "", stil: str = "", city: str = "", topic: str = "", q: str = ""
) -> Response:
    style = stil if stil in STYLES else "auto"
    query = feed_query(feed_path, city, topic, q, count(anzahl))
    if query is None:
        return not_found(request, style)
    runtime, cache = request.app.state.runtime, feed_cache(request)
    widget = Widget(query, style)
    public_url = runtime.settings.public_url
    try:
        page = cache.peek(query, widget.fmt, public_url)
        if page is None:
            page = await run_in_threadpool(_get, runtime, cache, widget)
    except UnknownFeed:
        return not_found(request, style)
    headers = {
        **security_headers(request, style),
        "ETag": page.etag,
        "Last-Modified": format_datetime(page.last_modified, usegmt=True),
        "Cache-Control": cachedfeeds.CACHE_CONTROL,
        "Vary": "Accept-Encoding",  # the app's GZipMiddleware compresses the page for clients that accept it
    }
    if cachedfeeds.not_modified(
        request.headers.get("if-none-match"), request.headers.get("if-modified-since"), page.etag, page.last_modified
    ):
        return Response(status_code=304, headers=headers)
    if request.method == "HEAD":
        return Response(headers={**headers, "Content-Length": str(len(page.body))}, media_type="text/html; charset=utf-8")
    return Response(page.body, media_type="text/html; charset=utf-8", headers=headers)


def _get(runtime, cache, widget: Widget) -> RenderedFeed:
    with runtime.sessions() as session:
        return cache.get(session, widget.query, widget.fmt, runtime.settings.public_url, render_widget(widget, runtime.settings.public_url))


def not_found(request: Request, style: str) -> Response:
    """A German 404 in the widget's own look, allowed in the same frames: it shows where the widget would have."""
    body = templates.env.get_template("widget.html").render(
        heading="Feed nicht gefunden",
        message="Diesen Feed gibt es nicht. Bitte prüfen Sie die Adresse des Widgets.",
        items=None,
        base=request.app.state.runtime.settings.public_url.rstrip("/"),
        more="/abonnieren",
        css=Markup(STYLES[style]),  # noqa: S704 - our own constant
    )
    return Response(body, status_code=404, media_type="text/html; charset=utf-8", headers=security_headers(request, style))
