"""API tokens: random secrets shown once, stored as SHA-256 hashes, scoped to one city or operator.

A secret is ``syn_`` plus 32 random bytes (URL-safe base64), so a fast hash is enough: there is
nothing to brute-force. Lookup is by hash; the stored hash is compared again with
``hmac.compare_digest`` so that no comparison in Python code depends on where the values differ.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from syndicate.access import audit
from syndicate.clock import utcnow
from syndicate.errors import NotFound
from syndicate.models import ApiToken, City, ConsoleSession

PREFIX = "syn_"
TOUCH_EVERY = timedelta(seconds=60)  # last_used_at is written at most this often per token


@dataclass(frozen=True)
class Principal:
    """Who is calling: a verified token and what it may touch."""

    token_id: int
    scope: str  # operator | city
    city_id: int | None = None
    city_slug: str | None = None

    @property
    def is_operator(self) -> bool:
        return self.scope == "operator"

    @property
    def actor(self) -> str:
        return f"token:{self.token_id} " + ("operator" if self.is_operator else f"city:{self.city_slug}")

    def may_touch(self, city_id: int) -> bool:
        return self.is_operator or self.city_id == city_id


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create(session: Session, *, city: str | None = None, name: str | None = None, actor: str = "cli") -> tuple[ApiToken, str]:
    """A new token for ``city`` (a slug) or, when ``city`` is None, an operator token. Returns (row, secret)."""
    owner = None
    if city is not None:
        owner = session.scalar(select(City).where(City.slug == city))
        if owner is None:
            raise NotFound(f"Stadt {city!r} ist nicht registriert", reason="city_not_found")
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        token_hash=hash_secret(secret),
        prefix=secret[:12],
        scope="city" if owner else "operator",
        city_id=owner.id if owner else None,
        name=name,
    )
    session.add(token)
    session.flush()
    audit.record(session, actor=actor, action="token.create", city_id=token.city_id, target=token, after=describe(token))
    session.commit()
    return token, secret


def verify(session: Session, secret: str, now: datetime | None = None) -> Principal | None:
    """The principal for a presented secret, or None for an unknown, malformed or revoked one."""
    if not secret.startswith(PREFIX) or len(secret) > 200:
        return None
    digest = hash_secret(secret)
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
    if token is None or not hmac.compare_digest(token.token_hash, digest) or token.revoked_at is not None:
        return None
    now = now or utcnow()
    if token.last_used_at is None or now - token.last_used_at >= TOUCH_EVERY:
        token.last_used_at = now
        session.commit()
    return Principal(token.id, token.scope, token.city_id, token.city.slug if token.city else None)


def revoke(session: Session, token_id: int, actor: str = "cli") -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"Token {token_id} gibt es nicht", reason="token_not_found")
    if token.revoked_at is None:
        before = describe(token)
        token.revoked_at = utcnow()
        # the console's sessions started with this token end with it (each request checks the token too)
        session.execute(delete(ConsoleSession).where(ConsoleSession.token_id == token.id))
        audit.record(session, actor=actor, action="token.revoke", city_id=token.city_id, target=token, before=before, after=describe(token))
        session.commit()
    return token


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.id)))


def describe(token: ApiToken) -> dict:
    """A token without its hash: what ``token list`` prints and the audit log keeps."""
    return {
        "id": token.id,
        "prefix": token.prefix,
        "scope": token.scope,
        "city": token.city.slug if token.city else None,
        "name": token.name,
        "created_at": _iso(token.created_at),
        "last_used_at": _iso(token.last_used_at),
        "revoked_at": _iso(token.revoked_at),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
