"""A misbehaving-server suite on loopback: one case per behaviour, each through refresh_source.

Every case ends with the right status and reason on the outcome and on the source row, and
every poll ends within 1.5 × the configured total deadline (``DEADLINE``). The read timeout is
set far above the deadline, so the slow cases show that the deadline — not a read timeout —
stops them. Only 127.0.0.1 is allowed; the blocked-redirect case targets a server on 127.0.0.2.
"""

from __future__ import annotations

import socket
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import brotli
import pytest
from sqlalchemy import func, select

from syndicate.clock import utcnow
from syndicate.ingest.refresh import RefreshOutcome, refresh_source
from syndicate.models import Article, FetchLog, Source
from syndicate.ops import status as ops_status
from tests.conftest import FeedServer, make_source

DEADLINE = 2.0
MIB = 1024 * 1024
FEED = (Path(__file__).parent / "fixtures" / "refresh" / "rathaus_v1.xml").read_bytes()
RSS_TYPE = {"Content-Type": "application/rss+xml; charset=utf-8"}


@pytest.fixture(scope="module")
def servers():
    pair = {"main": FeedServer(), "blocked": FeedServer(host="127.0.0.2")}
    yield pair
    for server in pair.values():
        server.close()


@pytest.fixture
def settings(settings):
    """conftest's settings (allow only 127.0.0.1/32) with a small total deadline and a long read timeout."""
    return settings.model_copy(
        update={
            "fetch_deadline": DEADLINE,
            "connect_timeout": 1.0,
            "fetch_timeout": 10 * DEADLINE,
            "max_body_bytes": 10 * MIB,
            "max_decoded_bytes": 20 * MIB,
        }
    )


@dataclass
class Poller:
    runtime: object
    session: object
    main: FeedServer
    blocked: FeedServer
    source_id: int | None = None
    elapsed: list[float] | None = None

    def source(self, path: str) -> Source:
        self.source_id = make_source(self.session, self.main.url(path)).id
        return self.row()

    def poll(self, now: datetime | None = None) -> RefreshOutcome:
        started = time.monotonic()
        outcome = refresh_source(self.session, self.runtime.client, self.source_id, self.runtime.refresh_config, now=now)
        self.elapsed.append(time.monotonic() - started)
        self.session.expire_all()
        return outcome

    def row(self) -> Source:
        return self.session.get(Source, self.source_id)


@pytest.fixture
def poller(runtime, session, servers):
    for server in servers.values():
        server.routes.clear()
    return Poller(runtime, session, servers["main"], servers["blocked"], elapsed=[])


def _gzip_bomb(size: int) -> bytes:
    packer, zeros = zlib.compressobj(9, zlib.DEFLATED, 31), bytes(MIB)
    return b"".join(packer.compress(zeros) for _ in range(size // MIB)) + packer.flush()


def _assert_failed(p: Poller, outcome: RefreshOutcome) -> None:
    row = p.row()
    assert row.error_count == 1 and row.last_error_reason == outcome.reason
    assert row.enabled and row.next_check_at > utcnow()  # never disabled, tried again later
    assert row.body_hash is None


# ---------------------------------------------------------------- the behaviours


def slow_drip(p: Poller) -> RefreshOutcome:
    p.main.add("/drip.xml", FEED, headers=RSS_TYPE, drip=0.05)  # one byte every 50 ms: ~90 s for the feed
    p.source("/drip.xml")
    outcome = p.poll()
    assert p.elapsed[-1] >= 0.9 * DEADLINE  # it was the deadline, not an early read timeout
    _assert_failed(p, outcome)
    return outcome


def slow_drip_headers(p: Poller) -> RefreshOutcome:
    p.main.add("/drip.xml", FEED, headers=RSS_TYPE, drip=0.05, drip_headers=True)
    p.source("/drip.xml")
    outcome = p.poll()
    assert p.elapsed[-1] >= 0.9 * DEADLINE and outcome.http_status is None
    return outcome


def no_response(p: Poller) -> RefreshOutcome:
    p.main.add("/silent.xml", FEED, delay=60)  # accepts, reads the request, never answers
    p.source("/silent.xml")
    outcome = p.poll()
    assert p.elapsed[-1] >= 0.9 * DEADLINE
    _assert_failed(p, outcome)
    return outcome


def connection_refused(p: Poller) -> RefreshOutcome:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    p.source_id = make_source(p.session, f"http://127.0.0.1:{port}/feed.xml").id
    return p.poll()


def body_50_mib(p: Poller) -> RefreshOutcome:
    route = p.main.add("/huge.xml", chunks=[b"x" * MIB] * 50, headers=RSS_TYPE)  # no Content-Length
    p.source("/huge.xml")
    outcome = p.poll()
    assert route.hits == 1 and "10485760" in outcome.message
    _assert_failed(p, outcome)
    return outcome


def body_50_mib_declared(p: Poller) -> RefreshOutcome:
    p.main.add("/huge.xml", b"x" * (50 * MIB), headers=RSS_TYPE)
    p.source("/huge.xml")
    outcome = p.poll()
    assert "Content-Length 52428800" in outcome.message
    return outcome


def gzip_bomb(p: Poller) -> RefreshOutcome:
    bomb = _gzip_bomb(50 * MIB)
    assert len(bomb) < 100_000
    p.main.add("/bomb.xml", bomb, headers={**RSS_TYPE, "Content-Encoding": "gzip"})
    p.source("/bomb.xml")
    outcome = p.poll()
    _assert_failed(p, outcome)
    return outcome


def brotli_bomb(p: Poller) -> RefreshOutcome:
    p.main.add("/bomb.xml", brotli.compress(bytes(50 * MIB), quality=5), headers={**RSS_TYPE, "Content-Encoding": "br"})
    p.source("/bomb.xml")
    return p.poll()


def redirect_loop(p: Poller) -> RefreshOutcome:
    a = p.main.add("/a.xml", status=302, headers={"Location": "/b.xml"})
    b = p.main.add("/b.xml", status=301, headers={"Location": p.main.url("/a.xml")})
    p.source("/a.xml")
    outcome = p.poll()
    assert (a.hits, b.hits) == (1, 1)  # seen at once, without running through all five hops
    _assert_failed(p, outcome)
    return outcome


def too_many_redirects(p: Poller) -> RefreshOutcome:
    hops = [p.main.add(f"/r{i}.xml", status=302, headers={"Location": f"/r{i + 1}.xml"}) for i in range(8)]
    p.source("/r0.xml")
    outcome = p.poll()
    assert sum(h.hits for h in hops) == 6  # the first request and five redirects, no more
    return outcome


def redirect_to_blocked_address(p: Poller) -> RefreshOutcome:
    target = p.blocked.add("/intern.xml", FEED, headers=RSS_TYPE)
    p.main.add("/go.xml", status=302, headers={"Location": p.blocked.url("/intern.xml")})
    p.source("/go.xml")
    outcome = p.poll()
    assert target.hits == 0 and "127.0.0.2 (loopback)" in outcome.message
    _assert_failed(p, outcome)
    return outcome


def _deferred(p: Poller, outcome: RefreshOutcome, wait: int, now: datetime) -> None:
    row = p.row()
    assert row.error_count == 0 and row.last_error_reason is None  # a deferral is no failure
    assert abs((row.next_check_at - (now + timedelta(seconds=wait))).total_seconds()) <= 2
    assert ops_status.source_state(row, utcnow(), 3600) not in ops_status.PROBLEM_STATES


def retry_after_seconds(p: Poller) -> RefreshOutcome:
    p.main.add("/busy.xml", b"Zu viele Anfragen", status=429, headers={"Retry-After": "600"})
    p.source("/busy.xml")
    now = utcnow()
    outcome = p.poll(now)
    _deferred(p, outcome, 600, now)
    return outcome


def retry_after_date(p: Poller) -> RefreshOutcome:
    now = utcnow()
    when = format_datetime(now + timedelta(seconds=900), usegmt=True)
    p.main.add("/busy.xml", b"Zu viele Anfragen", status=429, headers={"Retry-After": when})
    p.source("/busy.xml")
    outcome = p.poll(now)
    _deferred(p, outcome, 900, now)
    return outcome


def unavailable_with_retry_after(p: Poller) -> RefreshOutcome:
    p.main.add("/wartung.xml", b"Wartungsarbeiten", status=503, headers={"Retry-After": "1800"})
    p.source("/wartung.xml")
    now = utcnow()
    outcome = p.poll(now)
    _deferred(p, outcome, 1800, now)
    return outcome


def unavailable(p: Poller) -> RefreshOutcome:
    p.main.add("/kaputt.xml", b"Service Unavailable", status=503)
    p.source("/kaputt.xml")
    now = utcnow()
    outcome = p.poll(now)
    row = p.row()
    _assert_failed(p, outcome)
    assert now + timedelta(seconds=50) <= row.next_check_at <= now + timedelta(seconds=70)  # backoff from 60 s
    return outcome


def gone(p: Poller) -> RefreshOutcome:
    p.main.add("/alt.xml", b"Gone", status=410)
    p.source("/alt.xml")
    now = utcnow()
    outcome = p.poll(now)
    row = p.row()
    assert ops_status.source_state(row, now, 3600) == "gone" and row.enabled
    assert row.next_check_at == now + timedelta(seconds=p.runtime.settings.error_backoff_cap)  # still retried, at the cap
    return outcome


def _busy_feed(posts: int, every: timedelta) -> bytes:
    """An RSS feed whose items are ``every`` apart, the newest now."""
    now = utcnow()
    items = "".join(
        f"<item><guid>n{i}</guid><title>Meldung {i}</title><link>https://www.example.org/{i}</link>"
        f"<pubDate>{format_datetime(now - i * every, usegmt=True)}</pubDate></item>"
        for i in range(posts)
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Presse</title>{items}</channel></rss>'.encode()


def not_modified_round_trip(p: Poller) -> RefreshOutcome:
    body = _busy_feed(28, timedelta(hours=6))  # 28 posts a week, the newest now: a burst (docs/freshness.md)
    route = p.main.add("/feed.xml", body, headers={**RSS_TYPE, "Last-Modified": "Mon, 23 Nov 2026 08:00:00 GMT"}, etag='"v1"')
    p.source("/feed.xml")
    assert p.poll().status == "new" and p.row().current_interval == 300
    route.headers = {**RSS_TYPE, "Last-Modified": "Tue, 24 Nov 2026 08:00:00 GMT", "Cache-Control": "max-age=7200"}
    now = utcnow()
    outcome = p.poll(now)
    assert route.seen_headers[1]["if-none-match"] == '"v1"'
    assert route.seen_headers[1]["if-modified-since"] == "Mon, 23 Nov 2026 08:00:00 GMT"
    row = p.row()
    assert (row.etag, row.last_modified) == ('"v1"', "Tue, 24 Nov 2026 08:00:00 GMT")  # validators stored from the 304
    assert row.next_check_at == now + timedelta(seconds=900)  # max-age=7200 lengthens a burst's 5 min up to its cap
    assert outcome.http_status == 304 and row.error_count == 0
    return outcome


def reset_mid_body(p: Poller) -> RefreshOutcome:
    p.main.add("/reset.xml", FEED, headers=RSS_TYPE, reset_after=len(FEED) // 2)
    p.source("/reset.xml")
    outcome = p.poll()
    _assert_failed(p, outcome)
    return outcome


def wrong_content_type(p: Poller) -> RefreshOutcome:
    p.main.add("/feed.php", FEED, headers={"Content-Type": "text/html; charset=utf-8"})  # a feed all the same
    p.source("/feed.php")
    outcome = p.poll()
    assert outcome.new == 2 and p.row().error_count == 0
    return outcome


def html_with_autodiscovery(p: Poller) -> RefreshOutcome:
    page = (
        '<!DOCTYPE html><html lang="de"><head><meta charset="utf-8"><title>Stadt Landshut – Aktuelles</title>'
        '<link rel="stylesheet" href="/s.css">'
        '<link rel="alternate" type="application/rss+xml" title="Pressemitteilungen" href="/presse/rss.xml">'
        '<link rel="alternate" type="application/atom+xml" href="https://www.landshut.de/aktuelles.atom">'
        "</head><body><h1>Aktuelles</h1></body></html>"
    )
    p.main.add("/aktuelles", page, headers={"Content-Type": "text/html; charset=utf-8"})
    p.source("/aktuelles")
    outcome = p.poll()
    assert p.main.url("/presse/rss.xml") in outcome.message
    assert "https://www.landshut.de/aktuelles.atom" in outcome.message
    assert p.row().last_error_message == outcome.message
    _assert_failed(p, outcome)
    return outcome


def moved_permanently_seen_repeatedly(p: Poller) -> RefreshOutcome:
    old_url, new_url = p.main.url("/rss.php"), p.main.url("/presse/rss.xml")
    moved = p.main.add("/rss.php", status=301, headers={"Location": new_url})
    p.main.add("/presse/rss.xml", FEED, headers=RSS_TYPE)
    p.source("/rss.php")
    t0 = utcnow() - timedelta(days=2)
    assert p.poll(t0).status == "new"
    assert p.poll(t0 + timedelta(hours=12)).status == "unchanged"
    assert p.row().url == old_url  # twice in 12 hours is not yet consistent
    outcome = p.poll(t0 + timedelta(hours=25))
    row = p.row()
    assert (row.url, row.redirected_from) == (new_url, old_url)
    assert row.redirects["history"][-1]["url"] == old_url and row.redirects["pending"] is None
    assert p.poll().status == "unchanged" and moved.hits == 3  # from now on straight to the new address
    return outcome


@dataclass(frozen=True)
class Case:
    run: Callable[[Poller], RefreshOutcome]
    status: str
    reason: str | None


CASES = {
    "slow-drip": Case(slow_drip, "error", "timeout"),
    "slow-drip-headers": Case(slow_drip_headers, "error", "timeout"),
    "no-response": Case(no_response, "error", "timeout"),
    "connection-refused": Case(connection_refused, "error", "connect"),
    "50-mib-body": Case(body_50_mib, "error", "too_large"),
    "50-mib-body-declared": Case(body_50_mib_declared, "error", "too_large"),
    "gzip-bomb": Case(gzip_bomb, "error", "decompression_bomb"),
    "brotli-bomb": Case(brotli_bomb, "error", "decompression_bomb"),
    "redirect-loop": Case(redirect_loop, "error", "redirect_loop"),
    "too-many-redirects": Case(too_many_redirects, "error", "too_many_redirects"),
    "redirect-to-blocked-loopback": Case(redirect_to_blocked_address, "error", "blocked_address"),
    "429-retry-after-seconds": Case(retry_after_seconds, "deferred", "rate_limited"),
    "429-retry-after-date": Case(retry_after_date, "deferred", "rate_limited"),
    "503-retry-after": Case(unavailable_with_retry_after, "deferred", "rate_limited"),
    "503": Case(unavailable, "error", "http_5xx"),
    "410-gone": Case(gone, "error", "http_410"),
    "304-round-trip": Case(not_modified_round_trip, "not_modified", None),
    "reset-mid-body": Case(reset_mid_body, "error", "connect"),
    "wrong-content-type": Case(wrong_content_type, "new", None),
    "html-with-autodiscovery": Case(html_with_autodiscovery, "error", "not_a_feed"),
    "301-seen-repeatedly": Case(moved_permanently_seen_repeatedly, "unchanged", None),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_misbehaving_server(poller, case):
    outcome = case.run(poller)

    assert (outcome.status, outcome.reason) == (case.status, case.reason), outcome
    assert max(poller.elapsed) <= 1.5 * DEADLINE, poller.elapsed
    logged = poller.session.scalars(
        select(FetchLog).where(FetchLog.source_id == poller.source_id).order_by(FetchLog.id.desc()).limit(1)
    ).one()
    assert (logged.status, logged.reason) == (case.status, case.reason)  # the per-attempt log says the same
    if case.status in ("error", "deferred"):
        count = poller.session.scalar(select(func.count()).select_from(Article).where(Article.source_id == poller.source_id))
        assert count == 0
