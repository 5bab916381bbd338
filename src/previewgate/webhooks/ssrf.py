"""Where a webhook may be delivered: a partner's URL must reach the public internet.

A partner registers the URL, so without this guard the gateway could be made to POST into
its own network (loopback services, the database, a cloud metadata endpoint). The URL is
checked when the endpoint is created and again before every attempt, because what a name
resolves to can change after creation. Only networks the operator allowlists
(``PREVIEWGATE_WEBHOOK_ALLOWED_NETWORKS``) are exempt.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import NamedTuple
from urllib.parse import urlsplit

from previewgate.errors import Unprocessable

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network
# host, port -> the addresses it resolves to, as strings.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

MAX_URL_LEN = 2048
DEFAULT_PORTS = {"http": 80, "https": 443}
RESOLVE_TIMEOUT_S = 5.0

# Named explicitly so the reason says what they are (most are also link-local or private).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, DigitalOcean, OpenStack
        "169.254.170.2",  # AWS ECS task metadata
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
        "fd00:ec2::254",  # AWS over IPv6
    )
)
RFC1918 = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT
THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
ULA = ipaddress.ip_network("fc00::/7")
SITE_LOCAL = ipaddress.ip_network("fec0::/10")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # local-use NAT64: the operator's own
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")


class DestinationRefused(Unprocessable):
    """A webhook URL the gateway will not deliver to. The message names the host and the
    reason, never the whole URL (its path, query or userinfo may carry secrets)."""

    code = "webhook_destination_refused"

    def __init__(self, reason: str, *, host: str | None = None) -> None:
        super().__init__(f"webhook destination refused: {reason}")
        self.reason = reason
        self.host = host


class Destination(NamedTuple):
    host: str  # lower-case, IPv6 literals without brackets
    port: int
    scheme: str


def parse_destination(url: str) -> Destination:
    """The host, port and scheme of a webhook URL, or DestinationRefused."""
    if len(url) > MAX_URL_LEN:
        raise DestinationRefused(f"the URL is longer than {MAX_URL_LEN} characters")
    # urlsplit silently drops some whitespace and control characters; a URL holding them
    # could mean one thing here and another to the HTTP client.
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise DestinationRefused("the URL contains whitespace or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise DestinationRefused("the URL cannot be parsed (bad host or port)") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise DestinationRefused(f"the scheme must be http or https, not {scheme[:16]!r}")
    # Checked on the raw netloc, not on parts.username: "a@b@c" and "@host" hold userinfo too.
    if "@" in parts.netloc:
        raise DestinationRefused("the URL must not carry credentials (user:password@)")
    host = parts.hostname
    if not host:
        raise DestinationRefused("the URL has no host")
    if port == 0:
        raise DestinationRefused(f"{_shown(host)} has port 0", host=host)
    return Destination(host=host, port=port or DEFAULT_PORTS[scheme], scheme=scheme)


def refused_reason(address: Address) -> str | None:
    """Why no webhook may be sent to ``address`` (a category such as "loopback", "private",
    "metadata"), or None when it is a public address."""
    if isinstance(address, IPv6Address) and address.scope_id:
        address = IPv6Address(int(address))  # "fe80::1%eth0": the zone does not matter here
    if address in METADATA_ADDRESSES:
        return "metadata"
    if isinstance(address, IPv4Address):
        return _refused_v4(address)
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    # Forms that carry an IPv4 address reach (or are translated to) that address: they are
    # what the IPv4 address is, whatever Python's version-dependent is_private says of them.
    embedded = _embedded_v4(address)
    if embedded is not None:
        return _refused_v4(embedded)
    # Deprecated or translator-only forms: no public receiver is reached through them.
    if address in IPV4_COMPATIBLE or address in IPV4_TRANSLATED:
        return _refused_v4(IPv4Address(int(address) & 0xFFFFFFFF)) or "reserved"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address in ULA or address in SITE_LOCAL:
        return "private"
    if address in NAT64_LOCAL or address.is_reserved or not address.is_global:
        return "reserved"
    return None


def _refused_v4(address: IPv4Address) -> str | None:
    if address in METADATA_ADDRESSES:
        return "metadata"
    if address.is_unspecified or address in THIS_NETWORK:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if any(address in net for net in RFC1918):
        return "private"
    if address in SHARED_ADDRESS_SPACE:
        return "shared (carrier-grade NAT)"
    # Documentation, benchmarking, 240/4, broadcast and the other special-purpose ranges.
    if address.is_reserved or not address.is_global:
        return "reserved"
    return None


def _embedded_v4(address: IPv6Address) -> IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return None


async def system_resolve(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for ``host`` (A and AAAA, hosts file)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def check_destination(
    url: str,
    allowed: Sequence[Network],
    resolve: Resolver | None = None,
    *,
    timeout_s: float = RESOLVE_TIMEOUT_S,
) -> list[Address]:
    """The addresses a webhook to ``url`` may connect to, or DestinationRefused.

    Every address the host resolves to must be public or inside an ``allowed`` network: a
    name with one public and one private address is refused, since the connection could go
    to either. Call it at endpoint creation and again before each attempt, then connect to
    one of the returned addresses (sending the URL's host as Host and TLS server name), not
    to the host name: resolving again at connect time would let a DNS answer that changed
    in between (a rebind to a private address) slip past the check.
    """
    destination = parse_destination(url)
    host = destination.host
    literal = _ip_literal(host)
    if literal is not None:
        addresses = [literal]
    else:
        addresses = await _resolve(host, destination.port, resolve or system_resolve, timeout_s)
    for address in addresses:
        reason = refused_reason(address)
        if reason is not None and not _allowlisted(address, allowed):
            kind = f"{_article(reason)} {reason} address"
            raise DestinationRefused(
                f"{_shown(host)} is {kind}"
                if _is_ip(host)
                else f"{_shown(host)} resolves to {kind} ({address})",
                host=host,
            )
    return list(dict.fromkeys(addresses))


def redirect_refusal(status: int) -> str | None:
    """The failure reason for a receiver that answered ``status`` with a redirect (the
    target of a redirect has not been checked, so it is never followed), else None."""
    if 300 <= status < 400:
        return f"the receiver answered a redirect ({status}); redirects are not followed"
    return None


def _ip_literal(host: str) -> Address | None:
    """The address ``host`` spells, or None for a name to resolve.

    Besides the canonical forms, a host whose last label is a number is an IPv4 address in
    the URL standard and to the C resolver ("2130706433", "0177.0.0.1", "0x7f.1" are all
    127.0.0.1), so it is read as one here rather than left to whichever resolver is used.
    """
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    last = host.removesuffix(".").rsplit(".", 1)[-1]
    if not last.isascii():
        return None
    if not (last.isdigit() or (last[:2] == "0x" and _is_hex(last[2:]))):
        return None
    try:
        return IPv4Address(socket.inet_aton(host.removesuffix(".")))
    except OSError:
        raise DestinationRefused(f"{_shown(host)} is not a valid IPv4 address", host=host) from None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _is_hex(text: str) -> bool:
    return all(ch in "0123456789abcdef" for ch in text)


async def _resolve(host: str, port: int, resolve: Resolver, timeout_s: float) -> list[Address]:
    try:
        found = await asyncio.wait_for(resolve(host, port), timeout_s)
    except TimeoutError:
        raise DestinationRefused(
            f"{_shown(host)} did not resolve within {timeout_s:g} s", host=host
        ) from None
    except (OSError, UnicodeError):  # gaierror; an IDNA label the encoder refuses
        raise DestinationRefused(f"{_shown(host)} does not resolve", host=host) from None
    addresses = []
    for text in found:
        try:
            addresses.append(ipaddress.ip_address(text))
        except ValueError:
            raise DestinationRefused(
                f"{_shown(host)} resolved to something that is not an IP address", host=host
            ) from None
    if not addresses:
        raise DestinationRefused(f"{_shown(host)} resolves to no address", host=host)
    return addresses


def _allowlisted(address: Address, allowed: Sequence[Network]) -> bool:
    # ::ffff:127.0.0.1 reaches 127.0.0.1, so an IPv4 allowlist covers its mapped form.
    mapped = address.ipv4_mapped if isinstance(address, IPv6Address) else None
    return any(address in net or (mapped is not None and mapped in net) for net in allowed)


def _shown(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"
