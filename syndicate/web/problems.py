"""Errors of /api/v1 as RFC 9457 ``application/problem+json`` with stable ``reason`` codes.

The body has the RFC's members (type, title, status, detail) and ours: ``reason`` (stable,
machine-readable) and ``message`` (for people, always German; ``detail`` is the same text). Service errors, request
validation errors and Starlette's own errors (unknown path, wrong method) under /api/v1
are all answered this way; every other path keeps FastAPI's default answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from syndicate.errors import Conflict, Forbidden, Invalid, NotFound, ServiceError, TooSoon

API_PREFIX = "/api/v1"
MEDIA_TYPE = "application/problem+json"
STATUS = {NotFound: 404, Forbidden: 403, Conflict: 409, Invalid: 422, TooSoon: 429}


# Starlette's own errors (unknown path, wrong method, unreadable body) in German
HTTP_MESSAGES = {
    400: "der Inhalt der Anfrage ist nicht lesbar",
    404: "diese Adresse gibt es in der API nicht",
    405: "diese Methode ist für diese Adresse nicht erlaubt",
}
# pydantic's error types in German (``*``: every type of that family, e.g. string_too_short)
VALIDATION = {
    "missing": "fehlt",
    "extra_forbidden": "ist hier nicht vorgesehen",
    "string_type": "muss ein Text sein",
    "string_too_short": "ist zu kurz",
    "string_too_long": "ist zu lang",
    "string_pattern_mismatch": "hat nicht die erwartete Form",
    "int_*": "muss eine ganze Zahl sein",
    "bool_*": "muss true oder false sein",
    "list_type": "muss eine Liste sein",
    "too_short": "hat zu wenige Einträge",
    "too_long": "hat zu viele Einträge",
    "greater_than": "ist zu klein",
    "greater_than_equal": "ist zu klein",
    "less_than": "ist zu groß",
    "less_than_equal": "ist zu groß",
    "literal_error": "ist keiner der erlaubten Werte",
    "json_invalid": "ist kein gültiges JSON",
    "model_attributes_type": "muss ein JSON-Objekt sein",
    "dict_type": "muss ein JSON-Objekt sein",
    "value_error": "ist ungültig",
}


OWN_ERROR_TYPES = {"invalid_selector"}  # syndicate.sources.registry: a selector the grammar refuses


class Problem(BaseModel):
    type: str = "about:blank"
    title: str
    status: int
    detail: str
    reason: str
    message: str


class Unauthorized(ServiceError):
    reason = "unauthorized"


def problem(status: int, reason: str, message: str, headers: Mapping[str, str] | None = None, **extra) -> JSONResponse:
    body = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": message,
        "reason": reason,
        "message": message,
        **extra,
    }
    return JSONResponse(body, status_code=status, headers=headers, media_type=MEDIA_TYPE)


def _service_error(_request: Request, exc: ServiceError) -> JSONResponse:
    if isinstance(exc, Unauthorized):
        return problem(401, exc.reason, exc.message, {"WWW-Authenticate": 'Bearer realm="syndicate"'})
    status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 400)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooSoon) else None
    return problem(status, exc.reason, exc.message, headers, **exc.extra)


async def _validation_error(request: Request, exc: RequestValidationError):
    if not request.url.path.startswith(API_PREFIX):
        return await request_validation_exception_handler(request, exc)
    errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()]
    where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {_invalid(e, source)}" for e, source in zip(errors[:5], exc.errors()))
    return problem(422, "invalid_request", f"ungültige Anfrage: {where}", errors=errors)


def _invalid(error: dict, source: dict) -> str:
    """A German phrase for a validation error; ``errors[].msg`` keeps pydantic's English text for developers."""
    kind = error["type"]
    if kind == "value_error":  # our own validators (schemas.py) write German
        return str((source.get("ctx") or {}).get("error", "")) or VALIDATION["value_error"]
    if kind in OWN_ERROR_TYPES:  # raised by our own code as PydanticCustomError with a German message
        return str(error.get("msg", "")) or "ungültiger Wert"
    return VALIDATION.get(kind) or VALIDATION.get(kind.split("_")[0] + "_*") or "ungültiger Wert"


async def _http_error(request: Request, exc: StarletteHTTPException):
    if not request.url.path.startswith(API_PREFIX):
        return await http_exception_handler(request, exc)
    reason = {400: "invalid_body", 404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, f"http_{exc.status_code}")
    return problem(exc.status_code, reason, HTTP_MESSAGES.get(exc.status_code, f"HTTP-Fehler {exc.status_code}"), exc.headers)


def install(app: FastAPI) -> None:
    # through the decorator form: it takes each handler with its own exception type, where
    # add_exception_handler's annotation wants every handler to accept any Exception
    app.exception_handler(ServiceError)(_service_error)
    app.exception_handler(RequestValidationError)(_validation_error)
    app.exception_handler(StarletteHTTPException)(_http_error)


def documented(*statuses: int) -> dict:
    """OpenAPI ``responses`` entries for problem answers with these status codes."""
    content = {MEDIA_TYPE: {"schema": Problem.model_json_schema()}}
    entries = {}
    for status in statuses:
        entry: dict = {"description": HTTPStatus(status).phrase, "content": content}
        if status == 429:
            entry["headers"] = {"Retry-After": {"description": "Sekunden bis zum nächsten Versuch", "schema": {"type": "integer"}}}
        if status == 401:
            entry["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
        entries[status] = entry
    return entries
