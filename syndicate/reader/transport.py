"""The connection layer under httpx: address policy at connect time, and a total deadline.

Every socket operation of a fetch (DNS lookup, connect, TLS handshake, each read and
write) gets ``min(its own timeout, time left until the deadline)``. A server that drips
one byte per second — in its headers or its body — never trips the read timeout, but it
cannot outlast the deadline: the read that would cross it times out instead.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache

import httpcore
import httpx

from syndicate.reader.netguard import AddressPolicy, GuardedBackend

ACCEPT = (
    "application/atom+xml, application/rss+xml, application/feed+json, application/json;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, text/html;q=0.5, */*;q=0.1"
)
ACCEPT_ENCODING = "gzip, deflate, br"

_deadline: ContextVar[float | None] = ContextVar("syndicate_fetch_deadline", default=None)


@contextmanager
def deadline(seconds: float | None) -> Iterator[float | None]:
    """Bound every socket operation inside the block to end ``seconds`` from now (monotonic)."""
    if seconds is None:
        yield None
        return
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield _deadline.get()
    finally:
        _deadline.reset(token)


def _bounded(timeout: float | None, expired: type[Exception]) -> float | None:
    end = _deadline.get()
    if end is None:
        return timeout
    left = end - time.monotonic()
    if left <= 0:
        raise expired("the total deadline of the fetch has passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream):
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, _bounded(timeout, httpcore.ConnectTimeout)))

    def get_extra_info(self, info: str):
        return self._stream.get_extra_info(info)


class _Backend(GuardedBackend):
    """Address policy (netguard) plus the deadline on every operation of the connection."""

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        timeout = _bounded(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(super().connect_tcp(host, port, timeout, local_address, socket_options))


@cache
def _tls_context() -> ssl.SSLContext:
    """The one TLS context of this process, shared by every client it builds.

    Building a context parses the whole certificate bundle, and a worker builds a client per
    runtime: sharing one context pays for that once. A context is safe to use from many threads
    and connections at once; it is the same as httpx's default (certifi's bundle, or
    ``SSL_CERT_FILE``/``SSL_CERT_DIR`` when set).
    """
    return httpx.create_ssl_context()


def make_client(policy: AddressPolicy, *, timeout: float, user_agent: str, connect_timeout: float | None = None) -> httpx.Client:
    """An httpx client whose every connection is checked by ``policy`` and bounded by ``deadline``.

    Connections are not kept alive, and the request says so (``Connection: close``), so that the
    server closes its side as soon as it has answered: a feed host is polled minutes apart, and
    an idle connection would count against the host's concurrency budget on the server's side.
    """
    transport = httpx.HTTPTransport(verify=_tls_context(), retries=0, limits=httpx.Limits(max_keepalive_connections=0))
    transport._pool._network_backend = _Backend(policy)  # httpx exposes no public hook for this
    return httpx.Client(
        transport=transport,
        timeout=httpx.Timeout(timeout, connect=connect_timeout if connect_timeout is not None else min(timeout, 10.0)),
        headers={"User-Agent": user_agent, "Accept": ACCEPT, "Accept-Encoding": ACCEPT_ENCODING, "Connection": "close"},
        follow_redirects=False,
        trust_env=False,
    )
