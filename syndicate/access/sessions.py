"""Console sessions: a token pasted once into the sign-in form starts a session held on the server.

The browser keeps a random secret in an ``HttpOnly`` cookie; the database keeps only its SHA-256
hash and the token it was started with. Every request looks the session up again, so signing out,
the idle and absolute expiry and revoking the token all end it at once, on the server. The CSRF
token of a session's forms is an HMAC of a fixed label keyed with the cookie's secret: bound to the
session, nothing to store, and unknown to any page that cannot read the cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from syndicate.access import tokens
from syndicate.access.tokens import Principal
from syndicate.clock import utcnow
from syndicate.models import ConsoleSession

TOUCH_EVERY = timedelta(seconds=30)  # last_seen_at is written at most this often per session


@dataclass(frozen=True)
class Current:
    """The signed-in principal of a request, with the CSRF token its forms must carry."""

    principal: Principal
    csrf: str


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def csrf_token(secret: str) -> str:
    return hmac.new(secret.encode("utf-8"), b"syndicate-console-csrf", hashlib.sha256).hexdigest()


def csrf_ok(secret: str, presented: str | None) -> bool:
    return bool(presented) and hmac.compare_digest(csrf_token(secret), presented or "")


def start(session: Session, token_secret: str, now: datetime | None = None) -> tuple[str, Principal] | None:
    """A new session for a valid, unrevoked token: (the cookie's secret, the principal); None otherwise."""
    principal = tokens.verify(session, token_secret)
    if principal is None:
        return None
    now = now or utcnow()
    secret = new_secret()
    session.add(ConsoleSession(secret_hash=_hash(secret), token_id=principal.token_id, created_at=now, last_seen_at=now))
    session.commit()
    return secret, principal


def resume(session: Session, secret: str, *, idle: float, max_age: float, now: datetime | None = None) -> Current | None:
    """The session of a cookie, if it is still alive; an expired one, or one whose token was revoked, is deleted."""
    if not secret or len(secret) > 100:
        return None
    row = session.scalar(select(ConsoleSession).where(ConsoleSession.secret_hash == _hash(secret)))
    if row is None:
        return None
    now = now or utcnow()
    token = row.token
    if token.revoked_at is not None or (now - row.last_seen_at).total_seconds() > idle or (now - row.created_at).total_seconds() > max_age:
        session.delete(row)
        session.commit()
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
        session.commit()
    principal = Principal(token.id, token.scope, token.city_id, token.city.slug if token.city else None)
    return Current(principal, csrf_token(secret))


def end(session: Session, secret: str) -> None:
    session.execute(delete(ConsoleSession).where(ConsoleSession.secret_hash == _hash(secret)))
    session.commit()
