"""/websub: the WebSub hub endpoint (form-encoded hub.* parameters, answered 202 and verified by a worker).

Anyone may call it, so each client address has a request budget per minute, and publish pings
are coalesced: deliveries are computed from the feeds themselves, so one fan-out per interval
serves any number of pings.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import APIRouter, HTTPException, Request, Response

from syndicate.access.limits import SharedRateLimiter
from syndicate.clock import utcnow
from syndicate.ingest import push
from syndicate.publish import websub
from syndicate.sources import service as sources_service
from syndicate.web.deps import RuntimeDep, SessionDep, TaskQueueDep
from syndicate.web.ratelimit import Coalescer

router = APIRouter(tags=["websub"])
MAX_LEASE_DIGITS = 12  # far beyond any lease the hub grants (it clamps to 30 days)


def _limits(request: Request) -> tuple[SharedRateLimiter, Coalescer]:
    """The per-client budget (shared by every API process, in the database) and this process's publish
    throttle, made on first use from the settings."""
    state = request.app.state
    if getattr(state, "websub_limits", None) is None:
        runtime = state.runtime
        per_client = SharedRateLimiter(runtime.engine, "websub-client", runtime.settings.websub_rate_limit)
        state.websub_limits = (per_client, Coalescer(runtime.settings.websub_publish_interval))
    return state.websub_limits


@router.post("/websub", status_code=202, summary="WebSub-Hub: abonnieren, abbestellen, Änderung melden")
async def hub(request: Request, session: SessionDep, runtime: RuntimeDep, queue: TaskQueueDep) -> Response:
    per_client, pings = _limits(request)
    if (wait := per_client.hit(request.client.host if request.client else "")) is not None:
        message = "zu viele Anfragen an den WebSub-Hub von dieser Adresse; bitte später erneut versuchen"
        raise HTTPException(429, detail={"reason": "rate_limited", "message": message}, headers={"Retry-After": str(int(wait) + 1)})
    if len(body := await request.body()) > 16384:
        raise HTTPException(413, detail={"reason": "too_large", "message": "Anfrage zu groß"})
    form = dict(parse_qsl(body.decode("utf-8", "replace")))  # application/x-www-form-urlencoded, as WebSub prescribes
    mode, topic = str(form.get("hub.mode", "")), str(form.get("hub.topic", ""))
    if mode == "publish":  # a ping that a feed changed: deliveries are computed from the feeds themselves
        if (delay := pings.trigger()) is not None:
            queue.websub_fanout(countdown=delay)
        return Response(status_code=202)
    lease = str(form.get("hub.lease_seconds", "") or "")
    if lease and not (lease.isascii() and lease.isdigit() and len(lease) <= MAX_LEASE_DIGITS):
        message = f"hub.lease_seconds muss eine ganze Zahl aus höchstens {MAX_LEASE_DIGITS} Ziffern 0–9 sein"
        raise HTTPException(400, detail={"reason": "invalid_lease", "message": message})
    secret = form.get("hub.secret")
    request_ = websub.Request(
        mode, str(form.get("hub.callback", "")), topic, int(lease) if lease else None, str(secret) if secret else None
    )
    try:
        sub = websub.subscribe(session, request_, runtime.settings.public_url, websub.HubConfig.from_settings(runtime.settings))
    except websub.HubError as exc:
        raise HTTPException(exc.status, detail={"reason": exc.reason, "message": str(exc)}) from exc
    session.commit()
    queue.websub_verify(sub.id)  # after commit: the worker sees the row
    return Response(status_code=202)


# ---------------------------------------------------------------- subscriber side: publishers' hubs call us (ingest/push.py)

MAX_PUSH_BYTES = 10 * 1024 * 1024


@router.get("/websub/callback/{token}", summary="WebSub: Bestätigung eines Abonnements bei einem Hub der Quelle", include_in_schema=False)
def push_verify(token: str, request: Request, session: SessionDep) -> Response:
    params = request.query_params
    lease = params.get("hub.lease_seconds", "")
    lease_seconds = int(lease) if lease.isascii() and lease.isdigit() and len(lease) <= MAX_LEASE_DIGITS else None
    if not push.verify(session, token, params.get("hub.mode", ""), params.get("hub.topic", ""), lease_seconds, utcnow()):
        raise HTTPException(404, detail={"reason": "unknown_subscription", "message": "Dieses Abonnement gibt es nicht"})
    return Response(params.get("hub.challenge", ""), media_type="text/plain")


@router.post("/websub/callback/{token}", status_code=202, summary="WebSub: neue Inhalte einer Quelle", include_in_schema=False)
async def push_deliver(token: str, request: Request, session: SessionDep, queue: TaskQueueDep) -> Response:
    """A delivery from a publisher's hub: acknowledged with 202 (WebSub asks for a 2xx, also when the signature is
    wrong); only a correctly signed one refreshes its source."""
    body = await request.body()
    if len(body) > MAX_PUSH_BYTES:
        raise HTTPException(413, detail={"reason": "too_large", "message": "Anfrage zu groß"})
    source_id = push.accept(session, token, body, request.headers.get("x-hub-signature"), utcnow())
    if source_id is not None:
        sources_service.refresh_pushed(session, source_id, enqueue=queue.refresh)
    return Response(status_code=202)
