"""Who may see /ops and /metrics: clients from ``ops_allow_networks`` (default: loopback) or
anyone presenting an operator token (``Authorization: Bearer …``). Everyone else gets 403.
The same rule decides who sees the details of /readyz (``OperatorView``); others see only ok or not.

Behind a reverse proxy the client address is the proxy's; then give operators a token or run
uvicorn with ``--proxy-headers --forwarded-allow-ips`` for that proxy.
"""

from __future__ import annotations

import hashlib
import importlib
import ipaddress
from types import ModuleType
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from syndicate.models import ApiToken
from syndicate.web.deps import RuntimeDep, SessionDep

operator_bearer = HTTPBearer(
    auto_error=False, scheme_name="OperatorToken", description="Betreiber-Token aus `syndicate token create --operator`"
)


def client_allowed(host: str | None, allowed: str) -> bool:
    """Is ``host`` (an IP address, or a name such as TestClient's "testclient") in the comma-separated ``allowed``?"""
    if not host:
        return False
    entries = [entry.strip() for entry in allowed.split(",") if entry.strip()]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host in entries
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    candidates: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [address] + ([mapped] if mapped else [])
    for entry in entries:
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            continue  # a host name entry; it matched above if it was this client
        if any(candidate.version == network.version and candidate in network for candidate in candidates):
            return True
    return False


def is_operator_token(session: Session, secret: str) -> bool:
    """Through ``syndicate.access.tokens`` when it is there; else the stored hash (sha256), scope and revocation."""
    tokens: ModuleType | None
    try:
        tokens = importlib.import_module("syndicate.access.tokens")
    except ImportError:
        tokens = None
    if tokens is not None and hasattr(tokens, "verify"):
        principal = tokens.verify(session, secret)
        return principal is not None and principal.is_operator
    digest = hashlib.sha256(secret.encode("utf-8")).hexdigest()
    query = select(ApiToken.id).where(ApiToken.token_hash == digest, ApiToken.scope == "operator", ApiToken.revoked_at.is_(None))
    return session.scalar(query) is not None


OperatorCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(operator_bearer)]


def has_ops_access(request: Request, runtime: RuntimeDep, session: SessionDep, credentials: OperatorCredentials) -> bool:
    """Is this request from an allowed network or does it carry an operator token?"""
    if client_allowed(request.client.host if request.client else None, runtime.settings.ops_allow_networks):
        return True
    if credentials is None:
        return False
    try:
        return is_operator_token(session, credentials.credentials)
    except SQLAlchemyError:  # tokens cannot be checked without the database; /readyz must still answer 503, not 500
        session.rollback()
        return False


def require_ops_access(allowed: Annotated[bool, Depends(has_ops_access)]) -> None:
    if not allowed:
        raise HTTPException(403, "Zugriff nur aus freigegebenen Netzen oder mit einem Betreiber-Token (Authorization: Bearer …)")


OpsAccess = Depends(require_ops_access)
OperatorView = Annotated[bool, Depends(has_ops_access)]
