"""Typed dependencies for the routes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from syndicate.access import tokens
from syndicate.access.limits import SharedRateLimiter
from syndicate.access.tokens import Principal
from syndicate.errors import Forbidden, TooSoon
from syndicate.models import City, Source
from syndicate.runtime import Runtime
from syndicate.sources import service as sources_service
from syndicate.sources.registry import SLUG
from syndicate.web.problems import Unauthorized
from syndicate.web.tasks import TaskQueue


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def get_session(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Iterator[Session]:
    with runtime.sessions() as session:
        yield session


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SessionDep = Annotated[Session, Depends(get_session)]


# ---------------------------------------------------------------- /api/v1: tokens, tenancy, task queue

bearer = HTTPBearer(auto_error=False, description="API-Token aus `syndicate token create`")


def get_rate_limiter(request: Request) -> SharedRateLimiter:
    """The per-token limit, counted in the database so that it holds across API processes and machines."""
    state = request.app.state
    if getattr(state, "rate_limiter", None) is None:
        state.rate_limiter = SharedRateLimiter(state.runtime.engine, "api-token", state.runtime.settings.api_rate_limit)
    return state.rate_limiter


def get_principal(
    request: Request, session: SessionDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    if credentials is None:
        raise Unauthorized("Authorization: Bearer <token> fehlt", reason="missing_token")
    principal = tokens.verify(session, credentials.credentials)
    if principal is None:
        raise Unauthorized("Token unbekannt oder widerrufen", reason="invalid_token")
    if (wait := get_rate_limiter(request).hit(principal.token_id)) is not None:
        raise TooSoon("zu viele Anfragen mit diesem Token", retry_after=int(wait) + 1, reason="rate_limited")
    return principal


TokenDep = Annotated[Principal, Depends(get_principal)]


def require_operator(principal: TokenDep) -> Principal:
    if not principal.is_operator:
        raise Forbidden("nur mit einem Betreiber-Token", reason="operator_only")
    return principal


def get_owned_city(city: Annotated[str, Path(max_length=64, pattern=SLUG)], principal: TokenDep, session: SessionDep) -> City:
    """The city in the path, if this token may touch it; 404 otherwise (also for other cities)."""
    return sources_service.get_city(session, city, principal)


def get_owned_source(source_id: Annotated[int, Path(ge=1, le=2**31 - 1)], principal: TokenDep, session: SessionDep) -> Source:
    """The source in the path, if this token may touch its city; 404 otherwise."""
    return sources_service.get_source(session, source_id, principal)


def get_task_queue(request: Request, runtime: RuntimeDep) -> TaskQueue:
    state = request.app.state
    if getattr(state, "task_queue", None) is None:  # built on first use; tests put their own here
        state.task_queue = TaskQueue(runtime.settings.broker_url)
    return state.task_queue


OperatorToken = Annotated[Principal, Depends(require_operator)]
OwnedCity = Annotated[City, Depends(get_owned_city)]
OwnedSource = Annotated[Source, Depends(get_owned_source)]
TaskQueueDep = Annotated[TaskQueue, Depends(get_task_queue)]
