"""Egress: which HTTP proxy, if any, an upstream call goes through. Pure: no I/O.

The standard variables pick the proxy of the environment: ``HTTPS_PROXY`` for https
upstreams, ``HTTP_PROXY`` for http ones, ``NO_PROXY`` for the hosts reached directly.
An upstream's ``proxy`` field overrides them: ``"direct"``, or the name of a proxy of
``PREVIEWGATE_EGRESS_PROXIES`` (names, not URLs, because the upstream JSON is stored in
clear and shown to admins, and a proxy URL may carry a password).

A proxy URL's credentials become a ready ``Proxy-Authorization`` value and are kept
nowhere else; an `EgressProxy` prints as ``host:port`` only.
"""

from __future__ import annotations

import base64
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

DIRECT = "direct"
PROXY_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")


@dataclass(frozen=True, slots=True)
class EgressProxy:
    """An HTTP proxy: where it listens and, if it wants them, our credentials."""

    host: str
    port: int
    authorization: bytes | None = field(default=None, repr=False)

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


class UnknownProxy(LookupError):
    """An upstream names a proxy the environment does not configure."""


def parse_proxy_url(url: str) -> EgressProxy:
    """``http://[user:password@]host[:port]`` (``host:port`` alone means http).

    Raises ValueError with a message that never quotes the URL: it may hold a password.
    """
    text = url.strip()
    parts = urlsplit(text if "://" in text else f"http://{text}")
    if parts.scheme != "http":
        raise ValueError(
            "only http:// proxies are supported (https upstreams are tunnelled with CONNECT)"
        )
    try:
        port = parts.port or 80
    except ValueError:
        raise ValueError("the proxy port is not a number from 0 to 65535") from None
    if not parts.hostname:
        raise ValueError("the proxy URL has no host")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("a proxy URL has a host, a port and credentials only")
    authorization = None
    if parts.username is not None:
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        authorization = b"Basic " + base64.b64encode(credentials.encode())
    return EgressProxy(parts.hostname, port, authorization)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class _Exception:
    host: str | None  # a name (lower case, no leading dot): itself and its subdomains
    network: Network | None  # an IP address or range, for IP-literal hosts
    port: int | None  # None: any port


class NoProxy:
    """``NO_PROXY`` as curl reads it: comma-separated ``*``, host names (matching their
    subdomains, a leading dot optional), IP addresses and CIDR ranges, each optionally
    with ``:port``."""

    def __init__(self, value: str) -> None:
        self.everything = False
        self._entries: list[_Exception] = []
        for raw in value.split(","):
            entry = raw.strip().lower()
            if entry == "*":
                self.everything = True
            elif entry:
                self._entries.append(_parse_exception(entry))

    def matches(self, host: str, port: int) -> bool:
        if self.everything:
            return True
        host = host.lower().strip("[]").rstrip(".")
        try:
            address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(
                host
            )
        except ValueError:
            address = None
        for entry in self._entries:
            if entry.port is not None and entry.port != port:
                continue
            if entry.network is not None:
                if address is not None and address in entry.network:
                    return True
            elif entry.host is not None and (host == entry.host or host.endswith("." + entry.host)):
                return True
        return False


def _parse_exception(entry: str) -> _Exception:
    port = None
    if entry.startswith("["):  # [v6]:port or [v6]
        host, _, rest = entry[1:].partition("]")
        if rest.startswith(":") and rest[1:].isdigit():
            port = int(rest[1:])
    elif entry.count(":") == 1:  # name:port or v4:port (a bare v6 address has several)
        host, _, digits = entry.partition(":")
        if digits.isdigit():
            port = int(digits)
        else:
            host = entry
    else:
        host = entry
    try:
        return _Exception(None, ipaddress.ip_network(host, strict=False), port)
    except ValueError:
        return _Exception(host.lstrip(".").rstrip("."), None, port)


@dataclass(frozen=True, slots=True)
class Egress:
    """The process's egress policy: the environment's proxies and the named ones."""

    http: EgressProxy | None = None
    https: EgressProxy | None = None
    no_proxy: NoProxy = field(default_factory=lambda: NoProxy(""))
    named: Mapping[str, EgressProxy] = field(default_factory=dict)

    def choose(self, scheme: str, host: str, port: int, override: str | None) -> EgressProxy | None:
        """The proxy for one upstream origin, or None for a direct connection.

        An upstream's own choice (``override``) wins over ``NO_PROXY``; an unknown name
        raises `UnknownProxy` rather than falling back to a route the operator did not pick.
        """
        if override == DIRECT:
            return None
        if override is not None:
            proxy = self.named.get(override)
            if proxy is None:
                raise UnknownProxy(override)
            return proxy
        proxy = self.https if scheme == "https" else self.http
        if proxy is None or self.no_proxy.matches(host, port):
            return None
        return proxy
