"""/websub: the WebSub hub endpoint (form-encoded hub.* parameters, answered 202 and verified by a worker)."""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import APIRouter, HTTPException, Request, Response

from syndicate.publish import websub
from syndicate.web.deps import RuntimeDep, SessionDep, TaskQueueDep

router = APIRouter(tags=["websub"])


@router.post("/websub", status_code=202, summary="WebSub-Hub: abonnieren, abbestellen, Änderung melden")
async def hub(request: Request, session: SessionDep, runtime: RuntimeDep, queue: TaskQueueDep) -> Response:
    if len(body := await request.body()) > 16384:
        raise HTTPException(413, detail={"reason": "too_large", "message": "Anfrage zu groß"})
    form = dict(parse_qsl(body.decode("utf-8", "replace")))  # application/x-www-form-urlencoded, as WebSub prescribes
    mode, topic = str(form.get("hub.mode", "")), str(form.get("hub.topic", ""))
    if mode == "publish":  # a ping that a feed changed: deliveries are computed from the feeds themselves
        queue.websub_fanout()
        return Response(status_code=202)
    lease = str(form.get("hub.lease_seconds", "") or "")
    if lease and not lease.isdigit():
        raise HTTPException(400, detail={"reason": "invalid_lease", "message": "hub.lease_seconds muss eine Zahl sein"})
    secret = form.get("hub.secret")
    request_ = websub.Request(
        mode, str(form.get("hub.callback", "")), topic, int(lease) if lease else None, str(secret) if secret else None
    )
    try:
        sub = websub.subscribe(session, request_, runtime.settings.public_url)
    except websub.HubError as exc:
        raise HTTPException(400, detail={"reason": exc.reason, "message": str(exc)}) from exc
    session.commit()
    queue.websub_verify(sub.id)  # after commit: the worker sees the row
    return Response(status_code=202)
