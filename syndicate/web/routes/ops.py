"""Operator endpoints: /healthz (process) and /readyz (database, broker, beat)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from syndicate import status
from syndicate.web.deps import RuntimeDep, SessionDep

router = APIRouter(tags=["ops"])


@router.get("/healthz")
def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(session: SessionDep, runtime: RuntimeDep) -> JSONResponse:
    problems = {}
    if (error := status.check_database(session)) is not None:
        problems["database"] = error
    if (error := status.check_broker(runtime.settings.broker_url)) is not None:
        problems["broker"] = error
    if not problems:
        summary = status.summarise(session)
        limit = 3 * runtime.settings.beat_interval
        if summary.beat_age_seconds is not None and summary.beat_age_seconds > limit:
            problems["beat"] = f"last beat tick {summary.beat_age_seconds:.0f}s ago (limit {limit:.0f}s)"
    code = 503 if problems else 200
    return JSONResponse({"status": "fail" if problems else "ok", "problems": problems}, status_code=code)
