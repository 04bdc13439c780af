"""SSRF policy: address classification without connecting, and real fetches on loopback only."""

from __future__ import annotations

import ipaddress

import pytest

from syndicate.reader import errors
from syndicate.reader.fetch import fetch, make_client
from syndicate.reader.netguard import AddressPolicy, is_public
from tests.conftest import FeedServer

RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>a</title></item></channel></rss>'


@pytest.fixture(scope="module")
def _servers():
    servers = {"main": FeedServer(), "second": FeedServer(), "other_host": FeedServer(host="127.0.0.2")}
    yield servers
    for server in servers.values():
        server.close()


def _fresh(server: FeedServer) -> FeedServer:
    server.routes.clear()
    return server


@pytest.fixture
def feed_server(_servers):
    """conftest's loopback server, shared by this module (closing one costs 0.5 s); routes reset per test."""
    return _fresh(_servers["main"])


@pytest.fixture
def second_server(_servers):
    """Another server on 127.0.0.1, on another port."""
    return _fresh(_servers["second"])


@pytest.fixture
def other_host(_servers):
    """A server bound to 127.0.0.2: loopback, but not in the allow-list "127.0.0.1/32"."""
    assert _servers["other_host"].host == "127.0.0.2"
    return _fresh(_servers["other_host"])


def ip(literal: str):
    return ipaddress.ip_address(literal)


# ---------------------------------------------------------------- classification (no connection)


@pytest.mark.parametrize(
    "literal, public",
    [
        ("8.8.8.8", True),
        ("1.1.1.1", True),
        ("2001:4860:4860::8888", True),
        ("::ffff:8.8.8.8", True),
        ("10.0.0.1", False),
        ("172.16.0.1", False),
        ("172.31.255.254", False),
        ("192.168.1.1", False),
        ("127.0.0.1", False),
        ("127.0.0.2", False),
        ("169.254.169.254", False),
        ("0.0.0.0", False),
        ("100.64.0.1", False),
        ("192.0.2.1", False),
        ("198.18.0.1", False),
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("::1", False),
        ("::", False),
        ("fc00::1", False),
        ("fd12:3456::1", False),
        ("fe80::1", False),
        ("ff02::1", False),
        ("2001:db8::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("::ffff:169.254.169.254", False),
    ],
    ids=lambda v: str(v),
)
def test_is_public(literal, public):
    assert is_public(ip(literal)) is public


@pytest.mark.parametrize(
    "allow, literal, host, port, allowed",
    [
        ([], "127.0.0.1", None, None, False),
        ([], "8.8.8.8", None, None, True),
        (["127.0.0.1/32"], "127.0.0.1", None, None, True),
        (["127.0.0.1/32"], "127.0.0.2", None, None, False),
        (["127.0.0.1/32"], "::1", None, None, False),
        (["127.0.0.1/32"], "::ffff:127.0.0.1", None, None, False),
        (["127.0.0.1"], "127.0.0.1", None, None, True),
        (["10.0.0.0/8"], "10.20.30.40", None, None, True),
        (["10.0.0.0/8"], "192.168.1.1", None, None, False),
        (["::1/128"], "::1", None, None, True),
        (["fc00::/7"], "fd00::5", None, None, True),
        (["127.0.0.1/32"], "169.254.169.254", None, None, False),
        (["Intranet.Local"], "10.1.1.1", "intranet.local", 80, True),
        (["intranet.local"], "10.1.1.1", "other.local", 80, False),
        (["localhost:8080"], "127.0.0.1", "localhost", 8080, True),
        (["localhost:8080"], "127.0.0.1", "localhost", 8081, False),
        (["localhost:8080"], "127.0.0.1", None, None, False),
    ],
    ids=[
        "empty-loopback",
        "empty-public",
        "cidr-exact",
        "cidr-neighbour",
        "v4-cidr-not-v6-loopback",
        "v4-cidr-not-mapped",
        "bare-address",
        "private-net-allowed",
        "private-net-other",
        "v6-loopback-allowed",
        "ula-allowed",
        "metadata-still-blocked",
        "host-name-case-insensitive",
        "host-name-other",
        "host-port",
        "host-other-port",
        "host-port-needs-host",
    ],
)
def test_policy_allows(allow, literal, host, port, allowed):
    assert AddressPolicy(allow).allows(ip(literal), host, port) is allowed


def test_policy_resolve_literal_blocked_without_connecting():
    # resolving an IP literal needs no DNS traffic; the refusal happens before any socket is opened
    with pytest.raises(errors.BlockedAddress) as info:
        AddressPolicy([]).resolve("127.0.0.1", 80)
    assert info.value.reason == "blocked_address"
    assert AddressPolicy(["127.0.0.1/32"]).resolve("127.0.0.1", 80) == ["127.0.0.1"]


# ---------------------------------------------------------------- real fetches on loopback


def _fetch(policy: list[str], url: str, **kw):
    with make_client(AddressPolicy(policy), timeout=5, user_agent="t") as client:
        return fetch(client, url, max_bytes=kw.get("max_bytes", 1_000_000), max_redirects=kw.get("max_redirects", 5))


def test_allowed_loopback_fetch_works(feed_server):
    feed_server.add("/feed.xml", RSS, headers={"Content-Type": "application/rss+xml"})
    result = _fetch(["127.0.0.1/32"], feed_server.url("/feed.xml"))
    assert result.ok and result.status == 200
    assert result.content == RSS
    assert result.content_type == "application/rss+xml"
    assert feed_server.routes["/feed.xml"].seen_headers[0]["user-agent"] == "t"


def test_other_loopback_address_refused(other_host):
    route = other_host.add("/feed.xml", RSS)
    with pytest.raises(errors.BlockedAddress) as info:
        _fetch(["127.0.0.1/32"], other_host.url("/feed.xml"))
    assert info.value.reason == "blocked_address"
    assert route.hits == 0
    # the same server is reachable once its address is allowed: the refusal above is the policy's doing
    assert _fetch(["127.0.0.2/32"], other_host.url("/feed.xml")).content == RSS


def test_empty_policy_refuses_loopback(feed_server):
    route = feed_server.add("/feed.xml", RSS)
    with pytest.raises(errors.BlockedAddress) as info:
        _fetch([], feed_server.url("/feed.xml"))
    assert info.value.reason == "blocked_address"
    assert route.hits == 0


def test_decimal_ip_host_is_checked_after_resolution(feed_server):
    route = feed_server.add("/feed.xml", RSS)
    url = f"http://2130706433:{feed_server.port}/feed.xml"  # 127.0.0.1 written as one number
    with pytest.raises(errors.BlockedAddress):
        _fetch([], url)
    assert route.hits == 0


def test_redirect_to_blocked_address_refused_on_that_hop(feed_server, other_host):
    target = other_host.add("/internal", RSS)
    feed_server.add("/go", status=302, headers={"Location": other_host.url("/internal")})
    with pytest.raises(errors.BlockedAddress):
        _fetch(["127.0.0.1/32"], feed_server.url("/go"))
    assert feed_server.routes["/go"].hits == 1
    assert target.hits == 0


def test_host_port_allow_entry_covers_only_that_port(feed_server, second_server):
    feed_server.add("/feed.xml", RSS)
    route = second_server.add("/feed.xml", RSS)
    allow = [f"localhost:{feed_server.port}"]
    assert _fetch(allow, f"http://localhost:{feed_server.port}/feed.xml").content == RSS
    with pytest.raises(errors.BlockedAddress):
        _fetch(allow, f"http://localhost:{second_server.port}/feed.xml")
    assert route.hits == 0
