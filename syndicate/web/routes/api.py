"""/api/v1: cities look after their sources; operators see and manage all cities.

Routers validate and delegate: look-ups, changes and their audit entries live in
``sources_service``, ``opml`` and ``audit``; tenancy is in the typed dependencies
(``OwnedCity``, ``OwnedSource``: another city's resources answer 404, like missing ones).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.orm import Session

from syndicate.access import audit
from syndicate.errors import Invalid
from syndicate.ingest import freshness
from syndicate.models import Source
from syndicate.runtime import Runtime
from syndicate.sources import opml
from syndicate.sources import service as sources_service
from syndicate.web.deps import OperatorToken, OwnedCity, OwnedSource, RuntimeDep, SessionDep, TaskQueueDep, TokenDep
from syndicate.web.problems import documented
from syndicate.web.schemas import (
    SLUG,
    AuditPublic,
    DiscoveredFeed,
    DiscoverRequest,
    DiscoverResult,
    FetchPublic,
    FetchWarning,
    ImportResult,
    OpmlImported,
    PreviewPublic,
    RefreshQueued,
    SourceCreate,
    SourceCreated,
    SourcePublic,
    SourceUpdate,
)

router = APIRouter(prefix="/api/v1", tags=["api"], responses=documented(401, 422, 429))
OPML_TYPE = "text/x-opml"
DbId = Annotated[int, Query(ge=1, le=2**31 - 1)]


def _public(source: Source, session: Session, runtime: Runtime) -> SourcePublic:
    """The source as the API shows it: its state by the same model and threshold as /ops and the CLI, and
    its expected delay (the freshness model, docs/freshness.md)."""
    expected = freshness.expected(session, [source], runtime.refresh_config)[source.id]
    return SourcePublic.of(source, runtime.settings.ops_failing_alert_after, expected)


@router.get("/cities/{city}/sources", responses=documented(404))
def list_sources(city: OwnedCity, session: SessionDep, runtime: RuntimeDep) -> list[SourcePublic]:
    """Alle Quellen der Stadt (aus feeds/ und über die API registriert), jede mit ihrem Zustand."""
    sources = sources_service.list_sources(session, city)
    expected = freshness.expected(session, sources, runtime.refresh_config)
    return [SourcePublic.of(s, runtime.settings.ops_failing_alert_after, expected[s.id]) for s in sources]


@router.post("/cities/{city}/sources", status_code=201, responses=documented(400, 404, 409))
def create_source(
    body: SourceCreate, city: OwnedCity, principal: TokenDep, session: SessionDep, runtime: RuntimeDep, queue: TaskQueueDep
) -> SourceCreated:
    """Eine Quelle registrieren: Testabruf + Vorschau; kein Feed → 422 mit Grund, außer mit ``force``."""
    spec = sources_service.SourceSpec(
        **body.model_dump(exclude={"force", "extraction"}),
        extraction=body.extraction.model_dump(exclude_none=True) if body.extraction else None,
    )
    created = sources_service.create_source(
        session,
        runtime.client,
        runtime.refresh_config,
        city,
        spec,
        actor=principal.actor,
        enqueue=queue.refresh,
        force=body.force,
        operator=principal.is_operator,
    )
    return SourceCreated(
        source=_public(created.source, session, runtime),
        preview=PreviewPublic.of(created.preview),
        warning=FetchWarning(**created.warning) if created.warning else None,
        refresh_queued=created.queued,
    )


@router.get("/sources/{source_id}", responses=documented(404))
def get_source(source: OwnedSource, session: SessionDep, runtime: RuntimeDep) -> SourcePublic:
    return _public(source, session, runtime)


@router.patch("/sources/{source_id}", responses=documented(400, 404, 409))
def update_source(body: SourceUpdate, source: OwnedSource, principal: TokenDep, session: SessionDep, runtime: RuntimeDep) -> SourcePublic:
    """Titel, Intervallgrenzen, Standardthemen, ``enabled`` oder die Selektoren (``extraction``, nur kind html) ändern
    (nicht für Quellen aus feeds/: 409)."""
    changes = body.model_dump(exclude_unset=True, exclude={"extraction"})
    if "extraction" in body.model_fields_set:
        changes["extraction"] = body.extraction.model_dump(exclude_none=True) if body.extraction else None
    changed = sources_service.update_source(session, source, changes, actor=principal.actor)
    return _public(changed, session, runtime)


@router.delete("/sources/{source_id}", responses=documented(404, 409))
def retire_source(source: OwnedSource, principal: TokenDep, session: SessionDep, runtime: RuntimeDep) -> SourcePublic:
    """Eine Quelle stilllegen: sie wird nicht mehr abgerufen, ihre Meldungen bleiben in den Feeds."""
    return _public(sources_service.retire_source(session, source, actor=principal.actor), session, runtime)


@router.post("/sources/{source_id}/refresh", status_code=202, responses=documented(404, 409))
def refresh_source(
    source: OwnedSource, principal: TokenDep, session: SessionDep, queue: TaskQueueDep, runtime: RuntimeDep
) -> RefreshQueued:
    """Jetzt abrufen lassen: höchstens einmal in fünf Minuten pro Quelle (sonst 429 mit Retry-After)."""
    queued = sources_service.request_refresh(session, source, actor=principal.actor, enqueue=queue.refresh)
    return RefreshQueued(source=_public(source, session, runtime), queued=queued)


@router.get("/sources/{source_id}/fetches", responses=documented(404))
def list_fetches(source: OwnedSource, session: SessionDep, limit: Annotated[int, Query(ge=1, le=200)] = 20) -> list[FetchPublic]:
    """Die letzten Abrufe, neueste zuerst."""
    return [FetchPublic.of(row) for row in sources_service.fetch_log(session, source, limit)]


@router.post("/discover", responses=documented(400))
def discover(body: DiscoverRequest, principal: TokenDep, runtime: RuntimeDep) -> DiscoverResult:
    """Die Feeds, die eine Webseite mit ``<link rel="alternate">`` anbietet (gleicher Abruf und Adressschutz wie beim Pollen)."""
    final_url, links = sources_service.discover(runtime.client, body.url, runtime.refresh_config)
    return DiscoverResult(url=final_url, feeds=[DiscoveredFeed.of(link) for link in links])


@router.get(
    "/cities/{city}/opml",
    response_class=Response,
    responses={200: {"content": {OPML_TYPE: {"schema": {"type": "string"}}}, "description": "OPML 2.0"}, **documented(404)},
)
def export_opml(city: OwnedCity, session: SessionDep) -> Response:
    body = opml.render(city, sources_service.list_sources(session, city))
    disposition = f'attachment; filename="{city.slug}.opml"'
    return Response(body, media_type=f"{OPML_TYPE}; charset=utf-8", headers={"Content-Disposition": disposition})


async def read_opml(request: Request) -> bytes:
    document = bytearray()
    async for chunk in request.stream():
        document += chunk
        if len(document) > opml.MAX_BYTES:
            raise Invalid(f"das OPML-Dokument ist größer als {opml.MAX_BYTES} Bytes", reason="invalid_opml")
    return bytes(document)


@router.post(
    "/cities/{city}/opml",
    responses=documented(404),
    openapi_extra={"requestBody": {"required": True, "content": {OPML_TYPE: {"schema": {"type": "string"}}}}},
)
def import_opml(
    document: Annotated[bytes, Depends(read_opml)],
    city: OwnedCity,
    principal: TokenDep,
    session: SessionDep,
    runtime: RuntimeDep,
    queue: TaskQueueDep,
    force: bool = False,
) -> OpmlImported:
    """Jeden Feed eines OPML-Dokuments registrieren, mit derselben Prüfung wie ein einzelnes POST."""
    results = opml.import_document(
        session, runtime.client, runtime.refresh_config, city, document, actor=principal.actor, enqueue=queue.refresh, force=force
    )
    return OpmlImported(
        created=sum(r["status"] == "created" for r in results),
        refused=sum(r["status"] == "refused" for r in results),
        results=[ImportResult(**r) for r in results],
    )


@router.get("/audit", responses=documented(403))
def read_audit(
    principal: OperatorToken,
    session: SessionDep,
    city: Annotated[str | None, Query(max_length=64, pattern=SLUG)] = None,
    action: Annotated[str | None, Query(max_length=60, pattern=r"^[a-z_.]+$")] = None,
    before_id: DbId | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[AuditPublic]:
    """Wer hat wann was geändert (neueste zuerst; ``before_id`` blättert zurück). Nur für Betreiber."""
    rows = audit.entries(session, city=city, action=action, before_id=before_id, limit=limit)
    return [AuditPublic.of(entry, slug) for entry, slug in rows]
