"""Which addresses may be fetched (SSRF policy), checked at connect time on every hop.

A fetch may only connect to a public unicast address, unless the address or host is
listed in the allow-list (``SYNDICATE_ALLOW_NETWORKS``). ``GuardedBackend`` resolves the
host once, checks every address it got and then connects to the checked address itself
(an IP literal, so no second lookup happens): a DNS answer that changes between check
and connect — DNS rebinding — has nothing left to change. Redirects get the same check,
because every hop opens its connection through the backend.

``classify`` names the denied range an address falls into. Python's own ``is_global`` is
not enough on its own: it calls 6to4 and NAT64 addresses that embed 127.0.0.1 global.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterable

import httpcore

from syndicate.reader.errors import BlockedAddress, DNSError, FetchTimeout

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

DENIED: list[tuple[Network, str]] = [
    (ipaddress.ip_network(net), name)
    for net, name in [
        ("0.0.0.0/8", "this_network"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "cgnat"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link_local"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "ietf_protocol"),
        ("192.0.2.0/24", "documentation"),
        ("192.88.99.0/24", "relay_anycast"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),  # includes 255.255.255.255
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("::/96", "ipv4_compatible"),
        ("::ffff:0:0:0/96", "ipv4_translated"),
        ("64:ff9b:1::/48", "nat64_local"),
        ("100::/64", "discard"),
        ("2001::/23", "ietf_protocol"),  # includes Teredo 2001::/32
        ("2001:db8::/32", "documentation"),
        ("3fff::/20", "documentation"),
        ("5f00::/16", "srv6"),
        ("fc00::/7", "unique_local"),
        ("fe80::/10", "link_local"),
        ("fec0::/10", "site_local"),
        ("ff00::/8", "multicast"),
    ]
]
GLOBAL_UNICAST_V6 = ipaddress.ip_network("2000::/3")
NAT64 = ipaddress.ip_network("64:ff9b::/96")


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address inside an IPv4-mapped, NAT64 (64:ff9b::/96) or 6to4 (2002::/16) address."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour


def classify(ip: IPAddress) -> str | None:
    """The name of the denied range ``ip`` falls into, or None for a public unicast address."""
    if isinstance(ip, ipaddress.IPv6Address) and (inner := embedded_ipv4(ip)) is not None:
        reason = classify(inner)
        return f"{reason} (embedded {inner})" if reason else None
    for net, name in DENIED:
        if ip.version == net.version and ip in net:
            return name
    if isinstance(ip, ipaddress.IPv6Address) and ip not in GLOBAL_UNICAST_V6:
        return "reserved"
    return None if ip.is_global else "reserved"


def is_public(ip: IPAddress) -> bool:
    """True for globally routable unicast addresses."""
    return classify(ip) is None


class AddressPolicy:
    def __init__(self, allow: Iterable[str] = ()):
        self.networks: list[Network] = []
        self.hosts: set[str] = set()
        for entry in allow:
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self.hosts.add(entry.lower())

    def allows(self, ip: IPAddress, host: str | None = None, port: int | None = None) -> bool:
        return self.refusal(ip, host, port) is None

    def refusal(self, ip: IPAddress, host: str | None = None, port: int | None = None) -> str | None:
        """Why ``ip`` may not be connected to, or None when it may."""
        if host is not None:
            lowered = host.lower()
            if lowered in self.hosts or (port is not None and f"{lowered}:{port}" in self.hosts):
                return None
        if any(ip in net for net in self.networks):
            return None
        return classify(ip)

    def resolve(self, host: str, port: int, timeout: float | None = None) -> list[str]:
        """Resolve ``host`` once and return the addresses that may be connected to, or raise."""
        addresses = _getaddrinfo(host, port, timeout)
        refusals = {a: self.refusal(ipaddress.ip_address(a.split("%")[0]), host, port) for a in addresses}
        allowed = [a for a, why in refusals.items() if why is None]
        if not allowed:
            named = ", ".join(f"{a} ({why})" for a, why in refusals.items())
            raise BlockedAddress(f"{host} resolves to {named}, which is not allowed")
        return allowed


def _getaddrinfo(host: str, port: int, timeout: float | None) -> list[str]:
    """``getaddrinfo`` with a time limit (the resolver has none of its own); IP literals need no lookup."""
    answer: dict = {}

    def lookup() -> None:
        try:
            answer["infos"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            answer["error"] = exc

    try:
        ipaddress.ip_address(host)
        lookup()
    except ValueError:
        worker = threading.Thread(target=lookup, name=f"dns {host}", daemon=True)
        worker.start()
        worker.join(timeout)
        if worker.is_alive():
            raise FetchTimeout(f"resolving {host} took longer than {timeout:.1f} s") from None
    if "error" in answer:
        raise DNSError(f"cannot resolve {host}: {answer['error']}") from answer["error"]
    return list(dict.fromkeys(info[4][0] for info in answer["infos"]))


class GuardedBackend(httpcore.SyncBackend):
    """An httpcore network backend that applies an AddressPolicy at connect time."""

    def __init__(self, policy: AddressPolicy):
        self.policy = policy

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        last_exc: Exception | None = None
        for address in self.policy.resolve(host, port, timeout):
            try:  # ``address`` is an IP literal: the connection goes exactly where the check said
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                last_exc = exc
        assert last_exc is not None
        raise last_exc

    def connect_unix_socket(self, *args, **kwargs):  # pragma: no cover - never used for feeds
        raise BlockedAddress("unix sockets are not allowed")
