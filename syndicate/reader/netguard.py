"""Which addresses may be fetched (SSRF policy), checked at connect time on every hop.

A fetch may only connect to a public unicast address, unless the address or
host is listed in the allow-list (``SYNDICATE_ALLOW_NETWORKS``). The check runs
inside the connection backend, after DNS resolution and right before the socket
is opened, so a redirect or a DNS answer that changes between check and connect
cannot reach a private address.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable

import httpcore

from syndicate.reader.errors import BlockedAddress, NetworkError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def is_public(ip: IPAddress) -> bool:
    """True for globally routable unicast addresses."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return is_public(ip.ipv4_mapped)
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


class AddressPolicy:
    def __init__(self, allow: Iterable[str] = ()):
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        self.hosts: set[str] = set()
        for entry in allow:
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self.hosts.add(entry.lower())

    def allows(self, ip: IPAddress, host: str | None = None, port: int | None = None) -> bool:
        if host is not None:
            lowered = host.lower()
            if lowered in self.hosts or (port is not None and f"{lowered}:{port}" in self.hosts):
                return True
        if any(ip in net for net in self.networks):
            return True
        return is_public(ip)

    def resolve(self, host: str, port: int) -> list[str]:
        """Resolve ``host`` and return the addresses that may be connected to, or raise."""
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise NetworkError(f"cannot resolve {host}: {exc}", reason="dns_error") from exc
        addresses = list(dict.fromkeys(info[4][0] for info in infos))
        allowed = [a for a in addresses if self.allows(ipaddress.ip_address(a.split("%")[0]), host, port)]
        if not allowed:
            raise BlockedAddress(f"{host} resolves to {', '.join(addresses)}, which is not a public address")
        return allowed


class GuardedBackend(httpcore.SyncBackend):
    """An httpcore network backend that applies an AddressPolicy at connect time."""

    def __init__(self, policy: AddressPolicy):
        self.policy = policy

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        last_exc: Exception | None = None
        for address in self.policy.resolve(host, port):
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                last_exc = exc
        assert last_exc is not None
        raise last_exc

    def connect_unix_socket(self, *args, **kwargs):  # pragma: no cover - never used for feeds
        raise BlockedAddress("unix sockets are not allowed")
