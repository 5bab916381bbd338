"""Connections through an HTTP egress proxy.

An http upstream is reached by sending each request to the proxy in absolute form (the
client writes that head); an https upstream through a ``CONNECT`` tunnel, inside which
TLS runs end to end: the upstream's certificate and host name are verified exactly as on
a direct connection, and the proxy sees only ciphertext. Credentials go in a
``Proxy-Authorization`` header and nowhere else.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from typing import TypeVar

from previewgate.egress import EgressProxy
from previewgate.gateway.http_errors import ConnectError, ProxyRefused, ProxyUnreachable

MAX_REPLY_HEAD = 16 * 1024
P = TypeVar("P", bound=asyncio.Protocol)


class _ConnectReply(asyncio.Protocol):
    """Reads the proxy's answer to CONNECT: its status line and headers, nothing more."""

    def __init__(self) -> None:
        self.head: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._buffer = b""

    def data_received(self, data: bytes) -> None:
        if self.head.done():
            return
        self._buffer += data
        end = self._buffer.find(b"\r\n\r\n")
        if end >= 0:
            self.head.set_result(self._buffer[:end])
        elif len(self._buffer) > MAX_REPLY_HEAD:
            self.head.set_exception(ProxyRefused("the egress proxy's answer is not HTTP"))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.head.done():
            self.head.set_exception(ProxyRefused("the egress proxy closed the connection"))


def _status(head: bytes) -> int:
    parts = head.split(b"\r\n", 1)[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        raise ProxyRefused("the egress proxy's answer is not HTTP")
    return int(parts[1])


def _authority(host: str, port: int) -> bytes:
    return (f"[{host}]:{port}" if ":" in host else f"{host}:{port}").encode("latin-1")


def connect_request(proxy: EgressProxy, host: str, port: int) -> bytes:
    authority = _authority(host, port)
    head = b"CONNECT " + authority + b" HTTP/1.1\r\nhost: " + authority + b"\r\n"
    if proxy.authorization is not None:
        head += b"proxy-authorization: " + proxy.authorization + b"\r\n"
    return head + b"\r\n"


async def _dial(proxy: EgressProxy, factory: Callable[[], P]) -> tuple[asyncio.Transport, P]:
    loop = asyncio.get_running_loop()
    try:
        transport, protocol = await loop.create_connection(factory, proxy.host, proxy.port)
    except OSError as exc:
        raise ProxyUnreachable(
            f"cannot connect to the egress proxy {proxy}: {type(exc).__name__}"
        ) from exc
    return transport, protocol  # type: ignore[return-value]


async def open_via_proxy(
    proxy: EgressProxy,
    host: str,
    port: int,
    context: ssl.SSLContext | None,
    factory: Callable[[], P],
) -> P:
    """A connection to ``host:port`` through ``proxy``: a plain one to the proxy when
    ``context`` is None (http), else a verified TLS connection inside a CONNECT tunnel."""
    if context is None:
        return (await _dial(proxy, factory))[1]
    transport, reply = await _dial(proxy, _ConnectReply)
    try:
        transport.write(connect_request(proxy, host, port))
        status = _status(await reply.head)
        if status >= 500:  # the proxy is willing but cannot reach the upstream (RFC 9110)
            raise ConnectError(f"the egress proxy could not reach the upstream ({status})")
        if not 200 <= status <= 299:
            raise ProxyRefused(f"the egress proxy refused the tunnel ({status})")
        protocol = factory()
        tls = await asyncio.get_running_loop().start_tls(
            transport, protocol, context, server_hostname=host
        )
    except BaseException:
        transport.close()
        raise
    if tls is None:  # the loop's signature allows it; a closed connection in practice
        raise ConnectError("the tunnel closed during the TLS handshake")
    protocol.connection_made(tls)
    return protocol
