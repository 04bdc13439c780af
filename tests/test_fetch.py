"""fetch(): conditional GET, redirects, limits, timeouts and error mapping against a real loopback server."""

from __future__ import annotations

import gzip
import ssl
import time
import zlib
from datetime import UTC, datetime

import brotli
import pytest

from syndicate.reader import errors
from syndicate.reader.fetch import FetchLimits, FetchResult, fetch, make_client, parse_max_age, parse_retry_after
from syndicate.reader.netguard import AddressPolicy
from syndicate.reader.parse import parse
from tests.conftest import FIXTURES, FeedServer

RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
NOW = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)


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
    return fetch(client, url, limits=FetchLimits(max_bytes=max_bytes, max_redirects=max_redirects), **kw)


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
    ids=["none", "empty", "seconds", "padded", "zero", "http-date", "http-date-offset", "past-date", "negative", "fraction", "garbage"],
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
    ids=[
        "none",
        "max-age",
        "among-directives",
        "case-insensitive",
        "no-cache",
        "not-a-number",
        "max-age-wins",
        "expires",
        "expires-past",
        "expires-invalid",
    ],
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
    [(404, "http_404"), (410, "http_410"), (403, "http_403"), (401, "http_401"), (418, "http_4xx"), (500, "http_5xx"), (503, "http_5xx")],
    ids=str,
)
def test_http_status_reason_codes(status, reason):
    error = FetchResult(url="u", final_url="u", status=status).error()
    assert isinstance(error, errors.HTTPStatusError)
    assert error.reason == reason and error.status == status


@pytest.mark.parametrize(
    "status, header, retry_after",
    [(429, "120", 120), (429, None, None), (503, "7", 7)],
    ids=["429-retry-after", "429-without", "503-retry-after"],
)
def test_rate_limited_is_a_deferral_not_a_failure(status, header, retry_after):
    headers = {"retry-after": header} if header else {}
    error = FetchResult(url="u", final_url="u", status=status, headers=headers).error()
    assert isinstance(error, errors.RateLimited) and isinstance(error, errors.Deferral)
    assert not isinstance(error, errors.FetchError)
    assert (error.reason, error.status, error.retry_after) == ("rate_limited", status, retry_after)


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
    assert result.error().reason == "rate_limited"


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


def test_redirect_loop_is_detected_at_once(client, feed_server):
    feed_server.add("/a", status=302, headers={"Location": "/b"})
    feed_server.add("/b", status=302, headers={"Location": "/a"})
    with pytest.raises(errors.RedirectLoop) as info:
        get(client, feed_server.url("/a"), max_redirects=5)
    assert info.value.reason == "redirect_loop"
    assert feed_server.routes["/a"].hits + feed_server.routes["/b"].hits == 2  # not 6: no need to run out of hops


def test_redirect_to_itself_is_a_loop(client, feed_server):
    feed_server.add("/self", status=301, headers={"Location": "/self"})
    with pytest.raises(errors.RedirectLoop):
        get(client, feed_server.url("/self"))


def test_long_chain_is_too_many_redirects(client, feed_server):
    for i in range(7):
        feed_server.add(f"/c{i}", status=302, headers={"Location": f"/c{i + 1}"})
    with pytest.raises(errors.TooManyRedirects) as info:
        get(client, feed_server.url("/c0"), max_redirects=5)
    assert info.value.reason == "too_many_redirects" and not isinstance(info.value, errors.RedirectLoop)
    assert sum(feed_server.routes[f"/c{i}"].hits for i in range(7)) == 6


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
    with pytest.raises(errors.TooLarge) as info:
        get(client, feed_server.url("/big"), max_bytes=1000)
    assert info.value.reason == "too_large"
    assert "Content-Length" in str(info.value)
    assert route.hits == 1


def test_body_at_limit_is_accepted(client, feed_server):
    feed_server.add("/exact", b"x" * 1000)
    assert len(get(client, feed_server.url("/exact"), max_bytes=1000).content) == 1000


def test_body_too_large_without_length(client, feed_server):
    feed_server.add("/stream", chunks=[b"y" * 4096] * 64)  # 256 KiB, no Content-Length
    with pytest.raises(errors.TooLarge) as info:
        get(client, feed_server.url("/stream"), max_bytes=10_000)
    assert "Content-Length" not in str(info.value) and info.value.reason == "too_large"


def test_streamed_body_within_limit(client, feed_server):
    feed_server.add("/stream", chunks=[RSS[:20], RSS[20:]])
    assert get(client, feed_server.url("/stream")).content == RSS


def test_gzip_bomb_stops_at_limit(client, feed_server):
    bomb = gzip.compress(b"\0" * (50 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 100_000
    feed_server.add("/bomb", bomb, headers={"Content-Encoding": "gzip", "Content-Type": "application/rss+xml"})
    with pytest.raises(errors.DecompressionBomb) as info:
        get(client, feed_server.url("/bomb"), max_bytes=1_000_000)
    assert info.value.reason == "decompression_bomb"


def test_gzip_body_is_decoded(client, feed_server):
    feed_server.add("/gz", gzip.compress(RSS), headers={"Content-Encoding": "gzip"})
    assert get(client, feed_server.url("/gz")).content == RSS


def test_slow_server_times_out(feed_server):
    feed_server.add("/slow", RSS, delay=1.5)
    with (
        make_client(AddressPolicy(["127.0.0.1/32"]), timeout=0.5, user_agent="t") as slow_client,
        pytest.raises(errors.FetchTimeout) as info,
    ):
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


# ---------------------------------------------------------------- encodings and decompression limits


def _deflate_raw(data: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


ENCODED = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "deflate-raw": _deflate_raw,
    "br": brotli.compress,
}


@pytest.mark.parametrize("name", ENCODED, ids=str)
def test_encoded_body_is_decoded(client, feed_server, name):
    encoded = ENCODED[name](RSS * 50)
    feed_server.add("/enc", encoded, headers={"Content-Encoding": name.split("-")[0]})
    assert len(encoded) < len(RSS * 50)
    # the wire limit counts the compressed bytes: a limit between the two sizes lets the body through
    result = fetch(client, feed_server.url("/enc"), limits=FetchLimits(max_bytes=len(encoded), max_decoded_bytes=len(RSS * 50)))
    assert result.content == RSS * 50


@pytest.mark.parametrize("name", ENCODED, ids=str)
def test_every_encoding_stops_a_bomb(client, feed_server, name):
    bomb = ENCODED[name](b"<" + b" " * (30 * 1024 * 1024))
    assert len(bomb) < 200_000
    feed_server.add("/bomb", bomb, headers={"Content-Encoding": name.split("-")[0]})
    with pytest.raises(errors.DecompressionBomb):
        get(client, feed_server.url("/bomb"), max_bytes=1_000_000)


def test_decoded_limit_is_separate_from_the_wire_limit(client, feed_server):
    body = RSS * 2000  # ~170 KB that compresses to a few KB
    feed_server.add("/gz", gzip.compress(body), headers={"Content-Encoding": "gzip"})
    limits = FetchLimits(max_bytes=10_000, max_decoded_bytes=len(body))
    assert fetch(client, feed_server.url("/gz"), limits=limits).content == body
    with pytest.raises(errors.DecompressionBomb):
        fetch(client, feed_server.url("/gz"), limits=FetchLimits(max_bytes=10_000, max_decoded_bytes=len(body) - 1))


def test_uncompressed_body_over_the_decoded_limit_is_too_large_not_a_bomb(client, feed_server):
    feed_server.add("/plain", b"x" * 5000)
    with pytest.raises(errors.TooLarge) as info:
        fetch(client, feed_server.url("/plain"), limits=FetchLimits(max_bytes=10_000, max_decoded_bytes=1000))
    assert info.value.reason == "too_large"


def test_chained_encodings_are_undone_in_reverse(client, feed_server):
    feed_server.add("/two", brotli.compress(gzip.compress(RSS)), headers={"Content-Encoding": "gzip, br"})
    assert get(client, feed_server.url("/two")).content == RSS


@pytest.mark.parametrize(
    "encoding, body",
    [("gzip", b"this is not gzip at all"), ("zstd", b"whatever"), ("br", b"\xff\xff\xff\xff")],
    ids=["corrupt-gzip", "unknown", "corrupt-brotli"],
)
def test_undecodable_body(client, feed_server, encoding, body):
    feed_server.add("/bad", body, headers={"Content-Encoding": encoding})
    with pytest.raises(errors.DecodingError) as info:
        get(client, feed_server.url("/bad"))
    assert info.value.reason == "decoding"


def test_client_asks_for_feed_types_and_brotli(client, feed_server):
    route = feed_server.add("/f", RSS)
    get(client, feed_server.url("/f"))
    seen = route.seen_headers[0]
    assert seen["accept"].startswith("application/atom+xml, application/rss+xml")
    assert seen["accept-encoding"] == "gzip, deflate, br"


# ---------------------------------------------------------------- the total deadline


@pytest.mark.parametrize("headers_too", [False, True], ids=["body-drips", "headers-drip"])
def test_deadline_stops_a_server_that_drips(feed_server, headers_too):
    feed_server.add("/drip", RSS * 20, drip=0.1, drip_headers=headers_too)
    with make_client(AddressPolicy(["127.0.0.1/32"]), timeout=5, user_agent="t") as c:  # read timeout never trips
        started = time.monotonic()
        with pytest.raises(errors.FetchTimeout) as info:
            fetch(c, feed_server.url("/drip"), limits=FetchLimits(deadline=1.0))
        elapsed = time.monotonic() - started
    assert info.value.reason == "timeout"
    assert 0.9 <= elapsed <= 1.5


def test_deadline_covers_every_hop(feed_server):
    feed_server.add("/hop", status=302, headers={"Location": "/slow"}, delay=0.3)
    feed_server.add("/slow", RSS, delay=0.3)
    with make_client(AddressPolicy(["127.0.0.1/32"]), timeout=5, user_agent="t") as c:  # each hop alone is fast enough
        with pytest.raises(errors.FetchTimeout):
            fetch(c, feed_server.url("/hop"), limits=FetchLimits(deadline=0.5))
        assert fetch(c, feed_server.url("/hop"), limits=FetchLimits(deadline=2.0)).content == RSS


def test_connection_reset_mid_body(client, feed_server):
    feed_server.add("/reset", RSS * 100, reset_after=100)
    with pytest.raises(errors.NetworkError) as info:
        get(client, feed_server.url("/reset"))
    assert info.value.reason == "connect"
    assert "lost" in info.value.message


def test_no_connection_is_kept_open_after_a_fetch(client, feed_server):
    """An idle keep-alive connection would count against the host's concurrency on its side."""
    feed_server.add("/f", RSS)
    for _ in range(3):
        get(client, feed_server.url("/f"))
        deadline = time.monotonic() + 2
        while feed_server.active and time.monotonic() < deadline:
            time.sleep(0.005)
        assert feed_server.active == 0  # a kept-alive connection would stay open until the client closes


def test_clients_share_one_verifying_tls_context():
    """Every client of a process uses the same TLS context (the certificate bundle is parsed once),
    and that context still checks certificates and host names."""
    policy = AddressPolicy(["127.0.0.1/32"])
    with make_client(policy, timeout=5, user_agent="a") as first, make_client(policy, timeout=1, user_agent="b") as second:
        contexts = [c._transport._pool._ssl_context for c in (first, second)]  # type: ignore[attr-defined]
    assert contexts[0] is contexts[1]
    assert contexts[0].verify_mode == ssl.CERT_REQUIRED and contexts[0].check_hostname
    assert contexts[0].cert_store_stats()["x509_ca"] > 0
