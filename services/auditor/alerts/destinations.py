"""Where webhooks may go (issue 22): only to hosts on a configured allow-list, over https unless plain http is
allowed, and never to a private, loopback, link-local or otherwise non-public address unless its network is
allow-listed too.

Addresses are checked after the name is resolved, when a subscription is made and again on every connection the
deliverer opens: the connection goes to the very address that was checked, so a name that re-resolves elsewhere
afterwards (DNS rebinding) cannot move a delivery. Redirects are never followed (httpcore follows none).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""Resolves a host name and port to the addresses to connect to (injected in tests; the system's by default)."""

# IPv6 prefixes that carry an IPv4 address a packet may end up at: NAT64's well-known prefix (RFC 6052).
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")

KINDS: tuple[tuple[str, Callable[[IPAddress], bool]], ...] = (
    ("unspecified", lambda ip: ip.is_unspecified),
    ("loopback", lambda ip: ip.is_loopback),
    ("link-local", lambda ip: ip.is_link_local),
    ("multicast", lambda ip: ip.is_multicast),
    ("reserved", lambda ip: ip.is_reserved),
    ("private", lambda ip: ip.is_private),
    ("non-public", lambda ip: not ip.is_global),
)


class DestinationRefused(Exception):
    """A webhook destination that is not allowed; the message says why, and names no secret."""


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives for a host, in its order, without repeats."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def embedded_ipv4(ip: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, Teredo, NAT64), or the address itself."""
    if isinstance(ip, ipaddress.IPv4Address):
        return ip
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def address_refusal(address: str, allowed: Iterable[IPNetwork]) -> str | None:
    """Why a delivery may not connect to this address (None: it may): a non-public address must lie in an
    allow-listed network."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone (fe80::1%eth0) names no other address
    except ValueError:
        return f"{address[:100]!r} is not an IP address"
    networks = list(allowed)
    candidates = list(dict.fromkeys([embedded_ipv4(ip), ip]))  # the IPv4 address reached first, if it carries one
    if any(candidate in network for candidate in candidates for network in networks):
        return None
    for candidate in candidates:
        for kind, test in KINDS:
            if test(candidate):
                return f"{address} is a {kind} address and its network is not allow-listed"
    return None


def host_allowed(host: str, patterns: Iterable[str]) -> bool:
    """Whether a host is on the allow-list: an exact name or address, or `*.example.org` for any name under it."""
    host = host.lower().rstrip(".")
    for pattern in patterns:
        pattern = pattern.lower().rstrip(".")
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]) and len(host) > len(pattern) - 1:
                return True
        elif host == pattern or _same_address(host, pattern):
            return True
    return False


def host_of(url: httpx.URL) -> str:
    """A URL's host as connections name it: IDNA-encoded ASCII, an IPv6 address without brackets."""
    return url.raw_host.decode("ascii")


def _same_address(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_address(a) == ipaddress.ip_address(b)
    except ValueError:
        return False


@dataclass(frozen=True)
class Destinations:
    """The webhook destination policy: allow-listed hosts and non-public networks, and whether plain http is
    allowed, with the resolver that turns names into the addresses checked."""

    hosts: tuple[str, ...]
    networks: tuple[IPNetwork, ...] = ()
    allow_http: bool = False
    resolver: Resolver = field(default=system_resolver, compare=False)

    def url_refusal(self, url: str) -> str | None:
        """Why a callback URL may not be used, before any name is resolved (None: it may be, so far)."""
        parsed = httpx.URL(url)
        if parsed.scheme != "https" and not (parsed.scheme == "http" and self.allow_http):
            return "must be an https URL" if not self.allow_http else "must be an http or https URL"
        host = host_of(parsed)
        if not host_allowed(host, self.hosts):
            return f"host {host[:200]!r} is not on the auditor's webhook allow-list"
        return None

    async def addresses(self, host: str, port: int) -> list[str]:
        """The addresses a delivery to this host may connect to, every one checked; refused when the host is not
        allow-listed, does not resolve, or resolves to any address that is not allowed."""
        if not host_allowed(host, self.hosts):
            raise DestinationRefused(f"host {host[:200]!r} is not on the auditor's webhook allow-list")
        try:
            addresses = list(await self.resolver(host, port))
        except OSError as exc:
            raise DestinationRefused(f"host {host[:200]!r} does not resolve ({exc.strerror or exc})") from exc
        if not addresses:
            raise DestinationRefused(f"host {host[:200]!r} resolves to no address")
        for address in addresses:
            # One bad answer refuses them all: a name that mixes public and internal addresses is not trusted.
            refusal = address_refusal(address, self.networks)
            if refusal is not None:
                raise DestinationRefused(f"host {host[:200]!r} resolves to {refusal}")
        return addresses

    async def check(self, url: str) -> None:
        """Checks a callback URL end to end, as a subscription is made: scheme, host, and resolved addresses."""
        refusal = self.url_refusal(url)
        if refusal is not None:
            raise DestinationRefused(refusal)
        parsed = httpx.URL(url)
        await self.addresses(host_of(parsed), parsed.port or (443 if parsed.scheme == "https" else 80))


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """Opens delivery connections only to checked addresses: resolves the host once per connection, checks every
    address, and connects to those addresses (never to the name again). TLS still verifies the certificate against
    the host name."""

    def __init__(self, destinations: Destinations, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self.destinations = destinations
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 -- httpcore's interface: the connect timeout it passes
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """A connection to the first of the host's checked addresses that answers."""
        failure: Exception | None = None
        for address in await self.destinations.addresses(host, port):
            try:
                return await self.inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # addresses() returns at least one
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 -- httpcore's interface
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Never: a webhook goes over TCP to an allow-listed host."""
        raise DestinationRefused("a unix socket is never a webhook destination")

    async def sleep(self, seconds: float) -> None:
        """As the inner backend sleeps (httpcore's retries; we make none)."""
        await self.inner.sleep(seconds)


def delivery_pool(
    destinations: Destinations, *, connections: int, inner: httpcore.AsyncNetworkBackend | None = None
) -> httpcore.AsyncConnectionPool:
    """The connection pool deliveries go through: pinned to checked addresses, no proxy from the environment, no
    redirects, no retries of its own (the deliverer retries, with backoff)."""
    return httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(),
        max_connections=connections,
        max_keepalive_connections=connections,
        keepalive_expiry=30.0,
        retries=0,
        network_backend=PinnedBackend(destinations, inner),
    )
