"""Request body limits per route (syndicate/web/bodylimit.py): 413 with a German problem+json, decided
from the declared length or while the body streams in, before parsing and before the token check.

The ASGI-level tests call the real app with a ``receive`` that hands out the body chunk by chunk
and counts what was taken; the process test sends 200 MB to a real uvicorn on loopback."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

from syndicate.web.app import create_app
from syndicate.web.bodylimit import DEFAULT, limit_for
from tests.conftest import ROOT, cli_env
from tests.support import processes
from tests.support.api_fixtures import add_source, make_city

MIB = 1024 * 1024
API_LIMIT = limit_for("/api/v1/cities/muenchen/sources")
WEBSUB_LIMIT = limit_for("/websub")


def call(app, method: str, path: str, chunks, headers: list[tuple[bytes, bytes]] = ()) -> tuple[int, dict, bytes, int]:
    """Run one request through ``app``: (status, headers, body, number of body chunks the app took)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:8000"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    pending, taken, sent = list(chunks), 0, []

    async def receive():
        nonlocal taken
        if not pending:
            await asyncio.sleep(3600)  # a client that sent everything waits for the answer
        taken += 1
        chunk = pending.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(message):
        sent.append(message)

    asyncio.run(asyncio.wait_for(app(scope, receive, send), 30))
    start = next(m for m in sent if m["type"] == "http.response.start")
    headers_ = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], headers_, body, taken


def assert_too_large(status: int, headers: dict, body: bytes, limit: int) -> None:
    assert status == 413, body[:500]
    assert headers["content-type"] == "application/problem+json" and headers["connection"] == "close"
    problem = json.loads(body)
    assert problem["reason"] == "body_too_large" and problem["status"] == 413 and problem["limit"] == limit
    assert "zu groß" in problem["message"] and f"{limit} Bytes" in problem["message"]


def test_the_table_gives_each_route_its_limit():
    assert WEBSUB_LIMIT == 16 * 1024 and API_LIMIT == MIB
    assert limit_for("/api/v1/cities/muenchen/opml") > MIB  # room for the OPML document limit and its own answer
    assert limit_for("/feeds/all.rss") == limit_for("/ops") == DEFAULT and DEFAULT <= 64 * 1024
    assert limit_for("/websub/x") == DEFAULT  # patterns are anchored


@pytest.mark.parametrize("path", ["/api/v1/cities/muenchen/sources", "/websub", "/api/v1/cities/muenchen/opml", "/feeds/all.rss"])
def test_a_declared_length_over_the_limit_is_answered_without_reading_the_body(settings, runtime, path):
    limit = limit_for(path)
    headers = [(b"content-length", str(limit + 1).encode()), (b"content-type", b"application/json")]
    status, answer_headers, body, taken = call(create_app(settings), "POST", path, [b"x" * (limit + 1)], headers)
    assert_too_large(status, answer_headers, body, limit)
    assert taken == 0


@pytest.mark.parametrize("path", ["/api/v1/cities/muenchen/sources", "/websub"])
def test_a_chunked_body_over_the_limit_is_cut_off_while_streaming_before_the_token_check(settings, runtime, path):
    """No token is sent: the answer is 413, not 401, after the chunk that passed the limit and no later one."""
    limit, chunk = limit_for(path), 64 * 1024
    chunks = [b" " * chunk] * (limit // chunk + 50)  # whitespace: valid JSON padding, were it ever parsed
    status, headers, body, taken = call(create_app(settings), "POST", path, chunks, [(b"content-type", b"application/json")])
    assert_too_large(status, headers, body, limit)
    assert taken == limit // chunk + 1


def test_a_body_at_the_limit_works_and_one_byte_more_does_not(api, session):
    source = add_source(session, make_city(session, "muenchen"), "http://127.0.0.1:9/pm.xml", title="Alt")
    document = json.dumps({"title": "Neu"}).encode()
    exact = document + b" " * (API_LIMIT - len(document))
    answer = api.call("PATCH", f"/api/v1/sources/{source.id}", "muenchen", content=exact, headers={"Content-Type": "application/json"})
    assert answer.status_code == 200 and answer.json()["title"] == "Neu", answer.text
    over = api.call("PATCH", f"/api/v1/sources/{source.id}", "muenchen", content=exact + b" ", headers={"Content-Type": "application/json"})
    assert over.status_code == 413 and over.json()["reason"] == "body_too_large"


def test_websub_under_its_limit_reaches_the_hub_and_over_it_gets_problem_json(api):
    small = api.client.post("/websub", content=b"hub.mode=subscribe&hub.topic=x&hub.callback=" + b"a" * 100)
    assert small.status_code == 400 and small.json()["detail"]["reason"] != "body_too_large"  # the hub itself answered
    big = api.client.post("/websub", content=b"hub.mode=subscribe&hub.callback=" + b"a" * WEBSUB_LIMIT)
    assert big.status_code == 413 and big.headers["content-type"] == "application/problem+json"


# ---------------------------------------------------------------- a real uvicorn process


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


class RawRequest:
    """One HTTP/1.1 request on a raw socket; a thread reads the answer while the body is still being sent."""

    def __init__(self, port: int, head: bytes):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.answer = bytearray()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.sock.sendall(head)

    def _read(self) -> None:
        try:
            while data := self.sock.recv(65536):
                self.answer += data
        except OSError:
            pass

    def send_chunked(self, total: int, chunk: int = 256 * 1024) -> int:
        """Send ``total`` bytes as chunks until the server closes; return how many were sent."""
        sent, piece = 0, b"%x\r\n" % chunk + b" " * chunk + b"\r\n"
        try:
            while sent < total:
                self.sock.sendall(piece)
                sent += chunk
            self.sock.sendall(b"0\r\n\r\n")
        except OSError:  # the server answered and closed the connection
            pass
        return sent

    def status(self, timeout: float = 30) -> tuple[int, bytes]:
        self.reader.join(timeout)
        self.sock.close()
        assert self.answer, f"no answer within {timeout} s"
        head, _, body = bytes(self.answer).partition(b"\r\n\r\n")
        return int(head.split(b" ", 2)[1]), body


@pytest.mark.slow  # starts child processes
def test_a_real_api_process_stays_small_under_a_200_mb_body_without_a_token(settings, runtime, tmp_path):
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "syndicate.web.app:create_app", "--factory", "--host", "127.0.0.1", "--port", str(port)]
    server = processes.start(command, cli_env(settings), tmp_path / "api.log", ROOT)
    try:
        up = processes.wait_for(lambda: listening(port), timeout=30, interval=0.2)
        assert up, (tmp_path / "api.log").read_text(errors="replace")
        before = peak_rss_mib(server.pid)
        path = b"/api/v1/cities/muenchen/sources"

        head = b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" % path
        chunked = RawRequest(port, head)
        sent = chunked.send_chunked(200 * MIB)
        status, body = chunked.status()
        peak = peak_rss_mib(server.pid)
        print(f"API peak RSS: {before:.0f} MiB at start, {peak:.0f} MiB after {sent / MIB:.0f} MiB sent")
        assert peak < 300, f"peak RSS {peak:.0f} MiB"
        assert status in (413, 401), body[:300]

        declared = RawRequest(port, b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" % path)
        declared.sock.sendall(b"Content-Length: %d\r\n\r\n" % (200 * MIB))  # and not one byte of the body
        started = time.monotonic()
        status, body = declared.status(timeout=10)
        assert status == 413 and json.loads(body)["reason"] == "body_too_large"
        assert time.monotonic() - started < 5
    finally:
        processes.stop(server)
