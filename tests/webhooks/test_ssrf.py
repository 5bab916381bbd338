"""The webhook SSRF guard: which destinations are refused, at creation and per attempt.

Pure unit tests (no store). Names are resolved by an injected resolver, except where the
system resolver is the point (``localhost`` and numeric host forms, which resolve locally).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from ipaddress import IPv4Address, IPv6Address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from previewgate.config import ConfigError, load_settings
from previewgate.errors import Unprocessable
from previewgate.webhooks.ssrf import (
    Destination,
    DestinationRefused,
    Network,
    check_destination,
    parse_destination,
    redirect_refusal,
    refused_reason,
)

NONE: tuple[Network, ...] = ()
LOOPBACK_V4 = (ipaddress.ip_network("127.0.0.0/8"),)


def resolver(table: dict[str, Sequence[str]]):  # type: ignore[no-untyped-def]
    """A resolver answering from ``table``; an unknown name fails like getaddrinfo does."""
    calls: list[tuple[str, int]] = []

    async def resolve(host: str, port: int) -> Sequence[str]:
        calls.append((host, port))
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


async def refused(url: str, allowed: Sequence[Network] = NONE, resolve=None) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(DestinationRefused) as info:
        await check_destination(url, allowed, resolve)
    return info.value.message


# --- The done-when list -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1/", "127.0.0.1 is a loopback address"),
        ("http://169.254.169.254/", "169.254.169.254 is a metadata address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a metadata address"),
        ("http://[::1]/", "[::1] is a loopback address"),
        ("https://[fd00:ec2::254]/", "[fd00:ec2::254] is a metadata address"),
        ("http://100.100.100.200/", "100.100.100.200 is a metadata address"),
        ("http://10.1.2.3:8080/hook", "10.1.2.3 is a private address"),
        ("http://172.16.0.1/", "172.16.0.1 is a private address"),
        ("http://192.168.1.1/", "192.168.1.1 is a private address"),
        ("http://169.254.1.1/", "169.254.1.1 is a link-local address"),
        ("http://0.0.0.0/", "0.0.0.0 is an unspecified address"),
        ("http://[::]/", "[::] is an unspecified address"),
        ("http://224.0.0.1/", "224.0.0.1 is a multicast address"),
        ("http://[ff02::1]/", "[ff02::1] is a multicast address"),
        ("http://100.64.0.1/", "100.64.0.1 is a shared (carrier-grade NAT) address"),
        ("http://[fd12:3456::1]/", "[fd12:3456::1] is a private address"),
        ("http://[fe80::1]/", "[fe80::1] is a link-local address"),
        ("http://240.0.0.1/", "240.0.0.1 is a reserved address"),
        ("http://[::ffff:127.0.0.1]/", "[::ffff:127.0.0.1] is a loopback address"),
        ("http://[::ffff:169.254.169.254]/", "[::ffff:169.254.169.254] is a metadata address"),
        ("http://[::ffff:10.0.0.1]/", "[::ffff:10.0.0.1] is a private address"),
        ("http://[64:ff9b::10.0.0.1]/", "[64:ff9b::10.0.0.1] is a private address"),
        ("http://[2002:7f00:1::]/", "[2002:7f00:1::] is a loopback address"),
    ],
)
async def test_address_literals_are_refused(url: str, expected: str) -> None:
    resolve = resolver({})
    message = await refused(url, resolve=resolve)
    assert message == f"webhook destination refused: {expected}"
    assert resolve.calls == []  # a literal is never handed to a resolver


async def test_a_name_resolving_to_a_private_address_is_refused() -> None:
    resolve = resolver({"hooks.partner.example": ["10.1.2.3"]})
    message = await refused("https://hooks.partner.example/events", resolve=resolve)
    assert "hooks.partner.example resolves to a private address (10.1.2.3)" in message
    assert resolve.calls == [("hooks.partner.example", 443)]


async def test_localhost_through_the_system_resolver_is_refused() -> None:
    message = await refused("http://localhost:8080/hook")
    assert message.startswith("webhook destination refused: localhost resolves to a loopback")


async def test_the_refusal_is_a_422_in_the_openai_shape() -> None:
    with pytest.raises(DestinationRefused) as info:
        await check_destination("http://127.0.0.1/", NONE)
    error = info.value
    assert isinstance(error, Unprocessable) and error.status == 422
    assert error.body()["error"]["code"] == "webhook_destination_refused"
    assert error.body()["error"]["type"] == "invalid_request_error"
    assert error.host == "127.0.0.1"


@pytest.mark.parametrize("status", [300, 301, 302, 303, 307, 308, 399])
def test_a_redirect_answer_is_a_refusal_reason(status: int) -> None:
    assert redirect_refusal(status) == (
        f"the receiver answered a redirect ({status}); redirects are not followed"
    )


@pytest.mark.parametrize("status", [200, 201, 204, 299, 400, 404, 500])
def test_other_answers_are_not_redirects(status: int) -> None:
    assert redirect_refusal(status) is None


# --- Numeric host forms -----------------------------------------------------------------


@pytest.mark.parametrize("host", ["2130706433", "0177.0.0.1", "0x7f.1", "127.1", "0x7f000001"])
async def test_numeric_forms_of_loopback_are_refused_with_the_system_resolver(host: str) -> None:
    message = await refused(f"http://{host}/")
    assert f"{host} resolves to a loopback address (127.0.0.1)" in message


async def test_numeric_forms_are_read_as_addresses_whatever_the_resolver_says() -> None:
    # A resolver that does not parse numeric hosts (a plain DNS client) must not be asked.
    resolve = resolver({"2130706433": ["93.184.216.34"]})
    message = await refused("http://2130706433/", resolve=resolve)
    assert "loopback address (127.0.0.1)" in message
    assert resolve.calls == []
    assert "not a valid IPv4 address" in await refused("http://1.2.3.4.5/", resolve=resolve)
    assert await check_destination("http://0x5db8d822/", NONE) == [IPv4Address("93.184.216.34")]


# --- Public destinations ----------------------------------------------------------------


async def test_public_addresses_are_accepted_and_returned() -> None:
    resolve = resolver({"hooks.partner.example": ["93.184.216.34", "2606:4700::1111"]})
    addresses = await check_destination("https://hooks.partner.example/e?x=1", NONE, resolve)
    assert addresses == [IPv4Address("93.184.216.34"), IPv6Address("2606:4700::1111")]
    assert resolve.calls == [("hooks.partner.example", 443)]


async def test_public_literals_are_accepted() -> None:
    assert await check_destination("http://93.184.216.34:8443/", NONE) == [
        IPv4Address("93.184.216.34")
    ]
    assert await check_destination("https://[2606:4700::1111]/", NONE) == [
        IPv6Address("2606:4700::1111")
    ]


async def test_duplicate_answers_are_returned_once() -> None:
    resolve = resolver({"h.example": ["93.184.216.34", "93.184.216.34"]})
    assert await check_destination("http://h.example/", NONE, resolve) == [
        IPv4Address("93.184.216.34")
    ]


async def test_one_private_answer_among_public_ones_refuses_the_name() -> None:
    resolve = resolver({"mixed.example": ["93.184.216.34", "2606:4700::1111", "10.0.0.7"]})
    message = await refused("http://mixed.example/", resolve=resolve)
    assert "mixed.example resolves to a private address (10.0.0.7)" in message


async def test_each_check_resolves_again() -> None:
    # Creation passes; the name is later pointed at the metadata service; the next attempt's
    # check sees it.
    table: dict[str, Sequence[str]] = {"rebind.example": ["93.184.216.34"]}
    resolve = resolver(table)
    await check_destination("http://rebind.example/", NONE, resolve)
    table["rebind.example"] = ["169.254.169.254"]
    message = await refused("http://rebind.example/", resolve=resolve)
    assert "resolves to a metadata address (169.254.169.254)" in message
    assert len(resolve.calls) == 2


# --- Resolution failures ----------------------------------------------------------------


async def test_a_name_that_does_not_resolve_is_refused() -> None:
    message = await refused("http://nowhere.example/", resolve=resolver({}))
    assert message == "webhook destination refused: nowhere.example does not resolve"


async def test_an_empty_answer_is_refused() -> None:
    message = await refused("http://empty.example/", resolve=resolver({"empty.example": []}))
    assert "empty.example resolves to no address" in message


async def test_a_non_address_answer_is_refused() -> None:
    resolve = resolver({"odd.example": ["93.184.216.34", "not-an-ip"]})
    assert "not an IP address" in await refused("http://odd.example/", resolve=resolve)


async def test_a_slow_resolver_is_refused() -> None:
    import asyncio

    async def hang(host: str, port: int) -> list[str]:
        await asyncio.sleep(10)
        return ["93.184.216.34"]

    with pytest.raises(DestinationRefused) as info:
        await check_destination("http://slow.example/", NONE, hang, timeout_s=0.05)
    assert "slow.example did not resolve within 0.05 s" in info.value.message


async def test_the_system_resolver_failing_is_refused() -> None:
    # .invalid never resolves (RFC 6761), with or without network access.
    assert "does not resolve" in await refused("http://no-such-host.invalid/")


# --- Allowlist --------------------------------------------------------------------------


async def test_allowlisting_loopback_permits_only_loopback() -> None:
    assert await check_destination("http://127.0.0.1:9000/", LOOPBACK_V4) == [
        IPv4Address("127.0.0.1")
    ]
    assert await check_destination("http://[::ffff:127.0.0.1]/", LOOPBACK_V4) == [
        IPv6Address("::ffff:127.0.0.1")
    ]
    assert "10.0.0.1 is a private address" in await refused("http://10.0.0.1/", LOOPBACK_V4)
    assert "[::1] is a loopback address" in await refused("http://[::1]/", LOOPBACK_V4)
    metadata = await refused("http://169.254.169.254/", LOOPBACK_V4)
    assert "metadata address" in metadata


async def test_allowlist_applies_to_every_answer_of_a_name() -> None:
    resolve = resolver({"lab.example": ["127.0.0.1", "10.0.0.1"]})
    assert "private address (10.0.0.1)" in await refused(
        "http://lab.example/", LOOPBACK_V4, resolve
    )
    both = (*LOOPBACK_V4, ipaddress.ip_network("10.0.0.0/24"))
    assert await check_destination("http://lab.example/", both, resolve) == [
        IPv4Address("127.0.0.1"),
        IPv4Address("10.0.0.1"),
    ]


async def test_localhost_is_accepted_when_loopback_is_allowlisted() -> None:
    loopback = (*LOOPBACK_V4, ipaddress.ip_network("::1/128"))
    addresses = await check_destination("http://localhost:8080/", loopback)
    assert addresses and all(a.is_loopback for a in addresses)


def test_the_allowlist_setting_is_parsed_like_trusted_proxies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PREVIEWGATE_WEBHOOK_ALLOWED_NETWORKS", raising=False)
    assert load_settings().webhook_allowed_network_list == ()
    monkeypatch.setenv("PREVIEWGATE_WEBHOOK_ALLOWED_NETWORKS", "127.0.0.0/8, ::1 ,10.0.0.5/24")
    assert load_settings().webhook_allowed_network_list == (
        ipaddress.ip_network("127.0.0.0/8"),
        ipaddress.ip_network("::1/128"),
        ipaddress.ip_network("10.0.0.0/24"),
    )
    monkeypatch.setenv("PREVIEWGATE_WEBHOOK_ALLOWED_NETWORKS", "127.0.0.0/8,banana")
    with pytest.raises(ConfigError, match="PREVIEWGATE_WEBHOOK_ALLOWED_NETWORKS"):
        load_settings()


# --- The URL itself ---------------------------------------------------------------------


def test_parse_destination_defaults_the_port_by_scheme() -> None:
    assert parse_destination("http://Hooks.Example/x") == Destination("hooks.example", 80, "http")
    assert parse_destination("HTTPS://hooks.example/x") == ("hooks.example", 443, "https")
    assert parse_destination("https://[2606:4700::1111]:8443/") == (
        "2606:4700::1111",
        8443,
        "https",
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("ftp://hooks.example/", "the scheme must be http or https, not 'ftp'"),
        ("file:///etc/passwd", "the scheme must be http or https, not 'file'"),
        ("gopher://127.0.0.1:6379/_INFO", "the scheme must be http or https, not 'gopher'"),
        ("hooks.example/path", "the scheme must be http or https, not ''"),
        ("http:///path", "the URL has no host"),
        ("http://:80/", "the URL has no host"),
        ("http://hooks.example:99999/", "the URL cannot be parsed (bad host or port)"),
        ("http://hooks.example:port/", "the URL cannot be parsed (bad host or port)"),
        ("http://[::1/", "the URL cannot be parsed (bad host or port)"),
        ("http://hooks.example:0/", "hooks.example has port 0"),
        ("http://hooks.example/a b", "the URL contains whitespace or control characters"),
        ("http://hooks.exa\tmple/", "the URL contains whitespace or control characters"),
        ("http://hooks.example/" + "a" * 2048, "the URL is longer than 2048 characters"),
    ],
)
def test_malformed_urls_are_refused(url: str, expected: str) -> None:
    with pytest.raises(DestinationRefused) as info:
        parse_destination(url)
    assert info.value.message == f"webhook destination refused: {expected}"


@pytest.mark.parametrize(
    "url",
    [
        "https://partner:s3cr3t-Pa55@hooks.example/events",
        "https://tok3n-only@hooks.example/",
        "http://s3cr3t-Pa55:@127.0.0.1/",
        "http://hooks.example\\@s3cr3t-Pa55@10.0.0.1/",
        "http://@hooks.example/",
    ],
)
async def test_credentials_in_the_url_are_refused_and_never_echoed(url: str) -> None:
    resolve = resolver({"hooks.example": ["93.184.216.34"]})
    message = await refused(url, resolve=resolve)
    assert message.endswith(": the URL must not carry credentials (user:password@)")
    assert resolve.calls == []


async def test_refusals_name_the_host_but_not_the_path_or_query() -> None:
    resolve = resolver({"hooks.example": ["10.0.0.9"]})
    message = await refused("https://hooks.example/t/s3cr3t-path?token=s3cr3t-q", resolve=resolve)
    assert "hooks.example" in message and "s3cr3t" not in message


# --- refused_reason ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.0.1", "private"),
        ("fc00::1", "private"),
        ("fdff:ffff::1", "private"),
        ("169.254.0.1", "link-local"),
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("224.0.0.251", "multicast"),
        ("239.255.255.250", "multicast"),
        ("ff05::2", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("0.1.2.3", "unspecified"),
        ("::", "unspecified"),
        ("100.64.0.0", "shared (carrier-grade NAT)"),
        ("100.127.255.255", "shared (carrier-grade NAT)"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("192.0.2.1", "reserved"),  # documentation
        ("198.18.0.1", "reserved"),  # benchmarking
        ("2001:db8::1", "reserved"),  # documentation
        ("169.254.169.254", "metadata"),
        ("169.254.170.2", "metadata"),
        ("100.100.100.200", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "metadata"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:100.100.100.200", "metadata"),
        ("::127.0.0.1", "loopback"),  # IPv4-compatible (deprecated)
        ("::8.8.8.8", "reserved"),
        ("::ffff:0:10.0.0.1", "private"),  # IPv4-translated
        ("64:ff9b::127.0.0.1", "loopback"),  # NAT64
        ("64:ff9b::169.254.169.254", "metadata"),
        ("64:ff9b::192.168.1.1", "private"),
        ("64:ff9b:1::1", "reserved"),  # local-use NAT64
        ("2002:a00:1::1", "private"),  # 6to4 of 10.0.0.1
        ("2002:a9fe:a9fe::", "metadata"),  # 6to4 of 169.254.169.254
        ("2002:7f00:1::", "loopback"),
    ],
)
def test_refused_reason(address: str, reason: str) -> None:
    assert refused_reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize(
    "address",
    [
        "93.184.216.34",
        "8.8.8.8",
        "1.1.1.1",
        "100.63.255.255",  # just below the shared address space
        "100.128.0.0",  # just above it
        "172.32.0.1",  # just above 172.16.0.0/12
        "2606:4700::1111",
        "2a00:1450:4001:80b::200e",
        "::ffff:93.184.216.34",
        "64:ff9b::93.184.216.34",  # NAT64 of a public address
        "2002:5db8:d822::1",  # 6to4 of a public address
    ],
)
def test_public_addresses_have_no_reason(address: str) -> None:
    assert refused_reason(ipaddress.ip_address(address)) is None


NON_PUBLIC_V4 = [
    ipaddress.ip_network(n)
    for n in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "100.64.0.0/10",
        "0.0.0.0/8",
        "224.0.0.0/4",
    )
]


def _in(network: ipaddress.IPv4Network) -> st.SearchStrategy[IPv4Address]:
    first, last = int(network.network_address), int(network.broadcast_address)
    return st.integers(first, last).map(IPv4Address)


non_public_v4 = st.sampled_from(NON_PUBLIC_V4).flatmap(_in)


@given(non_public_v4)
def test_every_non_public_v4_address_is_refused_in_every_v6_form(address: IPv4Address) -> None:
    assert refused_reason(address) is not None
    embedded = int(address)
    for v6 in (
        IPv6Address((0xFFFF << 32) | embedded),  # ::ffff:a.b.c.d
        IPv6Address((0x64FF9B << 96) | embedded),  # 64:ff9b::a.b.c.d
        IPv6Address((0x2002 << 112) | (embedded << 80)),  # 2002:aabb:ccdd::
        IPv6Address(embedded) if embedded > 1 else IPv6Address(0xFFFF << 32),
    ):
        assert refused_reason(v6) is not None, v6


@given(st.integers(0, 2**32 - 1).map(IPv4Address))
def test_the_mapped_form_of_any_v4_address_has_the_same_reason(address: IPv4Address) -> None:
    assert refused_reason(IPv6Address((0xFFFF << 32) | int(address))) == refused_reason(address)
