"""Every way an upstream call can fail, as the upstream client raises it.

UpstreamHTTPError
├── ConnectError          no connection to the upstream: refused, unresolvable, TLS failed
│   └── ProxyError        ... because of the egress proxy
│       ├── ProxyUnreachable   no connection to the proxy itself
│       ├── ProxyRefused       the proxy refused to carry the request (e.g. 407, 403)
│       └── ProxyUnknown       the upstream names a proxy the environment does not define
├── ConnectTimeout        connecting (TCP, proxy tunnel, TLS) took too long
├── ReadTimeout           the upstream went silent for too long
├── Disconnected          the connection closed before the answer was complete
└── ProtocolError         not a valid HTTP/1.1 answer, or beyond our limits

The proxy (`gateway.proxy`) maps each to a usage ``error_kind`` and a message of ours.
Texts here name hosts and exception types, never credentials.
"""

from __future__ import annotations


class UpstreamHTTPError(Exception):
    """Base of every failure of an upstream call."""


class ConnectError(UpstreamHTTPError):
    """No connection: refused, unresolvable, TLS handshake failed."""


class ProxyError(ConnectError):
    """No connection because of the egress proxy."""


class ProxyUnreachable(ProxyError):
    """The egress proxy itself cannot be reached (down, unresolvable)."""


class ProxyRefused(ProxyError):
    """The egress proxy answered, and refused to carry the request."""


class ProxyUnknown(ProxyError):
    """The upstream's ``proxy`` names no proxy of ``PREVIEWGATE_EGRESS_PROXIES``."""


class ConnectTimeout(UpstreamHTTPError):
    """The connection (TCP + TLS) took longer than the connect timeout."""


class ReadTimeout(UpstreamHTTPError):
    """The upstream sent nothing for longer than the read timeout."""


class Disconnected(UpstreamHTTPError):
    """The upstream closed the connection before the response was complete."""


class ProtocolError(UpstreamHTTPError):
    """The upstream's bytes are not a valid HTTP/1.1 response (or exceed our limits)."""
