"""Request body limits per route, enforced while the body streams in (pure ASGI middleware).

FastAPI reads a JSON body whole before it resolves any dependency, so without a limit here an
anonymous client could make the API hold any amount of memory before the token check answers
401, and a route's own size check comes only after the body was read. This middleware sits in
front of everything: a declared ``Content-Length`` over the route's limit is answered at once,
without reading a byte of the body; a body without a length (chunked) is counted chunk by chunk
and answered the moment it passes the limit. Either way the answer is 413 with a German
``application/problem+json`` body and ``Connection: close``, so the client stops sending.

The limits are a small table: the first pattern that matches the path wins, else ``DEFAULT``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from syndicate.sources import opml
from syndicate.web.problems import problem

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]

KIB, MIB = 1024, 1024 * 1024
# The OPML upload limit leaves room above the document limit, so that a document just over it gets
# the route's own, more specific answer (invalid_opml) instead of a bare 413.
Limits = tuple[tuple[re.Pattern[str], int], ...]
LIMITS: Limits = (
    (re.compile(r"^/websub$"), 16 * KIB),  # form-encoded hub.* parameters
    (re.compile(r"^/api/v1/cities/[^/]+/opml$"), 2 * opml.MAX_BYTES),
    (re.compile(r"^/api/v1/"), 1 * MIB),  # JSON bodies of the API
    (re.compile(r"^/verwaltung/opml$"), 4 * opml.MAX_BYTES),  # an OPML document pasted into a form: urlencoded, up to three times longer
)
DEFAULT = 64 * KIB  # pages, feeds and /ops take no bodies; a small allowance keeps odd clients working


class BodyTooLarge(Exception):
    """Raised from ``receive`` when the streamed body passes its limit; the middleware answers 413."""


def limit_for(path: str, limits: Limits = LIMITS, default: int = DEFAULT) -> int:
    return next((size for pattern, size in limits if pattern.match(path)), default)


def too_large(limit: int):
    message = f"Die Anfrage ist zu groß: höchstens {limit} Bytes sind hier erlaubt."
    return problem(413, "body_too_large", message, {"Connection": "close"}, limit=limit)


def declared_length(scope: MutableMapping[str, Any]) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server rejects a malformed length before it reaches the app
    return None


class BodyLimit:
    """ASGI middleware: 413 for a body over its route's limit, before anything parses or authenticates it."""

    def __init__(self, app: ASGIApp, limits: Limits = LIMITS, default: int = DEFAULT):
        self.app, self.limits, self.default = app, limits, default

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = limit_for(scope["path"], self.limits, self.default)
        length = declared_length(scope)
        if length is not None and length > limit:
            await too_large(limit)(scope, receive, send)
            return
        received, tripped, started = 0, False, False

        async def counting_receive() -> Message:
            nonlocal received, tripped
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    tripped = True
                    raise BodyTooLarge(limit)
            return message

        async def guarded_send(message: Message) -> None:
            # Once the limit tripped, the 413 is ours to send: the app's own answer to the failed read
            # (FastAPI turns any error while reading a body into a 400) must not reach the client.
            nonlocal started
            if tripped and not started:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except BodyTooLarge:
            if started:
                raise
        if tripped and not started:
            await too_large(limit)(scope, receive, send)
