"""Request limits shared by every API process (syndicate.access.limits): counted in the database."""

from __future__ import annotations

import socket
import sys

import httpx
import pytest
from sqlalchemy import func, select

from syndicate.access import tokens
from syndicate.access.limits import SharedRateLimiter
from syndicate.models import RateWindow
from tests.conftest import ROOT, cli_env
from tests.support import processes


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_minute_allows_the_limit_then_answers_how_long_to_wait(runtime):
    clock = Clock(6_000_000 * 60 + 10.0)  # ten seconds into a minute
    limiter = SharedRateLimiter(runtime.engine, "t", 3, clock=clock)
    assert [limiter.hit("token-1") for _ in range(3)] == [None, None, None]
    assert limiter.hit("token-1") == pytest.approx(50.0)  # the rest of this minute
    assert limiter.hit("token-2") is None  # each key has its own budget
    clock.now += 55.0  # 5 s into the next minute: the previous minute (4 counted) still weighs 11/12
    assert limiter.hit("token-1") == pytest.approx(60 * (1 - 2 / 4) - 5)  # until half of it has slid out
    clock.now += 60.0
    assert limiter.hit("token-1") is None


def test_a_limit_of_zero_counts_nothing(runtime):
    limiter = SharedRateLimiter(runtime.engine, "t", 0)
    assert all(limiter.hit("k") is None for _ in range(5))
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(RateWindow)) == 0


def test_old_windows_are_pruned(runtime, monkeypatch):
    clock = Clock(6_000_000 * 60.0)
    limiter = SharedRateLimiter(runtime.engine, "t", 10, clock=clock)
    for minute in range(5):
        clock.now = 6_000_000 * 60.0 + minute * 60
        limiter.hit("k")
    monkeypatch.setattr("syndicate.access.limits.random.randrange", lambda _n: 0)
    limiter.hit("k")
    with runtime.sessions() as session:
        assert sorted(session.scalars(select(RateWindow.window))) == [6_000_003, 6_000_004]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow  # starts child processes
def test_the_token_limit_holds_across_two_api_processes(settings, runtime, session, tmp_path):
    """Two uvicorn processes on loopback, one database: a token's fifth request is refused whichever
    process answers it (each process alone has seen at most three)."""
    secret = tokens.create(session)[1]
    env = {**cli_env(settings), "SYNDICATE_API_RATE_LIMIT": "5"}
    ports = [free_port(), free_port()]
    apis = [
        processes.start(
            [sys.executable, "-m", "uvicorn", "syndicate.web.app:create_app", "--factory", "--host", "127.0.0.1", "--port", str(port)],
            env,
            tmp_path / f"api-{port}.log",
            ROOT,
        )
        for port in ports
    ]
    try:
        for port in ports:
            processes.wait_for(lambda p=port: _up(p), timeout=60)
        headers = {"Authorization": f"Bearer {secret}"}
        answers = [httpx.get(f"http://127.0.0.1:{ports[n % 2]}/api/v1/audit", headers=headers).status_code for n in range(7)]
    finally:
        for api in apis:
            processes.stop(api)
    assert answers[:5] == [200] * 5
    assert answers[5:] == [429, 429]


def _up(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False
