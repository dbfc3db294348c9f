"""Where webhooks may go (issue 22): the host allow-list, the address check after resolution, and connections pinned
to the address that was checked. Names are resolved by an injected resolver; the only traffic is to a receiver on
127.0.0.1, and every other range is refused where the address is checked, before anything connects."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import httpcore
import pytest

from services.auditor.alerts.destinations import (
    DestinationRefused,
    Destinations,
    PinnedBackend,
    address_refusal,
    delivery_pool,
    host_allowed,
)
from services.auditor.settings import AuditorSettings
from tests.auditor.alert_servers import WebhookReceiver, serve

LOOPBACK_ONLY = (ipaddress.ip_network("127.0.0.1/32"),)


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata services live here
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 -- an address checked, nothing listens on it
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("100.64.0.1", "non-public"),  # carrier-grade NAT
        ("240.0.0.1", "reserved"),
        ("192.0.2.1", "private"),  # documentation range
        ("::ffff:10.0.0.1", "private"),  # IPv4-mapped: the IPv4 address is what is reached
        ("::ffff:127.0.0.1", "loopback"),
        ("2002:a00:1::", "private"),  # 6to4 of 10.0.0.1
        ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
    ],
)
def test_a_non_public_address_is_refused_naming_its_kind(address: str, kind: str) -> None:
    refusal = address_refusal(address, ())
    assert refusal == f"{address} is a {kind} address and its network is not allow-listed"


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "2a00:1450:4009:81f::200e"])
def test_a_public_address_is_allowed(address: str) -> None:
    assert address_refusal(address, ()) is None


def test_an_allow_listed_network_lets_its_addresses_through_and_no_others() -> None:
    networks = [ipaddress.ip_network("10.20.0.0/16"), ipaddress.ip_network("127.0.0.1/32")]
    assert address_refusal("10.20.3.4", networks) is None
    assert address_refusal("::ffff:10.20.3.4", networks) is None
    assert address_refusal("127.0.0.1", networks) is None
    assert address_refusal("10.21.0.1", networks) is not None
    assert address_refusal("127.0.0.2", networks) is not None
    assert address_refusal("not-an-address", networks) == "'not-an-address' is not an IP address"


def test_hosts_are_allowed_by_exact_name_address_or_subdomain_pattern() -> None:
    allowed = ["alerts.gmp.police.uk", "*.mps.police.uk", "127.0.0.1", "::1"]
    for host in ["alerts.gmp.police.uk", "ALERTS.GMP.police.uk.", "ops.mps.police.uk", "a.b.mps.police.uk", "::1"]:
        assert host_allowed(host, allowed), host
    assert host_allowed("0:0:0:0:0:0:0:1", allowed)  # the same address, written out
    for host in [
        "gmp.police.uk",
        "alerts.gmp.police.uk.evil.org",
        "evilalerts.gmp.police.uk",
        "mps.police.uk",  # the pattern is for names under it
        "evilmps.police.uk",
        "127.0.0.2",
        "localhost",
    ]:
        assert not host_allowed(host, allowed), host
    assert not host_allowed("alerts.gmp.police.uk", [])


def test_the_settings_take_json_lists_and_refuse_a_pattern_that_is_not_a_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRIMEREC_AUDITOR_WEBHOOK_ALLOWED_HOSTS", '["alerts.gmp.police.uk", "*.mps.police.uk"]')
    monkeypatch.setenv("CRIMEREC_AUDITOR_WEBHOOK_ALLOWED_NETWORKS", '["10.20.0.0/16", "fd00::/8"]')
    from_env = AuditorSettings()
    assert from_env.webhook_allowed_hosts == ["alerts.gmp.police.uk", "*.mps.police.uk"]
    assert [str(n) for n in from_env.webhook_allowed_networks] == ["10.20.0.0/16", "fd00::/8"]
    monkeypatch.delenv("CRIMEREC_AUDITOR_WEBHOOK_ALLOWED_HOSTS")
    monkeypatch.delenv("CRIMEREC_AUDITOR_WEBHOOK_ALLOWED_NETWORKS")
    settings = AuditorSettings(
        webhook_allowed_hosts=["*.gmp.police.uk", "10.20.0.5", "fd00::5"], webhook_allowed_networks=["10.20.0.0/16"]
    )
    assert settings.webhook_allowed_networks == [ipaddress.ip_network("10.20.0.0/16")]
    assert AuditorSettings().webhook_allowed_hosts == [] and AuditorSettings().webhook_allow_http is False
    for bad in ["https://x.org", "x.org/path", "*", "*.x.org:8443", "a b"]:
        with pytest.raises(ValueError, match="not a host name"):
            AuditorSettings(webhook_allowed_hosts=[bad])


class Resolutions:
    """An injected resolver: each host's answers in turn (the last one repeats); records every lookup."""

    def __init__(self, answers: dict[str, list[list[str]]]) -> None:
        self.answers = answers
        self.lookups: list[str] = []

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.lookups.append(host)
        if host not in self.answers:
            raise OSError(-2, "Name or service not known")
        turns = self.answers[host]
        return turns.pop(0) if len(turns) > 1 else turns[0]


async def test_a_callback_is_checked_on_scheme_host_and_every_resolved_address() -> None:
    resolver = Resolutions(
        {
            "ok.example.test": [["93.184.216.34", "2606:4700::1111"]],
            "internal.example.test": [["10.1.2.3"]],
            "mixed.example.test": [["93.184.216.34", "192.168.0.10"]],
            "metadata.example.test": [["169.254.169.254"]],
            "empty.example.test": [[]],
        }
    )
    destinations = Destinations(hosts=("*.example.test",), resolver=resolver)
    await destinations.check("https://ok.example.test/hooks")
    refusals = {
        "http://ok.example.test/hooks": "must be an https URL",
        "https://elsewhere.test/hooks": "host 'elsewhere.test' is not on the auditor's webhook allow-list",
        "https://internal.example.test/": "host 'internal.example.test' resolves to 10.1.2.3 is a private address",
        "https://mixed.example.test/": "host 'mixed.example.test' resolves to 192.168.0.10 is a private address",
        "https://metadata.example.test/": "resolves to 169.254.169.254 is a link-local address",
        "https://unknown.example.test/": "host 'unknown.example.test' does not resolve",
        "https://empty.example.test/": "host 'empty.example.test' resolves to no address",
    }
    for url, reason in refusals.items():
        with pytest.raises(DestinationRefused, match=reason.replace(".", r"\.")):
            await destinations.check(url)
    # A host off the allow-list is refused before its name is looked up.
    assert "elsewhere.test" not in resolver.lookups
    assert Destinations(hosts=("ok.example.test",), allow_http=True).url_refusal("http://ok.example.test/") is None


class LoopbackOnly(httpcore.AsyncNetworkBackend):
    """The network under the pinned backend in these tests: records where it is asked to connect, and refuses
    anything but 127.0.0.1 itself, so no test can send to another address even if the check were broken."""

    def __init__(self) -> None:
        self.inner = httpcore.AnyIOBackend()
        self.connects: list[str] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 -- httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.connects.append(host)
        assert host == "127.0.0.1", f"asked to connect to {host}"
        return await self.inner.connect_tcp(host, port, timeout=timeout)

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[WebhookReceiver, int]]:
    hooks = WebhookReceiver()
    with serve(hooks, "pinning-receiver") as served:
        yield hooks, int(served.url.rsplit(":", 1)[1])


async def test_a_delivery_connects_to_the_address_checked_not_to_the_name_again(
    receiver: tuple[WebhookReceiver, int],
) -> None:
    hooks, port = receiver
    # The name resolves to loopback once, then (rebinding) to a private address: the checked one is used.
    resolver = Resolutions({"hooks.example.test": [["127.0.0.1"], ["10.9.9.9"]]})
    network = LoopbackOnly()
    destinations = Destinations(
        hosts=("hooks.example.test",), networks=LOOPBACK_ONLY, allow_http=True, resolver=resolver
    )
    async with delivery_pool(destinations, connections=1, inner=network) as pool:
        url = f"http://hooks.example.test:{port}/pinned"
        first = await pool.request("POST", url, content=b"{}")
        second = await pool.request("POST", url, content=b"{}")  # the same connection, to the checked address
    assert (first.status, second.status) == (204, 204)
    assert network.connects == ["127.0.0.1"] and resolver.lookups == ["hooks.example.test"]
    (delivered, _again) = hooks.at("/pinned")
    assert delivered.headers["host"] == f"hooks.example.test:{port}"  # the name, for the receiver's virtual host

    # A new connection resolves again, and is refused before connecting: the name now points inside.
    async with delivery_pool(destinations, connections=1, inner=network) as pool:
        with pytest.raises(DestinationRefused, match=r"resolves to 10\.9\.9\.9 is a private address"):
            await pool.request("POST", url, content=b"{}")
    assert network.connects == ["127.0.0.1"] and len(hooks.at("/pinned")) == 2


async def test_the_pinned_backend_never_connects_when_any_address_is_refused() -> None:
    network = LoopbackOnly()
    resolver = Resolutions({"a.example.test": [["127.0.0.1", "172.16.0.1"]], "b.example.test": [["fe80::1"]]})
    backend = PinnedBackend(Destinations(hosts=("*.example.test",), networks=LOOPBACK_ONLY, resolver=resolver), network)
    for host, reason in [("a.example.test", "172.16.0.1 is a private"), ("b.example.test", "fe80::1 is a link-local")]:
        with pytest.raises(DestinationRefused, match=reason):
            await backend.connect_tcp(host, 443)
    with pytest.raises(DestinationRefused, match="not on the auditor's webhook allow-list"):
        await backend.connect_tcp("other.test", 443)
    with pytest.raises(DestinationRefused, match="unix socket"):
        await backend.connect_unix_socket("/run/docker.sock")
    assert network.connects == []
