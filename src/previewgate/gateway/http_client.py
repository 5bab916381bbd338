"""The upstream HTTP client: pooled keep-alive HTTP/1.1 POSTs, parsed by httptools.

The gateway makes one kind of outbound call: POST a JSON body to an upstream API and relay
the answer. aiohttp did this before; measured with ``bench/overhead.py``, its per-request
machinery (request and response objects, a task to write the body, header multidicts,
trace hooks, timers) was 26-42 % of the event loop's time under load, the largest block
left on the hot path (``bench/README.md``, "Choices measured"). This client does only what
that call needs, and leaves all HTTP parsing to httptools (llhttp, the parser uvicorn
runs): content-length, chunked and close-delimited bodies, 1xx interim responses,
keep-alive. It decodes gzip and deflate. It goes through an egress proxy when the
process's `Egress` policy says so (``gateway.tunnel``). It does not follow redirects, use
cookies or HTTP/2: an upstream is an API base URL.

Errors are drawn in ``gateway.http_errors``, so the proxy maps them to usage ``error_kind``
in one place. A request is never retried: a POST may have been processed.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
import time
import zlib
from typing import Any
from urllib.parse import urlsplit

import httptools

from previewgate.egress import Egress, EgressProxy, UnknownProxy
from previewgate.gateway.http_errors import (
    ConnectError,
    ConnectTimeout,
    Disconnected,
    ProtocolError,
    ProxyRefused,
    ProxyUnknown,
    ReadTimeout,
    UpstreamHTTPError,
)
from previewgate.gateway.tunnel import open_via_proxy

# Reading pauses when this much body is buffered and unread (backpressure on a fast upstream).
HIGH_WATER = 1 << 20
MAX_HEADER_BYTES = 64 * 1024
# A decompressed body larger than this is refused (a few KiB of gzip can expand to GiBs).
MAX_DECODED_BYTES = 256 * 1024 * 1024

# scheme, host, port and the egress proxy: connections are pooled per route, not per host.
Origin = tuple[str, str, int, EgressProxy | None]


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection, one exchange at a time; httptools calls the ``on_*``."""

    def __init__(self, origin: Origin, read_timeout_s: float) -> None:
        self.origin = origin
        self.read_timeout_s = read_timeout_s
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._loop = asyncio.get_running_loop()
        self._waiter: asyncio.Future[None] | None = None
        # One parser for the connection's life: llhttp reads keep-alive responses in sequence.
        self.parser = httptools.HttpResponseParser(self)
        self._reset()

    def _reset(self) -> None:
        self.active = False
        self.status = 0
        self.headers: list[tuple[str, str]] = []
        self.headers_done = False
        self.complete = False
        self.error: UpstreamHTTPError | None = None
        self.reusable = True
        self.chunks: collections.deque[bytes] = collections.deque()
        self.buffered = 0
        self.paused = False
        self._header_bytes = 0
        self._decoder: Any = None
        self._decoded = 0
        self._delimited = False  # the body has a length or is chunked (else: ends at close)

    # -- request side ---------------------------------------------------------------------

    def begin(self, data: list[bytes]) -> None:
        assert self.transport is not None
        self._reset()
        self.active = True
        self.transport.writelines(data)

    async def wait(self) -> None:
        """Until the parser reports progress, the connection ends, or the read timeout."""
        waiter = self._loop.create_future()
        self._waiter = waiter
        timer = self._loop.call_later(self.read_timeout_s, self._time_out, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None

    def _time_out(self, waiter: asyncio.Future[None]) -> None:
        if not waiter.done():
            self._fail(ReadTimeout(f"no data from the upstream for {self.read_timeout_s:g}s"))

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, error: UpstreamHTTPError) -> None:
        if self.error is None and not self.complete:
            self.error = error
        self.reusable = False
        if self.transport is not None:
            self.transport.close()
        self._wake()

    def take(self) -> bytes:
        """Everything buffered so far, in one piece; reading resumes if it was paused."""
        chunks = self.chunks
        data = chunks.popleft() if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        self.buffered = 0
        if self.paused and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()
        return data

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    # -- asyncio.Protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if not self.active:
            self.close()  # bytes on an idle connection: the server is not speaking to us
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ProtocolError(f"invalid HTTP response from the upstream: {exc}"))

    def eof_received(self) -> bool:
        return False  # close our side too; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.active and not self.complete and self.error is None:
            if self.headers_done and not self._delimited:
                self.complete = True  # the body ends where the connection does
            else:
                self.error = Disconnected("the upstream closed the connection early")
        self._wake()

    # -- httptools callbacks --------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.complete:
            self._fail(ProtocolError("the upstream sent more than one response"))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value)
        if self._header_bytes > MAX_HEADER_BYTES:
            raise httptools.HttpParserError("response headers are too large")
        self.headers.append((name.decode("latin-1").lower(), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if status < 200:
            self.headers = []  # interim response (100 Continue, 103 Early Hints): not ours
            self._header_bytes = 0
            return
        self.status = status
        self.headers_done = True
        for name, value in self.headers:
            if name == "content-length" or (name == "transfer-encoding" and value):
                self._delimited = True
            elif name == "content-encoding":
                self._decoder = _decoder(value)
        self._wake()

    def on_body(self, body: bytes) -> None:
        if self._decoder is not None:
            try:
                body = self._decoder.decompress(body)
            except zlib.error as exc:
                raise httptools.HttpParserError(f"undecodable body: {exc}") from exc
            self._decoded += len(body)
            if self._decoded > MAX_DECODED_BYTES:
                raise httptools.HttpParserError("decoded body is too large")
            if not body:
                return
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > HIGH_WATER and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if not self.headers_done:
            return  # the end of an interim response
        if self._decoder is not None:
            tail = self._decoder.flush()
            if tail:
                self.chunks.append(tail)
                self.buffered += len(tail)
        self.complete = True
        if not self.parser.should_keep_alive():
            self.reusable = False
        self._wake()


def _decoder(encoding: str) -> Any:
    encoding = encoding.strip().lower()
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return zlib.decompressobj(32 + zlib.MAX_WBITS)  # zlib-wrapped (detects the header)
    if encoding in ("", "identity"):
        return None
    raise httptools.HttpParserError(f"unsupported content-encoding {encoding!r}")


class UpstreamResponse:
    """Status and headers of an answer; the body is read with ``chunk`` or ``read``."""

    __slots__ = ("_client", "_conn", "content_length", "content_type", "headers", "status")

    def __init__(self, client: UpstreamClient, conn: _Connection) -> None:
        self._client = client
        self._conn = conn
        self.status = conn.status
        self.headers = conn.headers
        self.content_type = ""
        self.content_length: int | None = None
        for name, value in conn.headers:
            if name == "content-type":
                self.content_type = value.split(";", 1)[0].strip().lower()
            elif name == "content-length" and value.isdigit():
                self.content_length = int(value)

    async def chunk(self) -> bytes:
        """The next piece of the body (everything that has arrived); b"" at its end."""
        conn = self._conn
        while True:
            if conn.chunks:
                return conn.take()
            if conn.complete:
                return b""
            if conn.error is not None:
                raise conn.error
            await conn.wait()

    async def read(self, limit: int) -> bytes:
        """The body, or its first ``limit`` bytes."""
        parts: list[bytes] = []
        size = 0
        while size < limit and (piece := await self.chunk()):
            parts.append(piece)
            size += len(piece)
        return b"".join(parts)[:limit]

    def release(self) -> None:
        """Back to the pool if the exchange finished cleanly; closed otherwise."""
        self._client._release(self._conn)


class UpstreamClient:
    """One per process: connections pooled per origin, kept alive ``idle_timeout_s``."""

    def __init__(
        self,
        connect_timeout_s: float,
        read_timeout_s: float,
        *,
        idle_timeout_s: float = 30.0,
        max_idle_per_origin: int = 512,
        ssl_context: ssl.SSLContext | None = None,
        egress: Egress | None = None,
    ) -> None:
        self._connect_timeout_s = connect_timeout_s
        self._read_timeout_s = read_timeout_s
        self._idle_timeout_s = idle_timeout_s
        self._max_idle = max_idle_per_origin
        self._idle: dict[Origin, list[_Connection]] = {}
        self._targets: dict[str | tuple[str, str], tuple[Origin, bytes]] = {}
        self._egress = egress or Egress()
        # Verifies certificates and host names against the system's CAs (SSL_CERT_FILE and
        # SSL_CERT_DIR point OpenSSL elsewhere); made on first use of https.
        self._ssl = ssl_context
        self._closed = False

    async def post(
        self,
        url: str,
        payload: bytes,
        *,
        api_key: str | None,
        stream: bool,
        key_header: bytes = b"\r\nauthorization: Bearer ",
        headers: bytes = b"",
        proxy: str | None = None,
    ) -> UpstreamResponse:
        """Send the request and wait for the status line and headers.

        ``key_header`` introduces the key (each API format names it its own way); ``headers``
        are further lines, each starting with CRLF. ``proxy`` is the upstream's own egress
        choice (see `previewgate.egress`).
        """
        origin, head = self._target(url, proxy)
        accept = b"text/event-stream" if stream else b"application/json"
        lines = [head, b"accept: ", accept, b"\r\ncontent-length: ", b"%d" % len(payload)]
        if api_key:
            lines += [key_header, api_key.encode("latin-1")]
        lines += [headers, b"\r\n\r\n", payload]
        conn = self._take_idle(origin) or await self._connect(origin)
        conn.begin(lines)
        try:
            while not conn.headers_done:
                if conn.error is not None:
                    raise conn.error
                await conn.wait()
            if conn.status == 407 and origin[3] is not None:
                # Only a forwarding proxy answers 407; an upstream never does.
                raise ProxyRefused("the egress proxy wants credentials (407)")
        except BaseException:
            conn.close()
            raise
        return UpstreamResponse(self, conn)

    def _target(self, url: str, proxy_name: str | None) -> tuple[Origin, bytes]:
        key = url if proxy_name is None else (url, proxy_name)
        found = self._targets.get(key)
        if found is not None:
            return found
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConnectError(f"not an http(s) URL: {parts.scheme}://")
        default_port = 443 if parts.scheme == "https" else 80
        port = parts.port or default_port
        try:
            proxy = self._egress.choose(parts.scheme, parts.hostname, port, proxy_name)
        except UnknownProxy:
            raise ProxyUnknown(f"no egress proxy is named {proxy_name!r}") from None
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        host_header = host if port == default_port else f"{host}:{port}"
        via = ""
        if proxy is not None and parts.scheme == "http":
            target = f"http://{host_header}{target}"  # absolute form: the proxy forwards it
            if proxy.authorization is not None:
                via = f"proxy-authorization: {proxy.authorization.decode()}\r\n"
        head = (
            f"POST {target} HTTP/1.1\r\nhost: {host_header}\r\n{via}"
            "content-type: application/json\r\naccept-encoding: gzip, deflate\r\n"
        ).encode("latin-1")
        found = ((parts.scheme, parts.hostname, port, proxy), head)
        if len(self._targets) >= 4096:
            self._targets.clear()  # bounded: URLs come from the catalog, not from clients
        self._targets[key] = found
        return found

    def _take_idle(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        if not idle:
            return None
        deadline = time.monotonic() - self._idle_timeout_s
        while idle:
            conn = idle.pop()  # the most recently used: the least likely to be timed out
            if not conn.closed and conn.idle_since > deadline:
                return conn
            conn.close()
        return None

    async def _connect(self, origin: Origin) -> _Connection:
        scheme, host, port, proxy = origin
        loop = asyncio.get_running_loop()
        context: ssl.SSLContext | None = None
        if scheme == "https":
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            context = self._ssl

        def protocol() -> _Connection:
            return _Connection(origin, self._read_timeout_s)

        try:
            async with asyncio.timeout(self._connect_timeout_s):
                if proxy is not None:
                    return await open_via_proxy(proxy, host, port, context, protocol)
                _, conn = await loop.create_connection(
                    protocol, host, port, ssl=context, server_hostname=host if context else None
                )
        except TimeoutError as exc:
            raise ConnectTimeout(f"connecting took over {self._connect_timeout_s:g}s") from exc
        except OSError as exc:  # refused, unreachable, DNS (gaierror), TLS (SSLError)
            raise ConnectError(f"cannot connect to the upstream: {type(exc).__name__}") from exc
        return conn

    def _release(self, conn: _Connection) -> None:
        if not (conn.complete and conn.reusable and not conn.closed and not conn.chunks):
            conn.close()
            return
        conn.active = False
        if self._closed:
            conn.close()
            return
        conn.idle_since = time.monotonic()
        idle = self._idle.setdefault(conn.origin, [])
        if len(idle) >= self._max_idle:
            idle.pop(0).close()
        idle.append(conn)

    async def close(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()
