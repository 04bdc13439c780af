"""Operator endpoints: /healthz (process), /readyz (database, broker, beat), and behind
``OpsAccess`` (allowed network or operator token) the dashboard /ops, a source's page and /metrics.

/readyz stays open for load balancers and probes, but only operators (the same rule as /ops) see
why it fails: driver errors name internal hosts and ports."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path as FilePath
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import undefer_group

from syndicate.clock import utcnow
from syndicate.ingest import freshness
from syndicate.models import Source
from syndicate.ops import alerts, counts, metrics, status
from syndicate.ops import dashboard as opsview
from syndicate.ops import workers as workerinfo
from syndicate.settings import Settings
from syndicate.web import opsui
from syndicate.web.deps import RuntimeDep, SessionDep
from syndicate.web.opsaccess import OperatorView, OpsAccess

router = APIRouter(tags=["ops"])
templates = Jinja2Templates(directory=str(FilePath(__file__).parent.parent / "templates"))
templates.env.filters.update(when=opsui.when, ago=opsui.ago, ago_from=opsui.ago_from, relative=opsui.relative)


@dataclass
class OpsState:
    """Per web process: the cached worker probe and the alert memory (queue trend, logged alerts)."""

    probe: workerinfo.CachedProbe
    counts: counts.CountCache
    alerts: alerts.AlertState = field(default_factory=alerts.AlertState)


def ops_state(request: Request, settings: Settings) -> OpsState:
    state = request.app.state
    if getattr(state, "ops", None) is None:
        state.ops = OpsState(workerinfo.CachedProbe(settings), counts.CountCache(settings.ops_counts_seconds))
    return state.ops


@router.get("/healthz")
def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(session: SessionDep, runtime: RuntimeDep, operator: OperatorView) -> JSONResponse:
    problems = {}
    if (error := status.check_database(session)) is not None:
        problems["database"] = error
    if (error := status.check_broker(runtime.settings.broker_url)) is not None:
        problems["broker"] = error
    if "database" not in problems and (error := status.beat_problem(session, runtime.settings)) is not None:
        problems["beat"] = error
    body: dict = {"status": "fail" if problems else "ok"}
    if operator:
        body["problems"] = problems
    return JSONResponse(body, status_code=503 if problems else 200)


@router.get("/metrics", dependencies=[OpsAccess], response_class=Response)
def prometheus_metrics(request: Request, session: SessionDep, runtime: RuntimeDep) -> Response:
    ops = ops_state(request, runtime.settings)
    body = metrics.scrape(session, runtime.settings, ops.probe, ops.alerts, cache=ops.counts)
    return Response(body, media_type=metrics.CONTENT_TYPE)


SortKey = Literal["state", "city", "source", "last_success", "reason", "next_check", "items"]


@router.get("/ops", dependencies=[OpsAccess], response_class=HTMLResponse)
def dashboard(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    state: Annotated[str | None, Query(max_length=20)] = None,
    city: Annotated[str | None, Query(max_length=64)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    sort: SortKey = "state",
    order: Literal["asc", "desc"] = "asc",
    seite: Annotated[str, Query(max_length=6)] = "1",
):
    ops = ops_state(request, runtime.settings)
    page = int(seite) if seite.isdigit() else 1  # read leniently: a bad page number shows the first page
    query = opsview.TableQuery(state or None, city or None, q or None, sort, order == "desc", page)
    try:
        view = opsview.dashboard(session, runtime.settings, query, ops.probe, ops.alerts, totals=ops.counts)
    except SQLAlchemyError as exc:
        return HTMLResponse(
            f"<!doctype html><html lang=de><title>Betrieb</title><h1>Datenbank nicht erreichbar</h1>"
            f"<p>{html.escape(exc.__class__.__name__)}</p></html>",
            status_code=503,
        )
    return templates.TemplateResponse(
        request,
        "ops.html",
        {
            "view": view,
            "query": query,
            "labels": opsui.STATE_LABELS,
            "states": status.STATES,
            "problem_states": status.PROBLEM_STATES,
            "sparkline": opsui.sparkline,
            "city_options": opsui.city_options,
            "self_url": _self_url(query, view.page),
            "sort_url": lambda key: _sort_url(query, key),
            "page_url": lambda number: _self_url(query, number),
            "broker": _broker_kind(runtime.settings.broker_url),
            "public_url": request.app.state.public_url_check,
            "page_size": opsview.PAGE_SIZE,
        },
    )


@router.get("/ops/sources/{source_id}", dependencies=[OpsAccess], response_class=HTMLResponse)
def source_page(request: Request, source_id: Annotated[int, Path(ge=1, le=2**31 - 1)], session: SessionDep, runtime: RuntimeDep):
    now = utcnow()
    page = opsview.source_page(session, source_id, now, runtime.settings.ops_failing_alert_after)
    if page is None:
        raise HTTPException(404, f"Quelle {source_id} gibt es nicht")
    source = session.get(Source, source_id, options=[undefer_group("freshness")])
    expected = freshness.expected(session, [source], runtime.refresh_config)[source_id] if source is not None else None
    return templates.TemplateResponse(
        request,
        "ops_source.html",
        {
            "page": page,
            "expected": expected,
            "line": page.line,
            "now": now,
            "labels": opsui.STATE_LABELS,
            "fetch_labels": opsui.FETCH_LABELS,
            "fetch_kinds": opsui.FETCH_KINDS,
            "chart": opsui.latency_chart(page.fetches),
            "spark": opsui.sparkline(page.line.per_day, 280, 40),
            "day_counts": list(zip(opsview.spark_days(now), page.line.per_day)),
        },
    )


def _self_url(query: opsview.TableQuery, page: int = 1) -> str:
    """This view again, with its filter, order and page of the table: the "Aktualisieren" link (and the
    page links). The pages do not reload themselves (no meta refresh): a reload every few seconds moves a
    keyboard or screen reader user back to the top (WCAG 2.2.1)."""
    params = {
        "state": query.state,
        "city": query.city,
        "q": query.q,
        "sort": query.sort,
        "order": "desc" if query.desc else "asc",
        "seite": page if page > 1 else None,
    }
    return "/ops?" + urlencode({k: v for k, v in params.items() if v})


def _sort_url(query: opsview.TableQuery, key: str) -> str:
    order = "desc" if query.sort == key and not query.desc else "asc"
    params = {"state": query.state, "city": query.city, "q": query.q, "sort": key, "order": order}
    return "/ops?" + urlencode({k: v for k, v in params.items() if v})


def _broker_kind(url: str) -> str:
    if workerinfo.embedded(url):
        return "eingebettet (SQLite)"
    return {"redis": "Redis", "rediss": "Redis", "amqp": "RabbitMQ", "amqps": "RabbitMQ", "pyamqp": "RabbitMQ"}.get(
        url.split("://", 1)[0], url.split("://", 1)[0]
    )
