"""SSRF policy: address classification without connecting, and real fetches on loopback only."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time

import pytest

from syndicate.reader import errors, netguard
from syndicate.reader.fetch import FetchLimits, fetch, make_client
from syndicate.reader.netguard import AddressPolicy, classify, is_public
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


# every denied range, IPv4 and IPv6, at its first and last address where that matters; each names its range
DENIED_TABLE = [
    ("0.0.0.0", "this_network"),
    ("0.255.255.255", "this_network"),
    ("10.0.0.0", "private"),
    ("10.255.255.255", "private"),
    ("100.64.0.0", "cgnat"),
    ("100.127.255.255", "cgnat"),
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("169.254.0.1", "link_local"),
    ("169.254.169.254", "link_local"),
    ("172.16.0.0", "private"),
    ("172.31.255.255", "private"),
    ("192.0.0.8", "ietf_protocol"),
    ("192.0.2.1", "documentation"),
    ("198.51.100.7", "documentation"),
    ("203.0.113.255", "documentation"),
    ("192.88.99.1", "relay_anycast"),
    ("192.168.0.1", "private"),
    ("192.168.255.255", "private"),
    ("198.18.0.1", "benchmarking"),
    ("198.19.255.255", "benchmarking"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    ("::", "unspecified"),
    ("::1", "loopback"),
    ("::7f00:1", "ipv4_compatible"),
    ("::808:808", "ipv4_compatible"),
    ("::ffff:0:7f00:1", "ipv4_translated"),
    ("::ffff:127.0.0.1", "loopback (embedded 127.0.0.1)"),
    ("::ffff:10.1.2.3", "private (embedded 10.1.2.3)"),
    ("::ffff:169.254.169.254", "link_local (embedded 169.254.169.254)"),
    ("::ffff:100.64.1.1", "cgnat (embedded 100.64.1.1)"),
    ("64:ff9b::7f00:1", "loopback (embedded 127.0.0.1)"),
    ("64:ff9b::a9fe:a9fe", "link_local (embedded 169.254.169.254)"),
    ("64:ff9b:1::1", "nat64_local"),
    ("2002:7f00:1::1", "loopback (embedded 127.0.0.1)"),
    ("2002:c0a8:101::", "private (embedded 192.168.1.1)"),
    ("2002:e000:1::", "multicast (embedded 224.0.0.1)"),
    ("100::1", "discard"),
    ("2001::1", "ietf_protocol"),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "ietf_protocol"),  # Teredo
    ("2001:db8::1", "documentation"),
    ("3fff::1", "documentation"),
    ("5f00::1", "srv6"),
    ("fc00::1", "unique_local"),
    ("fd12:3456::1", "unique_local"),
    ("fe80::1", "link_local"),
    ("febf::1", "link_local"),
    ("fec0::1", "site_local"),
    ("ff02::1", "multicast"),
    ("ff0e::1", "multicast"),
    ("4000::1", "reserved"),
    ("1::1", "reserved"),  # outside 2000::/3, the only global unicast block
]


@pytest.mark.parametrize("literal, name", DENIED_TABLE, ids=[row[0] for row in DENIED_TABLE])
def test_classify_names_every_denied_range(literal, name):
    assert classify(ip(literal)) == name
    assert not is_public(ip(literal))
    assert not AddressPolicy([]).allows(ip(literal))


@pytest.mark.parametrize(
    "literal",
    [
        "8.8.8.8",
        "1.1.1.1",
        "100.63.255.255",
        "100.128.0.0",
        "172.15.255.255",
        "172.32.0.0",
        "192.169.0.1",
        "198.17.255.255",
        "198.20.0.0",
        "223.255.255.255",
        "2001:4860:4860::8888",
        "2a00:1450:4001::1",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
        "2002:808:808::1",
    ],
)
def test_classify_public(literal):
    assert classify(ip(literal)) is None and is_public(ip(literal))


def test_every_denied_range_is_in_the_table():
    covered = {net for net, _ in netguard.DENIED if any(ip(literal) in net for literal, _ in DENIED_TABLE)}
    assert covered == {net for net, _ in netguard.DENIED}


def test_blocked_message_names_the_range():
    with pytest.raises(errors.BlockedAddress) as info:
        AddressPolicy(["127.0.0.1/32"]).resolve("127.0.0.2", 80)
    assert "127.0.0.2 (loopback)" in info.value.message


def test_policy_resolve_literal_blocked_without_connecting():
    # resolving an IP literal needs no DNS traffic; the refusal happens before any socket is opened
    with pytest.raises(errors.BlockedAddress) as info:
        AddressPolicy([]).resolve("127.0.0.1", 80)
    assert info.value.reason == "blocked_address"
    assert AddressPolicy(["127.0.0.1/32"]).resolve("127.0.0.1", 80) == ["127.0.0.1"]


# ---------------------------------------------------------------- real fetches on loopback


def _fetch(policy: list[str], url: str, **kw):
    with make_client(AddressPolicy(policy), timeout=5, user_agent="t") as client:
        return fetch(client, url, limits=FetchLimits(max_bytes=kw.get("max_bytes", 1_000_000), max_redirects=kw.get("max_redirects", 5)))


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


# ---------------------------------------------------------------- one lookup, connect to the checked address


def test_host_is_resolved_once_and_the_checked_address_is_connected(feed_server, monkeypatch):
    """DNS rebinding: the first answer is allowed, every later one would be loopback 127.0.0.2. The fetch
    must resolve once, check, and connect to that very address, so the second answer is never asked for."""
    real, lookups = socket.getaddrinfo, []

    def rebinding(host, port, *args, **kwargs):
        if host == "feeds.rebind.test":
            lookups.append(host)
            host = "127.0.0.1" if len(lookups) == 1 else "127.0.0.2"
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    route = feed_server.add("/feed.xml", RSS)
    result = _fetch(["127.0.0.1/32"], f"http://feeds.rebind.test:{feed_server.port}/feed.xml")
    assert result.content == RSS and lookups == ["feeds.rebind.test"]
    assert route.seen_headers[0]["host"] == f"feeds.rebind.test:{feed_server.port}"


def test_mixed_answer_connects_only_to_allowed_addresses(feed_server, monkeypatch):
    real = socket.getaddrinfo

    def mixed(host, port, *args, **kwargs):
        if host == "mixed.test":
            return real("127.0.0.2", port, *args, **kwargs) + real("127.0.0.1", port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", mixed)
    assert AddressPolicy(["127.0.0.1/32"]).resolve("mixed.test", 80) == ["127.0.0.1"]


def test_dns_failure_has_its_own_reason(monkeypatch):
    def failing(host, port, *args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", failing)
    with pytest.raises(errors.DNSError) as info:
        AddressPolicy([]).resolve("nowhere.test", 80)
    assert info.value.reason == "dns"


def test_slow_dns_is_cut_off(monkeypatch):
    release = threading.Event()

    def hanging(host, port, *args, **kwargs):
        release.wait(5)
        raise socket.gaierror(socket.EAI_AGAIN, "gave up")

    monkeypatch.setattr(socket, "getaddrinfo", hanging)
    started = time.monotonic()
    with pytest.raises(errors.FetchTimeout):
        AddressPolicy([]).resolve("slow.test", 80, timeout=0.2)
    assert time.monotonic() - started < 1.0
    release.set()
