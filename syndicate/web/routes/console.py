"""The console (German, server-rendered, no JavaScript needed): press offices and operators sign in with their
token and look after their sources in the browser.

Signing in starts a session held on the server (syndicate.access.sessions); every page looks it up again.
Every form carries the session's CSRF token, and a POST without a valid one is refused with 403 before
anything is read or changed. Changes go through the same service functions as /api/v1, with the same
tenancy (another city's source answers 404, like a missing one) and audit entries; each successful POST
answers with a redirect (post/redirect/get), so reloading the page repeats nothing.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path as FilePath
from typing import Annotated
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from syndicate.access import audit, sessions, tokens
from syndicate.access.limits import SharedRateLimiter
from syndicate.access.sessions import Current
from syndicate.clock import utcnow
from syndicate.errors import Conflict, Invalid, NotFound, TooSoon
from syndicate.models import City, Source
from syndicate.sources import opml, service
from syndicate.web import consoleview
from syndicate.web.consoleview import sentence as _sentence
from syndicate.web.deps import RuntimeDep, SessionDep, TaskQueueDep
from syndicate.web.pagecache import PageCache

router = APIRouter(prefix="/verwaltung", tags=["console"], default_response_class=HTMLResponse, include_in_schema=False)
templates = Jinja2Templates(directory=str(FilePath(__file__).parent.parent / "templates"))
BERLIN = ZoneInfo("Europe/Berlin")
COOKIE = "verwaltung"  # the session's secret
SIGNIN_COOKIE = "verwaltung_anmeldung"  # before sign-in: the secret the sign-in form's CSRF token is bound to
MAX_FIELDS = 200  # the edit form has a checkbox per topic
MAX_MINUTES = 7 * 24 * 60  # the intervals the API accepts, in minutes: 1 minute to 7 days
SourceId = Annotated[int, Path(ge=1, le=2**31 - 1)]

# Messages after a redirect, named in the query string; only these texts can appear.
NOTICES = {
    "registriert": "Die Quelle ist registriert und wird gleich zum ersten Mal abgerufen.",
    "abgeschaltet": "Die Quelle ist abgeschaltet und wird nicht mehr abgerufen.",
    "eingeschaltet": "Die Quelle ist wieder eingeschaltet und wird mit der nächsten Runde abgerufen.",
    "gespeichert": "Die Änderungen sind gespeichert.",
    "selektoren": "Die Selektoren sind gespeichert und gelten ab dem nächsten Abruf.",
    "stillgelegt": "Die Quelle ist stillgelegt. Ihre bisherigen Meldungen bleiben in den Feeds.",
    "abruf": "Die Quelle wird jetzt abgerufen. Das Ergebnis erscheint in wenigen Minuten im Abrufprotokoll.",
    "abgemeldet": "Sie sind abgemeldet.",
    "stadt": "Die Stadt ist angelegt. Legen Sie jetzt ein Token für sie an.",
    "widerrufen": "Das Token ist widerrufen; wer damit angemeldet war, ist abgemeldet.",
}


def zeit(value: datetime | None) -> str:
    """A moment as Germans read it, in Berlin time: 4.12.2026, 18:05 Uhr."""
    if value is None:
        return "–"
    local = value.astimezone(BERLIN)
    return f"{local.day}.{local.month}.{local.year}, {local:%H:%M} Uhr"


def tag(value: datetime) -> str:
    """A published date as Germans read it: with the time, unless it is midnight (a date without a time)."""
    local = value.astimezone(BERLIN)
    return f"{local.day}.{local.month}.{local.year}" if (local.hour, local.minute) == (0, 0) else zeit(value)


templates.env.filters["zeit"] = zeit
templates.env.filters["tag"] = tag


class Form(dict[str, str]):
    """An urlencoded form: the first value of each field, and ``every(name)`` for checkboxes."""

    def __init__(self, parsed: dict[str, list[str]]):
        super().__init__({name: values[0] for name, values in parsed.items()})
        self.parsed = parsed

    def every(self, name: str) -> list[str]:
        return self.parsed.get(name, [])


async def read_form(request: Request) -> Form:
    """The POST's urlencoded form; the body's size is bounded by BodyLimit."""
    if request.method != "POST":
        return Form({})
    try:
        parsed = parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError:  # more fields than any console form has
        return Form({})
    return Form(parsed)


FormDep = Annotated[Form, Depends(read_form)]


def render(request: Request, template: str, status_code: int = 200, **context) -> HTMLResponse:
    context.setdefault("current", None)
    context.setdefault("nav", None)
    return templates.TemplateResponse(request, template, context, status_code=status_code)


def page(request: Request, current: Current | None, status_code: int, title: str, message: str) -> HTMLResponse:
    return render(request, "console_error.html", status_code, current=current, title=title, message=message)


def redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def signed_in(request: Request, session, runtime) -> Current | None:
    secret = request.cookies.get(COOKIE)
    if not secret:
        return None
    settings = runtime.settings
    return sessions.resume(session, secret, idle=settings.console_idle_timeout, max_age=settings.console_max_age)


def authorised(request: Request, session, runtime, form: dict[str, str]) -> Current | Response:
    """The session of a POST whose form carries the session's CSRF token; otherwise the answer to send instead."""
    current = signed_in(request, session, runtime)
    if current is None:
        return redirect("/verwaltung/anmelden")
    if not sessions.csrf_ok(request.cookies.get(COOKIE, ""), form.get("csrf")):
        return forbidden(request, current)
    return current


def forbidden(request: Request, current: Current | None) -> HTMLResponse:
    message = (
        "Das Formular war ungültig oder veraltet; es wurde nichts geändert. Bitte laden Sie die Seite neu und versuchen Sie es noch einmal."
    )
    return page(request, current, 403, "Anfrage abgelehnt", message)


def actor(current: Current) -> str:
    return f"{current.principal.actor} console"


def signin_limiters(request: Request) -> tuple[SharedRateLimiter, SharedRateLimiter]:
    """Failed sign-ins a minute per client address and per token prefix, counted in the database for every process."""
    state = request.app.state
    if getattr(state, "console_limiters", None) is None:
        engine, limit = state.runtime.engine, state.runtime.settings.console_signin_failures
        state.console_limiters = (SharedRateLimiter(engine, "console-client", limit), SharedRateLimiter(engine, "console-prefix", limit))
    return state.console_limiters


def page_loader(request: Request, runtime, current: Current) -> consoleview.LoadPage:
    """Fetch a page for this console session's preview, or take the one it fetched within ``console_page_cache``."""
    state = request.app.state
    if getattr(state, "console_pages", None) is None:
        state.console_pages = PageCache(runtime.settings.console_page_cache)
    cache: PageCache = state.console_pages
    return lambda url: cache.fetch(current.csrf, url, lambda address: service.fetch_page(runtime.client, address, runtime.refresh_config))


# ---------------------------------------------------------------- sign-in, sign-out


def _signin_page(request: Request, runtime, status_code: int = 200, error: str | None = None, notice: str | None = None) -> Response:
    secret = request.cookies.get(SIGNIN_COOKIE) or sessions.new_secret()
    response = render(
        request,
        "console_signin.html",
        status_code,
        title="Anmelden",
        nav="anmelden",
        csrf=sessions.csrf_token(secret),
        error=error,
        notice=notice,
    )
    secure = runtime.settings.public_url.startswith("https://")
    response.set_cookie(SIGNIN_COOKIE, secret, httponly=True, samesite="strict", secure=secure, path="/verwaltung", max_age=3600)
    return response


@router.get("")
def home():
    return redirect("/verwaltung/quellen")


@router.get("/anmelden")
def signin_form(request: Request, runtime: RuntimeDep, hinweis: str | None = None):
    return _signin_page(request, runtime, notice=NOTICES.get(hinweis or ""))


@router.post("/anmelden")
def signin(request: Request, session: SessionDep, runtime: RuntimeDep, form: FormDep):
    if not sessions.csrf_ok(request.cookies.get(SIGNIN_COOKIE, ""), form.get("csrf")):
        return forbidden(request, None)
    token = form.get("token", "").strip()
    client = request.client.host if request.client else "unknown"
    prefix = token[:12]
    by_client, by_prefix = signin_limiters(request)
    wait = by_client.peek(client) or by_prefix.peek(prefix)
    if wait is not None:
        message = f"Zu viele fehlgeschlagene Anmeldungen. Bitte warten Sie {int(wait) + 1} Sekunden und versuchen Sie es dann noch einmal."
        response = _signin_page(request, runtime, 429, error=message)
        response.headers["Retry-After"] = str(int(wait) + 1)
        return response
    started = sessions.start(session, token) if token else None
    if started is None:
        by_client.hit(client)
        by_prefix.hit(prefix)
        error = (
            "Bitte fügen Sie Ihr Token ein."
            if not token
            else "Dieses Token ist unbekannt oder widerrufen. Bitte prüfen Sie, ob Sie es vollständig eingefügt haben."
        )
        return _signin_page(request, runtime, 401 if token else 400, error=error)
    secret, _principal = started
    response = redirect("/verwaltung/quellen")
    secure = runtime.settings.public_url.startswith("https://")
    response.set_cookie(
        COOKIE, secret, httponly=True, samesite="strict", secure=secure, path="/verwaltung", max_age=runtime.settings.console_max_age
    )
    response.delete_cookie(SIGNIN_COOKIE, path="/verwaltung")
    return response


@router.post("/abmelden")
def signout(request: Request, session: SessionDep, runtime: RuntimeDep, form: FormDep):
    current = authorised(request, session, runtime, form)
    if not isinstance(current, Current):
        return current
    sessions.end(session, request.cookies[COOKIE])
    response = redirect("/verwaltung/anmelden?hinweis=abgemeldet")
    response.delete_cookie(COOKIE, path="/verwaltung")
    return response


# ---------------------------------------------------------------- sources


@router.get("/quellen")
def source_list(request: Request, session: SessionDep, runtime: RuntimeDep, hinweis: str | None = None):
    current = signed_in(request, session, runtime)
    if current is None:
        return redirect("/verwaltung/anmelden")
    groups = consoleview.overview(session, current.principal, utcnow(), runtime.settings.ops_failing_alert_after)
    return render(
        request, "console_sources.html", title="Quellen", nav="quellen", current=current, groups=groups, notice=NOTICES.get(hinweis or "")
    )


def _new_page(request: Request, session, current: Current, status_code: int = 200, **context) -> HTMLResponse:
    context.setdefault("finding", None)
    context.setdefault("error", None)
    context.setdefault("address", "")
    context.setdefault("title_value", "")
    context.setdefault("city", None if current.principal.is_operator else current.principal.city_slug)
    cities = consoleview.cities(session, current.principal)
    context["selector_fields"] = consoleview.SELECTOR_FIELDS
    return render(request, "console_new.html", status_code, title="Quelle hinzufügen", nav="neu", current=current, cities=cities, **context)


@router.get("/quellen/neu")
def new_source(request: Request, session: SessionDep, runtime: RuntimeDep):
    current = signed_in(request, session, runtime)
    if current is None:
        return redirect("/verwaltung/anmelden")
    return _new_page(request, session, current)


def _form_city(session, current: Current, form: dict[str, str]) -> City:
    """The city named by the form, if this session may touch it (NotFound otherwise, as for a missing one)."""
    return service.get_city(session, form.get("stadt", "")[:64], current.principal)


@router.post("/quellen/neu/pruefen")
def check_source(request: Request, session: SessionDep, runtime: RuntimeDep, form: FormDep):
    current = authorised(request, session, runtime, form)
    if not isinstance(current, Current):
        return current
    address = form.get("adresse", "").strip()[:2000]
    try:
        city = _form_city(session, current, form)
    except NotFound:
        return page(
            request, current, 404, "Stadt nicht gefunden", "Diese Stadt gibt es nicht, oder Sie dürfen für sie keine Quellen anlegen."
        )
    if not address:
        return _new_page(request, session, current, 422, error="Bitte geben Sie eine Adresse ein.", city=city.slug)
    session.commit()  # end the read transaction: the test fetch may take a while
    finding = consoleview.examine(page_loader(request, runtime, current), address, runtime.refresh_config)
    return _new_page(request, session, current, address=address, city=city.slug, finding=finding)


@router.post("/quellen/neu")
def register_source(request: Request, session: SessionDep, runtime: RuntimeDep, queue: TaskQueueDep, form: FormDep):
    """Register the checked address; for an HTML newsroom (``art=html``) with the selectors of the form, which
    "Vorschau" (``aktion=vorschau``) tries on the page first, registering nothing."""
    current = authorised(request, session, runtime, form)
    if not isinstance(current, Current):
        return current
    address = form.get("adresse", "").strip()[:2000]
    try:
        city = _form_city(session, current, form)
    except NotFound:
        return page(
            request, current, 404, "Stadt nicht gefunden", "Diese Stadt gibt es nicht, oder Sie dürfen für sie keine Quellen anlegen."
        )
    html = form.get("art") == "html"
    title = form.get("titel", "").strip()[:300]
    if html:
        values = consoleview.selector_values(form, set(form))
        session.commit()  # end the read transaction: the preview may fetch the page
        extraction = consoleview.try_selectors(page_loader(request, runtime, current), address, runtime.refresh_config, values)
        finding = consoleview.Finding("html", address, preview=extraction.preview, extraction=extraction)
        if form.get("aktion") == "vorschau" or not extraction.ok:
            status_code = 200 if extraction.ok else 422
            return _new_page(request, session, current, status_code, address=address, city=city.slug, finding=finding, title_value=title)
        spec = service.SourceSpec(url=address, title=title or None, kind="html", extraction=extraction.checked)
    else:
        finding, spec = None, service.SourceSpec(url=address, title=title or None)
    try:
        service.create_source(
            session,
            runtime.client,
            runtime.refresh_config,
            city,
            spec,
            actor=actor(current),
            enqueue=queue.refresh,
            operator=current.principal.is_operator,
        )
    except (Invalid, Conflict) as exc:
        status_code = 409 if isinstance(exc, Conflict) else 422
        return _new_page(
            request,
            session,
            current,
            status_code,
            error=_sentence(exc.message),
            address=address,
            city=city.slug,
            finding=finding,
            title_value=title,
        )
    return redirect("/verwaltung/quellen?hinweis=registriert")


def _detail_page(request: Request, session, runtime, current: Current, source: Source, status_code: int = 200, **context) -> HTMLResponse:
    context.setdefault("error", None)
    context.setdefault("notice", None)
    context.setdefault("field_errors", {})
    context.setdefault("topics", consoleview.topics(session))
    context.setdefault("extraction", None)
    context.setdefault("previewed", False)
    if context["extraction"] is None and source.kind == "html":
        context["extraction"] = consoleview.Extraction(dict(source.extraction or {}), source.extraction)
    context["selector_fields"] = consoleview.SELECTOR_FIELDS
    entries = consoleview.explain(service.fetch_log(session, source, 20), source.registry_file if source.origin == "file" else None)
    row = consoleview.row(source, utcnow(), runtime.settings.ops_failing_alert_after)
    title = source.title or source.feed_title or source.url
    return render(
        request,
        "console_source.html",
        status_code,
        title=f"Quelle: {title}",
        current=current,
        row=row,
        source=source,
        entries=entries,
        last_error=consoleview.last_error(source),
        **context,
    )


def _owned(session, current: Current, source_id: int) -> Source | None:
    try:
        return service.get_source(session, source_id, current.principal)
    except NotFound:
        return None


def _source_missing(request: Request, current: Current) -> HTMLResponse:
    return page(request, current, 404, "Quelle nicht gefunden", "Diese Quelle gibt es nicht, oder sie gehört nicht zu Ihrer Stadt.")


@router.get("/quellen/{source_id}")
def source_detail(source_id: SourceId, request: Request, session: SessionDep, runtime: RuntimeDep, hinweis: str | None = None):
    current = signed_in(request, session, runtime)
    if current is None:
        return redirect("/verwaltung/anmelden")
    source = _owned(session, current, source_id)
    if source is None:
        return _source_missing(request, current)
    return _detail_page(request, session, runtime, current, source, notice=NOTICES.get(hinweis or ""))


def _switch(source_id: int, request: Request, session, runtime, form: Form, enabled: bool) -> Response:
    current = authorised(request, session, runtime, form)
    if not isinstance(current, Current):
        return current
    source = _owned(session, current, source_id)
    if source is None:
        return _source_missing(request, current)
    try:
        service.update_source(session, source, {"enabled": enabled}, actor=actor(current))
    except Conflict as exc:
        return _detail_page(request, session, runtime, current, source, 409, error=_sentence(exc.message))
    return redirect(f"/verwaltung/quellen/{source.id}?hinweis={'eingeschaltet' if enabled else 'abgeschaltet'}")


@router.post("/quellen/{source_id}/abschalten")
def disable_source(source_id: SourceId, request: Request, session: SessionDep, runtime: RuntimeDep, form: FormDep):
    return _switch(source_id, request, session, runtime, form, False)


@router.post("/quellen/{source_id}/einschalten")
def enable_source(source_id: SourceId, request: Request, session: SessionDep, runtime: RuntimeDep, form: FormDep):
    return _switch(source_id, request, session, runtime, form, True)


@router.post("/quellen/{source_id}/abrufen")
def refresh_source(source_id: SourceId, request: Request, session: SessionDep, runtime: RuntimeDep, queue: TaskQueueDep, form: FormDep):
    current = authorised(request, session, runtime, form)
    if not isinstance(current, Current):
        return current
    source = _owned(session, current, source_id)
    if source is None:
        return _source_missing(request, current)
    try:
        service.request_refresh(session, source, actor=actor(current), enqueue=queue.refresh)
    except (Conflict, TooSoon) as exc:
        status_code = 429 if isinstance(exc, TooSoon) else 409
        return _detail_page(request, session, runtime, current, source, status_code, error=_sentence(exc.message))
    return redirect(f"/verwaltung/quellen/{source.id}?hinweis=abruf")


def _minutes(form: Form, name: str, errors: dict[str, str]) -> int | None:
    """An interval field in minutes as seconds; empty means the default. A bad value goes into ``errors``."""
    text = form.get(name, "").strip()
    if not text:
        return None
    if not text.isdigit() or not 1 <= int(text) <= MAX_MINUTES:
        errors[name] = f"Bitte eine ganze Zahl von 1 bis {MAX_MINUTES} Minuten angeben."
        return None
    return int(text) * 60


@router.post("/quellen/{source_id}/bearbeiten")
def edit_source(source_id: SourceId, request: Request, session: SessionDep, runtime: RuntimeDep, form: FormDep):
    current = authorised(request, session, runtime, form)
    if not isinstance(current, Current):
        return current
    source = _owned(session, current, source_id)
    if source is None:
        return _source_missing(request, current)
    errors: dict[str, str] = {}
    changes = {
        "title": form.get("titel", "").strip()[:300] or None,
        "default_topics": [slug[:64] for slug in form.every("thema")],
        "min_interval": _minutes(form, "mindestens", errors),
        "max_interval": _minutes(form, "hoechstens", errors),
    }
    if errors:
        return _detail_page(
            request, session, runtime, current, source, 422, error="Bitte prüfen Sie die markierten Felder.", field_errors=errors
        )
    try:
        service.update_source(session, source, changes, actor=actor(current))
    except (Invalid, Conflict) as exc:
        session.rollback()
        session.refresh(source)
        return _detail_page(
            request, session, runtime, current, source, 409 if isinstance(exc, Conflict) else 422, error=_sentence(exc.message)
        )
    return redirect(f"/verwaltung/quellen/{source.id}?hinweis=gespeichert")


@router.post("/quellen/{source_id}/selektoren")
def edit_selectors(source_id: SourceId, request: Request, session: SessionDep, runtime: RuntimeDep, form: FormDep):
    """An HTML source's selectors: "Vorschau" (``aktion=vorschau``) shows what they yield on the page, changing
    nothing; "Speichern" stores them through the API's service function when they yield items."""
    current = authorised(request, session, runtime, form)
    if not isinstance(current, Current):
        return current
    source = _owned(session, current, source_id)
    if source is None:
        return _source_missing(request, current)
    if source.kind != "html" or source.origin == "file":
        return _detail_page(
            request, session, runtime, current, source, 409, error="Die Selektoren dieser Quelle lassen sich hier nicht ändern."
        )
    values = consoleview.selector_values(form, set(form))
    url = source.url
    session.commit()  # end the read transaction: the preview may fetch the page
    extraction = consoleview.try_selectors(page_loader(request, runtime, current), url, runtime.refresh_config, values)
    if form.get("aktion") == "vorschau" or not extraction.ok:
        status_code = 200 if extraction.ok else 422
        return _detail_page(request, session, runtime, current, source, status_code, extraction=extraction, previewed=True)
    try:
        service.update_source(session, source, {"extraction": extraction.checked}, actor=actor(current))
    except (Invalid, Conflict) as exc:
        session.rollback()
        session.refresh(source)
        status_code = 409 if isinstance(exc, Conflict) else 422
        return _detail_page(request, session, runtime, current, source, status_code, extraction=extraction, error=_sentence(exc.message))
    return redirect(f"/verwaltung/quellen/{source.id}?hinweis=selektoren")


@router.post("/quellen/{source_id}/stilllegen")
def retire_source(source_id: SourceId, request: Request, session: SessionDep, runtime: RuntimeDep, form: FormDep):
    current = authorised(request, session, runtime, form)
    if not isinstance(current, Current):
        return current
    source = _owned(session, current, source_id)
    if source is None:
        return _source_missing(request, current)
    try:
        service.retire_source(session, source, actor=actor(current))
    except Conflict as exc:
        return _detail_page(request, session, runtime, current, source, 409, error=_sentence(exc.message))
    return redirect(f"/verwaltung/quellen/{source.id}?hinweis=stillgelegt")


# ---------------------------------------------------------------- operators: tokens


def _operator(request: Request, session, runtime, form: Form | None = None) -> Current | Response:
    """An operator's session (for a POST: with a valid CSRF token); a city's session gets 404, as for a missing page."""
    current = signed_in(request, session, runtime) if form is None else authorised(request, session, runtime, form)
    if current is None:
        return redirect("/verwaltung/anmelden")
    if isinstance(current, Current) and not current.principal.is_operator:
        return page(request, current, 404, "Seite nicht gefunden", "Diese Seite gibt es nicht.")
    return current


def _tokens_page(request: Request, session, current: Current, status_code: int = 200, **context) -> HTMLResponse:
    context.setdefault("created", None)
    context.setdefault("notice", None)
    context.setdefault("error", None)
    rows = tokens.list_tokens(session)
    cities = consoleview.cities(session, current.principal)
    return render(
        request, "console_tokens.html", status_code, title="Tokens", nav="tokens", current=current, rows=rows, cities=cities, **context
    )


@router.get("/tokens")
def token_list(request: Request, session: SessionDep, runtime: RuntimeDep, hinweis: str | None = None):
    current = _operator(request, session, runtime)
    if not isinstance(current, Current):
        return current
    return _tokens_page(request, session, current, notice=NOTICES.get(hinweis or ""))


@router.post("/tokens")
def token_create(request: Request, session: SessionDep, runtime: RuntimeDep, form: FormDep):
    """A new token, shown once on the answer to this POST: it is stored only as a hash, so no later page can show it."""
    current = _operator(request, session, runtime, form)
    if not isinstance(current, Current):
        return current
    city = form.get("fuer", "")[:64]
    try:
        token, secret = tokens.create(session, city=city or None, name=form.get("name", "").strip()[:200] or None, actor=actor(current))
    except NotFound:
        return _tokens_page(request, session, current, 422, error="Diese Stadt gibt es nicht.")
    return _tokens_page(request, session, current, 201, created={"secret": secret, **tokens.describe(token)})


@router.post("/tokens/{token_id}/widerrufen")
def token_revoke(token_id: SourceId, request: Request, session: SessionDep, runtime: RuntimeDep, form: FormDep):
    current = _operator(request, session, runtime, form)
    if not isinstance(current, Current):
        return current
    try:
        tokens.revoke(session, token_id, actor=actor(current))
    except NotFound:
        return page(request, current, 404, "Token nicht gefunden", "Dieses Token gibt es nicht.")
    return redirect("/verwaltung/tokens?hinweis=widerrufen")


# ---------------------------------------------------------------- operators: the audit log

ACTIONS = {
    "city.create": "Stadt angelegt",
    "source.create": "Quelle registriert",
    "source.update": "Quelle geändert",
    "source.retire": "Quelle stillgelegt",
    "source.refresh": "Abruf angestoßen",
    "token.create": "Token angelegt",
    "token.revoke": "Token widerrufen",
}
AUDIT_PAGE = 50


@router.get("/protokoll")
def audit_log(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    stadt: Annotated[str, Query(max_length=64)] = "",
    aktion: Annotated[str, Query(max_length=60)] = "",
    vor: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
):
    """Who changed what, newest first, filtered by city and action; ``vor`` pages further back."""
    current = _operator(request, session, runtime)
    if not isinstance(current, Current):
        return current
    rows = audit.entries(session, city=stadt or None, action=aktion if aktion in ACTIONS else None, before_id=vor, limit=AUDIT_PAGE)
    older = rows[-1][0].id if len(rows) == AUDIT_PAGE else None
    cities = consoleview.cities(session, current.principal)
    return render(
        request,
        "console_audit.html",
        title="Änderungsprotokoll",
        nav="protokoll",
        current=current,
        rows=rows,
        cities=cities,
        actions=ACTIONS,
        stadt=stadt,
        aktion=aktion,
        older=older,
    )


# ---------------------------------------------------------------- operators: cities


def _cities_page(request: Request, session, current: Current, status_code: int = 200, **context) -> HTMLResponse:
    context.setdefault("notice", None)
    context.setdefault("errors", {})
    context.setdefault("slug", "")
    context.setdefault("name", "")
    cities = consoleview.cities(session, current.principal)
    counts = consoleview.source_counts(session)
    return render(
        request, "console_cities.html", status_code, title="Städte", nav="staedte", current=current, cities=cities, counts=counts, **context
    )


@router.get("/staedte")
def city_list(request: Request, session: SessionDep, runtime: RuntimeDep, hinweis: str | None = None):
    current = _operator(request, session, runtime)
    if not isinstance(current, Current):
        return current
    return _cities_page(request, session, current, notice=NOTICES.get(hinweis or ""))


@router.post("/staedte")
def city_create(request: Request, session: SessionDep, runtime: RuntimeDep, form: FormDep):
    current = _operator(request, session, runtime, form)
    if not isinstance(current, Current):
        return current
    slug, name = form.get("kurzname", "").strip()[:100], form.get("name", "").strip()[:300]
    try:
        service.create_city(session, slug, name, actor=actor(current))
    except (Invalid, Conflict) as exc:
        field_name = "name" if exc.reason == "invalid_name" else "kurzname"
        status_code = 409 if isinstance(exc, Conflict) else 422
        return _cities_page(request, session, current, status_code, errors={field_name: _sentence(exc.message)}, slug=slug, name=name)
    return redirect("/verwaltung/staedte?hinweis=stadt")


# ---------------------------------------------------------------- OPML: export and import


def _opml_page(request: Request, session, current: Current, status_code: int = 200, **context) -> HTMLResponse:
    context.setdefault("results", None)
    context.setdefault("error", None)
    context.setdefault("city", None if current.principal.is_operator else current.principal.city_slug)
    cities = consoleview.cities(session, current.principal)
    return render(request, "console_opml.html", status_code, title="OPML", nav="opml", current=current, cities=cities, **context)


@router.get("/opml")
def opml_page(request: Request, session: SessionDep, runtime: RuntimeDep):
    current = signed_in(request, session, runtime)
    if current is None:
        return redirect("/verwaltung/anmelden")
    return _opml_page(request, session, current)


@router.get("/opml/{slug}.opml")
def opml_export(slug: Annotated[str, Path(max_length=64)], request: Request, session: SessionDep, runtime: RuntimeDep):
    current = signed_in(request, session, runtime)
    if current is None:
        return redirect("/verwaltung/anmelden")
    try:
        city = service.get_city(session, slug, current.principal)
    except NotFound:
        return page(request, current, 404, "Stadt nicht gefunden", "Diese Stadt gibt es nicht, oder sie gehört nicht zu Ihrem Zugang.")
    body = opml.render(city, service.list_sources(session, city))
    disposition = f'attachment; filename="{city.slug}.opml"'
    return Response(body, media_type="text/x-opml; charset=utf-8", headers={"Content-Disposition": disposition})


@router.post("/opml")
def opml_import(request: Request, session: SessionDep, runtime: RuntimeDep, queue: TaskQueueDep, form: FormDep):
    """Every feed of a pasted OPML document, registered as the API's import does; the results are shown on this answer
    (a repeated POST registers nothing twice: each address is refused as already registered)."""
    current = authorised(request, session, runtime, form)
    if not isinstance(current, Current):
        return current
    try:
        city = _form_city(session, current, form)
    except NotFound:
        return page(
            request, current, 404, "Stadt nicht gefunden", "Diese Stadt gibt es nicht, oder Sie dürfen für sie keine Quellen anlegen."
        )
    document = form.get("dokument", "").encode("utf-8")
    try:
        results = opml.import_document(
            session, runtime.client, runtime.refresh_config, city, document, actor=actor(current), enqueue=queue.refresh
        )
    except Invalid as exc:
        return _opml_page(request, session, current, 422, error=_sentence(exc.message), city=city.slug)
    return _opml_page(request, session, current, results=results, city=city.slug)
