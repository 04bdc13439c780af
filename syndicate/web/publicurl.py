"""Is the API reached the way SYNDICATE_PUBLIC_URL says? Feeds and links name themselves with it; a
mismatch (the default ``http://127.0.0.1:8000`` while readers come through ``https://feeds.example.org``,
or an API process on another port) gives feeds that point elsewhere.

Each request's scheme (``X-Forwarded-Proto`` behind nginx with ``--proxy-headers``) and Host header are
compared with the setting's scheme, host and port. The first mismatch is logged once per process and
shown on /ops. The operator's own paths (/ops, /metrics, the health checks) are left out: Prometheus and
an operator may well reach one API process directly on its loopback port.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger("syndicate.web")
OPERATOR_PATHS = ("/ops", "/metrics", "/readyz", "/healthz", "/static/")
DEFAULT_PORTS = {"http": 80, "https": 443}
REMEMBERED = 64  # distinct origins looked at per process (a client may send any Host header)


def origin(scheme: str, host: str) -> tuple[str, str, int | None]:
    """("https", "Feeds.Example.org:443") → ("https", "feeds.example.org", 443)."""
    parsed = urlsplit(f"{scheme}://{host}")
    try:
        port = parsed.port
    except ValueError:
        port = None
    return scheme, (parsed.hostname or "").lower(), port or DEFAULT_PORTS.get(scheme)


class PublicUrlCheck:
    def __init__(self, public_url: str):
        parsed = urlsplit(public_url)
        self.public_url = public_url
        self.expected = origin(parsed.scheme, parsed.netloc)
        self.mismatch: str | None = None  # the first origin seen that is not the public one, e.g. "http://127.0.0.1:8201"
        self._seen: set[tuple[str, str]] = set()

    def observe(self, scheme: str, host: str) -> None:
        if (scheme, host) in self._seen or len(self._seen) >= REMEMBERED:
            return
        self._seen.add((scheme, host))
        if self.mismatch is None and origin(scheme, host) != self.expected:
            self.mismatch = f"{scheme}://{host}"
            log.warning(
                "SYNDICATE_PUBLIC_URL=%s does not match how this API is reached: %s (scheme and Host header of a request); "
                "feeds and links name themselves with SYNDICATE_PUBLIC_URL: set it to the address readers use",
                self.public_url,
                self.mismatch,
                extra={"event": "public_url_mismatch", "public_url": self.public_url, "reached_as": self.mismatch},
            )


class CheckPublicUrl:
    """ASGI middleware: hands every reader's request to ``PublicUrlCheck.observe``, changes nothing."""

    def __init__(self, app: ASGIApp, check: PublicUrlCheck):
        self.app, self.check = app, check

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith(OPERATOR_PATHS):
            host = next((value.decode("latin-1") for name, value in scope["headers"] if name == b"host"), "")
            if host:
                self.check.observe(scope.get("scheme", "http"), host)
        await self.app(scope, receive, send)
