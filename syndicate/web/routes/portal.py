"""The public news portal (German, server-rendered): front page, topic and city streams, one story,
search, and the subscription page. Queries live in publish.stories; this module only validates and renders."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from syndicate.models import Topic
from syndicate.publish import index as feedindex
from syndicate.publish import stories
from syndicate.publish.feeds import FeedQuery, InvalidCursor
from syndicate.reader.normalise import shorten
from syndicate.web.deps import RuntimeDep, SessionDep

router = APIRouter(tags=["portal"], default_response_class=HTMLResponse)
templates = Jinja2Templates(directory=str(Path(__file__).parent.parent / "templates"))
MONTHS = ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"]
FORMATS = ("rss", "atom", "json")


def datum(value: datetime) -> str:
    """A date as Germans write it: 4. März 2025."""
    return f"{value.day}. {MONTHS[value.month - 1]} {value.year}"


templates.env.filters["datum"] = datum
templates.env.filters["kurz"] = lambda text, limit=280: shorten(" ".join(text.split()), limit)


@dataclass(frozen=True)
class Alternate:
    title: str
    href: str  # path and query, without the site's base
    fmt: str


def alternates(title: str, path: str, query: str = "") -> list[Alternate]:
    return [Alternate(title, f"{path}.{fmt}{'?' + query if query else ''}", fmt) for fmt in FORMATS]


WIDGET_COUNT = 5


@dataclass(frozen=True)
class WidgetCode:
    src: str  # the widget's address
    code: str  # the <iframe> to copy into a web page


def widget_code(base: str, path: str, query: str, title: str, count: int = WIDGET_COUNT) -> WidgetCode:
    """The <iframe> that shows the widget of the feed at ``path`` (``/feeds/…``, as feedindex.address gives it),
    titled for screen readers, tall enough for ``count`` stories of two lines."""
    src = f"{base}/einbetten{path.removeprefix('/feeds')}?{'&'.join(filter(None, [query, f'anzahl={count}']))}"
    label = f"{title} – Kommunaler Feed-Verbund Bayern"
    code = (
        f'<iframe src="{html.escape(src)}" title="{html.escape(label)}" width="100%" height="{100 + 80 * count}" '
        'style="border:0" loading="lazy"></iframe>'
    )
    return WidgetCode(src, code)


def _address_query(path: str, cities: tuple[str, ...], topic: str | None, q: str | None) -> FeedQuery:
    """The FeedQuery behind a builder address (feedindex.address), for the widget's title."""
    kind, _, slug = path.removeprefix("/feeds/").partition("/")
    if kind in ("topics", "cities"):
        return FeedQuery("topic" if kind == "topics" else "city", slug)
    return feedindex.builder_query(cities, topic, q)


def render(request: Request, runtime, template: str, status_code: int = 200, **context) -> HTMLResponse:
    context.setdefault("alternates", [])
    context.setdefault("nav", None)
    context.setdefault("mail_enabled", runtime.settings.mail_enabled)  # the e-mail form at the foot of every page
    context.update(base=runtime.settings.public_url.rstrip("/"), types=feedindex.FORMAT_TYPES)
    return templates.TemplateResponse(request, template, context, status_code=status_code)


def not_found(request: Request, runtime, message: str) -> HTMLResponse:
    return render(request, runtime, "portal_error.html", 404, title="Seite nicht gefunden", message=message)


@router.get("/")
def front(request: Request, session: SessionDep, runtime: RuntimeDep):
    return render(
        request,
        runtime,
        "portal_front.html",
        title="Startseite",
        nav="start",
        front=stories.front_page(session),
        alternates=alternates("Alle Meldungen", "/feeds/all"),
    )


CursorParam = Annotated[str | None, Query(max_length=80, description="Blättern: Cursor aus dem Link „Ältere Meldungen“")]


@router.get("/themen/{slug}")
def topic_page(slug: str, request: Request, session: SessionDep, runtime: RuntimeDep, vor: CursorParam = None):
    topic = stories.topic(session, slug)
    if topic is None:
        return not_found(request, runtime, f"Ein Thema „{slug}“ gibt es nicht.")
    description = topic.description or f"Meldungen bayerischer Kommunen zum Thema {topic.title}"
    return _stream(request, session, runtime, "topic", slug, vor, f"Thema: {topic.title}", description, f"/themen/{slug}")


@router.get("/kommunen/{slug}")
def city_page(slug: str, request: Request, session: SessionDep, runtime: RuntimeDep, vor: CursorParam = None):
    city = stories.city(session, slug)
    if city is None:
        return not_found(request, runtime, f"Eine Kommune oder einen Partner „{slug}“ gibt es hier nicht.")
    return _stream(request, session, runtime, "city", slug, vor, city.name, f"Alle Meldungen von {city.name}", f"/kommunen/{slug}")


def _stream(request, session, runtime, kind: str, slug: str, before, title: str, description: str, self_path: str):
    try:
        page = stories.stream(session, kind, slug, before)
    except InvalidCursor:
        return render(
            request, runtime, "portal_error.html", 400, title="Ungültiger Link", message="Dieser Blättern-Link ist ungültig oder veraltet."
        )
    feed_path = f"/feeds/{'topics' if kind == 'topic' else 'cities'}/{slug}"
    return render(
        request,
        runtime,
        "portal_stream.html",
        title=title,
        description=description,
        page=page,
        self_path=self_path,
        alternates=alternates(title, feed_path),
    )


@router.get("/meldungen/{story_id}")
def story_page(story_id: str, request: Request, session: SessionDep, runtime: RuntimeDep):
    item = stories.story(session, int(story_id)) if story_id.isdigit() and len(story_id) < 10 else None
    if item is None:
        return not_found(request, runtime, "Diese Meldung gibt es nicht (mehr).")
    topics = stories.topics_of(session, item)
    feeds = [a for t in topics for a in alternates(f"Thema: {t.title}", f"/feeds/topics/{t.slug}") if a.fmt == "atom"]
    return render(
        request,
        runtime,
        "portal_story.html",
        title=item.article.title,
        item=item,
        topics=topics,
        alternates=alternates("Alle Meldungen", "/feeds/all") + feeds,
    )


@router.get("/stories/{story_id}", response_class=RedirectResponse, status_code=301)
def story_redirect(story_id: str):
    """The feeds' entry ids (``/stories/{id}``) stay as they are; in a browser they lead to the story's page."""
    return RedirectResponse(f"/meldungen/{story_id}", status_code=301)


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@router.get("/suche")
def search_page(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    q: str = "",
    kommune: str = "",
    thema: str = "",
    von: str = "",
    bis: str = "",
    seite: str = "1",
):
    """Whatever the query string holds, the answer is this page: the parameters are cut to size and
    read leniently here rather than refused with a validation error."""
    q, kommune, thema, von, bis = q[:2000], kommune[:500], thema[:64], von[:10], bis[:10]
    page = min(max(int(seite), 1), 50) if seite.isdigit() and len(seite) < 4 else 1
    cities = tuple(sorted({c.strip() for c in kommune.split(",") if c.strip()}))
    since, until = _day(von), _day(bis)
    notice = "Ein Datum war ungültig und wurde nicht berücksichtigt." if (von and not since) or (bis and not until) else None
    results = stories.search(session, q, cities, thema or None, since, until, page=page) if q.strip() else None
    filters = {"q": q, "city": ",".join(cities), "topic": thema, "von": since and since.isoformat(), "bis": until and until.isoformat()}
    feed_query = urlencode({k: v for k, v in filters.items() if v})
    own = {"q": q, "kommune": ",".join(cities), "thema": thema, "von": von, "bis": bis}

    def page_query(number: int) -> str:
        return urlencode({**{k: v for k, v in own.items() if v}, "seite": number})

    return render(
        request,
        runtime,
        "portal_search.html",
        title=f"Suche: {q}" if q.strip() else "Suche",
        nav="suche",
        q=q,
        von=von,
        bis=bis,
        notice=notice,
        results=results,
        place_options=stories.place_options(stories.places(session), cities),
        topics=stories.all_topics(session),
        selected_cities=cities,
        selected_topic=thema,
        page_query=page_query,
        alternates=alternates(f"Suche: {q}", "/feeds/search", feed_query) if q.strip() else [],
    )


KommuneParam = Annotated[list[str], Query(max_length=64)]
ThemaParam = Annotated[str, Query(max_length=64)]
SuchParam = Annotated[str, Query(max_length=200)]


@dataclass(frozen=True)
class Choice:
    """What the feed builder was asked for, unknown cities and topics dropped (never an error)."""

    cities: list[stories.Place]
    topic: Topic | None
    q: str | None


def _choice(session, kommune: list[str], thema: str, q: str) -> Choice:
    by_slug = {c.slug: c for _, cities in stories.places(session) for c in cities}
    topic = next((t for t in stories.all_topics(session) if t.slug == thema), None) if thema else None
    return Choice([by_slug[s] for s in sorted(set(kommune)) if s in by_slug], topic, q.strip() or None)


@router.get("/abonnieren")
def subscribe(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    kommune: KommuneParam = [],  # noqa: B006 - FastAPI copies defaults
    thema: ThemaParam = "",
    q: SuchParam = "",
):
    """All feeds, and the feed builder: a GET form, so the chosen feed has an address of its own and works without JavaScript."""
    refs = feedindex.feeds(session)
    choice = _choice(session, kommune, thema, q)
    built = preview = opml_href = widget = None
    base = runtime.settings.public_url.rstrip("/")
    if "kommune" in request.query_params or "thema" in request.query_params or "q" in request.query_params:
        ref = feedindex.built(choice.cities, choice.topic, choice.q)
        built = [Alternate("Ihr Feed", ref.href(fmt), fmt) for fmt in FORMATS]
        preview = stories.preview(session, ref.query)
        # the builder's own parameters, as the form sent them: the OPML holds the same feed
        opml_params = [("kommune", c.slug) for c in choice.cities] + [("thema", choice.topic.slug if choice.topic else ""), ("q", q)]
        opml_href = "/abonnieren/opml?" + urlencode([(k, v) for k, v in opml_params if v])
        slugs = tuple(c.slug for c in choice.cities)
        topic_slug = choice.topic.slug if choice.topic else None
        title = stories.feed_title(session, _address_query(ref.path, slugs, topic_slug, choice.q))
        widget = widget_code(base, ref.path, ref.params, title)
    return render(
        request,
        runtime,
        "portal_subscribe.html",
        title="Feeds abonnieren",
        nav="abonnieren",
        mail_enabled=runtime.settings.mail_enabled,
        feeds=[(f.title, f.description, f.path) for f in refs],
        formats=FORMATS,
        places=stories.places(session),
        topics=stories.all_topics(session),
        chosen_cities=tuple(c.slug for c in choice.cities),
        chosen_topic=choice.topic.slug if choice.topic else None,
        feed_q=q,
        built=built,
        opml_href=opml_href,
        preview=preview,
        widget=widget,
        widget_all=widget_code(base, "/feeds/all", "", "Alle Meldungen"),
        alternates=(built or []) + [a for f in refs for a in alternates(f.title, f.path)],
    )


@router.get("/abonnieren/opml", response_class=Response)
def subscribe_opml(
    session: SessionDep,
    runtime: RuntimeDep,
    kommune: KommuneParam = [],  # noqa: B006 - FastAPI copies defaults
    thema: ThemaParam = "",
    q: SuchParam = "",
    fmt: Annotated[str, Query(alias="format", pattern="^(rss|atom|json)$")] = "atom",
):
    """The feed builder's feed alone as an OPML file, for readers that import subscriptions from a file."""
    choice = _choice(session, kommune, thema, q)
    ref = feedindex.built(choice.cities, choice.topic, choice.q)
    body = feedindex.opml([ref], runtime.settings.public_url, fmt, title=ref.title)
    return Response(
        body, media_type="text/x-opml; charset=utf-8", headers={"Content-Disposition": 'attachment; filename="syndicate-eigener-feed.opml"'}
    )
