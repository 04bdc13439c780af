"""fetch(): conditional GET, redirects, limits, timeouts and error mapping against a real loopback server."""

from __future__ import annotations

import gzip
from datetime import datetime, timezone

import pytest

from syndicate.reader import errors
from syndicate.reader.fetch import FetchResult, fetch, make_client, parse_max_age, parse_retry_after
from syndicate.reader.netguard import AddressPolicy
from syndicate.reader.parse import parse
from tests.conftest import FIXTURES, FeedServer

RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
NOW = datetime(2026, 11, 24, 12, 0, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def _shared_server():
    server = FeedServer()
    yield server
    server.close()


@pytest.fixture
def feed_server(_shared_server):
    """conftest's loopback server, shared by this module (closing one costs 0.5 s); routes reset per test."""
    _shared_server.routes.clear()
    return _shared_server


@pytest.fixture
def client():
    with make_client(AddressPolicy(["127.0.0.1/32"]), timeout=5, user_agent="t") as c:
        yield c


def get(client, url, *, max_bytes=1_000_000, max_redirects=5, **kw):
    return fetch(client, url, max_bytes=max_bytes, max_redirects=max_redirects, **kw)


# ---------------------------------------------------------------- pure header parsing


@pytest.mark.parametrize(
    "value, expected",
    [
        (None, None),
        ("", None),
        ("120", 120),
        ("  30 ", 30),
        ("0", 0),
        ("Tue, 24 Nov 2026 12:02:00 GMT", 120),
        ("Tue, 24 Nov 2026 13:00:00 +0100", 0),  # 12:00 UTC, i.e. now
        ("Tue, 24 Nov 2026 11:00:00 GMT", 0),  # in the past: no wait, not negative
        ("-5", None),
        ("1.5", None),
        ("soon", None),
    ],
    ids=["none", "empty", "seconds", "padded", "zero", "http-date", "http-date-offset", "past-date", "negative",
         "fraction", "garbage"],
)
def test_parse_retry_after(value, expected):
    assert parse_retry_after(value, now=NOW) == expected


@pytest.mark.parametrize(
    "headers, expected",
    [
        ({}, None),
        ({"cache-control": "max-age=300"}, 300),
        ({"cache-control": "public, max-age=600, must-revalidate"}, 600),
        ({"cache-control": "Max-Age=60"}, 60),
        ({"cache-control": "no-cache"}, None),
        ({"cache-control": "max-age=abc"}, None),
        ({"cache-control": "max-age=120", "expires": "Tue, 24 Nov 2026 13:00:00 GMT"}, 120),
        ({"expires": "Tue, 24 Nov 2026 12:10:00 GMT"}, 600),
        ({"expires": "Tue, 24 Nov 2026 11:00:00 GMT"}, 0),
        ({"expires": "0"}, None),
    ],
    ids=["none", "max-age", "among-directives", "case-insensitive", "no-cache", "not-a-number", "max-age-wins",
         "expires", "expires-past", "expires-invalid"],
)
def test_parse_max_age(headers, expected):
    assert parse_max_age(headers, now=NOW) == expected


@pytest.mark.parametrize(
    "status, header, expected",
    [(429, "120", 120), (503, "7", 7), (200, "120", None), (500, "120", None), (429, None, None)],
    ids=["429", "503", "200-ignored", "500-ignored", "429-no-header"],
)
def test_result_retry_after_only_for_429_and_503(status, header, expected):
    headers = {"retry-after": header} if header else {}
    assert FetchResult(url="u", final_url="u", status=status, headers=headers).retry_after == expected


@pytest.mark.parametrize(
    "status, reason",
    [(404, "http_404"), (410, "http_410"), (429, "http_429"), (403, "http_403"), (418, "http_4xx"),
     (500, "http_5xx"), (503, "http_5xx")],
    ids=str,
)
def test_http_status_reason_codes(status, reason):
    error = FetchResult(url="u", final_url="u", status=status).error()
    assert isinstance(error, errors.HTTPStatusError)
    assert error.reason == reason and error.status == status


# ---------------------------------------------------------------- real server


def test_ok_fetch(client, feed_server):
    feed_server.add("/f", RSS, headers={"Content-Type": "application/rss+xml", "Cache-Control": "max-age=900"})
    result = get(client, feed_server.url("/f"))
    assert result.ok and result.error() is None
    assert result.content == RSS
    assert result.max_age == 900
    assert result.permanent_redirect is None
    assert result.final_url == feed_server.url("/f")


def test_conditional_get_304(client, feed_server):
    route = feed_server.add("/f", RSS, etag='"v1"')
    first = get(client, feed_server.url("/f"))
    assert first.status == 200 and first.etag == '"v1"'
    second = get(client, feed_server.url("/f"), etag=first.etag, last_modified="Tue, 24 Nov 2026 10:00:00 GMT")
    assert second.status == 304
    assert second.not_modified and second.error() is None
    assert second.content == b""
    assert route.seen_headers[1]["if-none-match"] == '"v1"'
    assert route.seen_headers[1]["if-modified-since"] == "Tue, 24 Nov 2026 10:00:00 GMT"
    # a stale validator gets the full body again
    third = get(client, feed_server.url("/f"), etag='"v0"')
    assert third.status == 200 and third.content == RSS


def test_retry_after_from_server(client, feed_server):
    feed_server.add("/busy", b"slow down", status=429, headers={"Retry-After": "120"})
    result = get(client, feed_server.url("/busy"))
    assert result.status == 429
    assert result.retry_after == 120
    assert result.error().reason == "http_429"


@pytest.mark.parametrize("status, reason", [(404, "http_404"), (500, "http_5xx")], ids=["404", "500"])
def test_error_status_from_server(client, feed_server, status, reason):
    feed_server.add("/x", b"nope", status=status)
    result = get(client, feed_server.url("/x"))
    assert result.status == status and not result.ok
    error = result.error()
    assert error is not None and error.reason == reason


def test_permanent_redirect_chain(client, feed_server):
    feed_server.add("/old", status=301, headers={"Location": "/older"})
    feed_server.add("/older", status=308, headers={"Location": feed_server.url("/new")})
    feed_server.add("/new", RSS)
    result = get(client, feed_server.url("/old"))
    assert result.status == 200 and result.content == RSS
    assert result.final_url == feed_server.url("/new")
    assert result.permanent_redirect == feed_server.url("/new")
    assert result.url == feed_server.url("/old")


def test_temporary_hop_means_no_permanent_redirect(client, feed_server):
    feed_server.add("/old", status=301, headers={"Location": "/mid"})
    feed_server.add("/mid", status=302, headers={"Location": "/new"})
    feed_server.add("/new", RSS)
    result = get(client, feed_server.url("/old"))
    assert result.status == 200 and result.final_url == feed_server.url("/new")
    assert result.permanent_redirect is None


def test_redirect_loop(client, feed_server):
    feed_server.add("/a", status=302, headers={"Location": "/b"})
    feed_server.add("/b", status=302, headers={"Location": "/a"})
    with pytest.raises(errors.TooManyRedirects) as info:
        get(client, feed_server.url("/a"), max_redirects=5)
    assert info.value.reason == "too_many_redirects"
    assert feed_server.routes["/a"].hits + feed_server.routes["/b"].hits == 6


def test_redirect_limit_is_inclusive(client, feed_server):
    for i in range(3):
        feed_server.add(f"/r{i}", status=301, headers={"Location": f"/r{i + 1}"})
    feed_server.add("/r3", RSS)
    assert get(client, feed_server.url("/r0"), max_redirects=3).content == RSS
    with pytest.raises(errors.TooManyRedirects):
        get(client, feed_server.url("/r0"), max_redirects=2)


def test_redirect_to_non_http_scheme(client, feed_server):
    feed_server.add("/evil", status=302, headers={"Location": "file:///etc/passwd"})
    with pytest.raises(errors.InvalidURL):
        get(client, feed_server.url("/evil"))


def test_body_too_large_by_content_length(client, feed_server):
    route = feed_server.add("/big", b"x" * 5000)
    with pytest.raises(errors.BodyTooLarge) as info:
        get(client, feed_server.url("/big"), max_bytes=1000)
    assert info.value.reason == "body_too_large"
    assert "Content-Length" in str(info.value)
    assert route.hits == 1


def test_body_at_limit_is_accepted(client, feed_server):
    feed_server.add("/exact", b"x" * 1000)
    assert len(get(client, feed_server.url("/exact"), max_bytes=1000).content) == 1000


def test_body_too_large_without_length(client, feed_server):
    feed_server.add("/stream", chunks=[b"y" * 4096] * 64)  # 256 KiB, no Content-Length
    with pytest.raises(errors.BodyTooLarge) as info:
        get(client, feed_server.url("/stream"), max_bytes=10_000)
    assert "Content-Length" not in str(info.value)


def test_streamed_body_within_limit(client, feed_server):
    feed_server.add("/stream", chunks=[RSS[:20], RSS[20:]])
    assert get(client, feed_server.url("/stream")).content == RSS


def test_gzip_bomb_stops_at_limit(client, feed_server):
    bomb = gzip.compress(b"\0" * (50 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 100_000
    feed_server.add("/bomb", bomb, headers={"Content-Encoding": "gzip", "Content-Type": "application/rss+xml"})
    with pytest.raises(errors.BodyTooLarge):
        get(client, feed_server.url("/bomb"), max_bytes=1_000_000)


def test_gzip_body_is_decoded(client, feed_server):
    feed_server.add("/gz", gzip.compress(RSS), headers={"Content-Encoding": "gzip"})
    assert get(client, feed_server.url("/gz")).content == RSS


def test_slow_server_times_out(feed_server):
    feed_server.add("/slow", RSS, delay=1.5)
    with make_client(AddressPolicy(["127.0.0.1/32"]), timeout=0.5, user_agent="t") as slow_client:
        with pytest.raises(errors.FetchTimeout) as info:
            get(slow_client, feed_server.url("/slow"))
    assert info.value.reason == "timeout"
    assert isinstance(info.value, errors.NetworkError)


@pytest.mark.parametrize(
    "url",
    ["ftp://127.0.0.1/feed.xml", "file:///etc/passwd", "javascript:alert(1)", "http://", "feed.xml", "gopher://127.0.0.1:70/"],
    ids=["ftp", "file", "javascript", "no-host", "relative", "gopher"],
)
def test_non_http_url_is_invalid(client, url):
    with pytest.raises(errors.InvalidURL) as info:
        get(client, url)
    assert info.value.reason == "invalid_url"


def test_fetched_body_with_wrong_charset_parses(client, feed_server):
    body = (FIXTURES / "feeds" / "misbehaving_windows1252_labelled_latin1.xml").read_bytes()
    feed_server.add("/cp1252", body, headers={"Content-Type": "text/xml; charset=utf-8"})
    result = get(client, feed_server.url("/cp1252"))
    feed = parse(result.content, url=result.final_url, content_type=result.content_type)
    assert feed.entries[0].title == "Gebühren steigen um 5 € „ab sofort“"
