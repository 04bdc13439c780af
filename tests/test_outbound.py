"""Every outbound request goes through the one fetcher (reader.fetch + transport + netguard).

The class of bug: a module that calls the HTTP client itself skips the address policy's
companions (size caps, the total deadline), as WebSub verification and delivery once did.
An AST walk over syndicate/ and workers/ finds any such call; ``send`` is then tested against
hostile loopback servers: an endless answer, an answer that drips, a POST that is answered slowly.
"""

from __future__ import annotations

import ast
import socket
import threading
import time

import pytest

from syndicate.reader import errors
from syndicate.reader import fetch as fetching
from syndicate.reader.fetch import FetchLimits, make_client
from syndicate.reader.netguard import AddressPolicy
from tests.conftest import ROOT

FETCHER = {"syndicate/reader/fetch.py", "syndicate/reader/transport.py", "syndicate/reader/netguard.py"}
REQUEST_METHODS = {"get", "post", "put", "patch", "delete", "head", "options", "request", "stream", "send", "build_request"}
HTTP_LIBRARIES = {"requests", "urllib.request", "http.client", "aiohttp", "urllib3", "httpcore", "pycurl", "httplib2"}


def _leaf(node: ast.AST) -> str | None:
    """The last identifier of ``a``, ``a.b.c``, ``a().b``: what the object is called."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _annotated_clients(tree: ast.AST) -> set[str]:
    """Names declared as an httpx client anywhere in the module (parameters and annotated assignments)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.arg) and node.annotation is not None and "httpx" in ast.unparse(node.annotation):
            names.add(node.arg)
        if isinstance(node, ast.AnnAssign) and "httpx" in ast.unparse(node.annotation):
            names.add(_leaf(node.target) or "")
    return names


def direct_requests(source: str) -> list[str]:
    """Calls and imports in ``source`` that would make an HTTP request without the fetcher."""
    tree = ast.parse(source)
    clients = _annotated_clients(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            found += [
                f"line {node.lineno}: import {m}" for m in modules if any(m == lib or m.startswith(lib + ".") for lib in HTTP_LIBRARIES)
            ]
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        owner, name = node.func.value, _leaf(node.func.value) or ""
        on_httpx = isinstance(owner, ast.Name) and owner.id == "httpx"  # httpx.get(…), httpx.Client(…), httpx.stream(…)
        on_client = node.func.attr in REQUEST_METHODS and (name in clients or "client" in name.lower())
        if on_httpx or on_client:
            found.append(f"line {node.lineno}: {ast.unparse(node.func)}(…)")
    return found


def test_the_checker_finds_direct_requests():
    """The walk below can fail: each way of calling the client directly is found, the fetcher's own calls are not."""
    for snippet in [
        "client.get(url)",
        "rt.client.post(url, content=b'')",
        "def f(http: httpx.Client):\n    http.stream('GET', url)",
        "httpx.get(url)",
        "with httpx.Client() as c: pass",
        "import requests",
        "from urllib.request import urlopen",
    ]:
        assert direct_requests(snippet), snippet
    for snippet in ["fetching.send(client, url, method='POST')", "fetch(rt.client, url)", "settings.get('x')", "form.get('hub.mode')"]:
        assert direct_requests(snippet) == [], snippet


def test_no_module_outside_the_fetcher_calls_the_http_client():
    offenders = {}
    for path in sorted([*(ROOT / "syndicate").rglob("*.py"), *(ROOT / "workers").rglob("*.py")]):
        relative = path.relative_to(ROOT).as_posix()
        if relative in FETCHER or "/migrations/" in relative:
            continue
        if found := direct_requests(path.read_text(encoding="utf-8")):
            offenders[relative] = found
    assert offenders == {}, f"outbound requests outside syndicate/reader/fetch.py: {offenders}"


# ---------------------------------------------------------------- send(): one request under the fetcher's limits


class Hostile:
    """A raw HTTP server on 127.0.0.1: answers every request (any method) with ``answer(conn)``."""

    def __init__(self, answer):
        self.answer, self.stopping = answer, threading.Event()
        self.requests: list[bytes] = []
        self.arrivals: dict[str, float] = {}  # request target → monotonic time it first arrived
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:  # closed
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn):
        with conn:
            conn.settimeout(5)
            try:
                request = conn.recv(65536)
                self.requests.append(request)
                target = request.split(b" ", 2)[1].decode("latin-1") if request.count(b" ") >= 2 else ""
                self.arrivals.setdefault(target, time.monotonic())
                self.answer(self, conn)
            except OSError:
                pass

    def close(self):
        self.stopping.set()
        self.sock.close()


def endless(server, conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n")
    chunk = b"x" * 65536
    while not server.stopping.is_set():
        conn.sendall(chunk)


def drip(server, conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n")
    while not server.stopping.wait(0.2):
        conn.sendall(b"x")


@pytest.fixture
def client():
    c = make_client(AddressPolicy(["127.0.0.1/32"]), timeout=5.0, user_agent="test")
    yield c
    c.close()


@pytest.mark.parametrize("answer, error", [(endless, errors.TooLarge), (drip, errors.FetchTimeout)])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_send_is_bounded_in_size_and_time(client, answer, error, method):
    server = Hostile(answer)
    try:
        started = time.monotonic()
        with pytest.raises(error):
            fetching.send(client, server.url, method=method, content=b"<feed/>", limits=FetchLimits(max_bytes=4096, deadline=1.5))
        assert time.monotonic() - started < 1.5 + 0.5
    finally:
        server.close()


def test_send_without_reading_the_body_returns_at_the_headers(client):
    """A delivery needs only the status: an endless answer body is never read."""
    server = Hostile(endless)
    try:
        answer = fetching.send(client, server.url, method="POST", content=b"<feed/>", limits=FetchLimits(deadline=2, read_body=False))
        assert answer.status == 200 and answer.content == b""  # an endless body read would end in the deadline
        assert server.requests[0].startswith(b"POST /hook ")
    finally:
        server.close()


def test_send_does_not_follow_redirects_and_keeps_the_address_policy(client):
    redirect = Hostile(lambda s, c: c.sendall(b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.2/\r\nContent-Length: 0\r\n\r\n"))
    try:
        assert fetching.send(client, redirect.url).status == 302
        with pytest.raises(errors.BlockedAddress):
            fetching.send(client, redirect.url.replace("127.0.0.1", "127.0.0.2"))
    finally:
        redirect.close()


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/a\x00b", "http://127.0.0.1:99999/", "http://[::1/", "ftp://127.0.0.1/", "http:///x"])
def test_send_refuses_malformed_urls_with_the_readers_error(client, url):
    with pytest.raises(errors.InvalidURL):
        fetching.send(client, url)
