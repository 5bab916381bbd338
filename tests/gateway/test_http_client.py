"""The upstream HTTP client against scripted HTTP servers on loopback.

Each server answers every request on a connection with the next scripted reply (raw bytes,
optionally followed by closing the connection), so framing, keep-alive and failure cases
are exact. The parser property test feeds responses split at arbitrary points.
"""

from __future__ import annotations

import asyncio
import gzip
import itertools
import ssl
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
import trustme
from hypothesis import given, settings
from hypothesis import strategies as st

from previewgate.gateway.http_client import HIGH_WATER, UpstreamClient, _Connection
from previewgate.gateway.http_errors import (
    ConnectError,
    Disconnected,
    ProtocolError,
    ReadTimeout,
)

CLOSE = b""  # after the reply before it, the server closes the connection


@dataclass
class Scripted:
    """An HTTP server that answers requests with ``replies`` in order, across connections;
    a ``CLOSE`` after a reply closes that connection once the reply is written."""

    replies: list[bytes]
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/v1/chat/completions"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while self.replies:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                self.requests.append(head + await reader.readexactly(length))
                writer.write(self.replies.pop(0))
                await writer.drain()
                if self.replies and self.replies[0] == CLOSE:
                    self.replies.pop(0)
                    return
            await reader.read()  # out of replies: hold the connection until the client goes
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


Start = Callable[[list[bytes]], Awaitable[Scripted]]


@pytest.fixture
async def scripted() -> AsyncIterator[Start]:
    servers: list[Scripted] = []

    async def start(replies: list[bytes]) -> Scripted:
        server = Scripted(list(replies))
        server.server = await asyncio.start_server(server.handle, "127.0.0.1", 0)
        servers.append(server)
        return server

    yield start
    for server in servers:
        assert server.server is not None
        server.server.close()


def ok(body: bytes, *headers: bytes) -> bytes:
    extra = b"".join(h + b"\r\n" for h in headers)
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
        + extra
        + b"content-length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


def chunked(*pieces: bytes) -> bytes:
    out = (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    )
    for piece in pieces:
        out += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    return out + b"0\r\n\r\n"


async def body_of(client: UpstreamClient, url: str, *, stream: bool = False) -> tuple[int, bytes]:
    resp = await client.post(url, b'{"x":1}', api_key="sk-test", stream=stream)
    try:
        return resp.status, await resp.read(1 << 30)
    finally:
        resp.release()


@pytest.fixture
async def client() -> AsyncIterator[UpstreamClient]:
    c = UpstreamClient(connect_timeout_s=2.0, read_timeout_s=2.0)
    yield c
    await c.close()


async def test_request_shape_and_keep_alive(scripted: Start, client: UpstreamClient) -> None:
    server = await scripted([ok(b'{"a":1}'), ok(b'{"b":2}')])
    assert await body_of(client, server.url) == (200, b'{"a":1}')
    assert await body_of(client, server.url, stream=True) == (200, b'{"b":2}')
    assert server.connections == 1  # the second request reused the first connection
    first = server.requests[0]
    assert first.startswith(b"POST /v1/chat/completions HTTP/1.1\r\n")
    port = server.url.split(":")[2].split("/")[0]
    assert f"\r\nhost: 127.0.0.1:{port}\r\n".encode() in first
    assert b"\r\nauthorization: Bearer sk-test\r\n" in first
    assert b"\r\naccept: application/json\r\n" in first
    assert b"\r\naccept: text/event-stream\r\n" in server.requests[1]
    assert first.endswith(b'\r\n\r\n{"x":1}')


async def test_chunked_gzip_and_interim_responses(scripted: Start, client: UpstreamClient) -> None:
    packed = gzip.compress(b'{"zipped":true}')
    deflated = zlib.compress(b'{"deflated":true}')
    server = await scripted(
        [
            chunked(b"data: 1\n\n", b"data: 2\n\n"),
            ok(packed, b"content-encoding: gzip"),
            ok(deflated, b"content-encoding: deflate"),
            b"HTTP/1.1 103 Early Hints\r\nlink: </x>\r\n\r\n" + ok(b"{}"),
        ]
    )
    assert await body_of(client, server.url) == (200, b"data: 1\n\ndata: 2\n\n")
    assert await body_of(client, server.url) == (200, b'{"zipped":true}')
    assert await body_of(client, server.url) == (200, b'{"deflated":true}')
    resp = await client.post(server.url, b"{}", api_key=None, stream=False)
    assert resp.status == 200 and ("link", "</x>") not in resp.headers
    assert await resp.read(100) == b"{}"
    resp.release()
    assert server.connections == 1


async def test_close_delimited_body_and_connection_close(
    scripted: Start, client: UpstreamClient
) -> None:
    server = await scripted(
        [
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{}",
            CLOSE,
            ok(b"[]"),
        ]
    )
    # No length, no chunking: the body ends where the connection does.
    assert await body_of(client, server.url) == (200, b"{}")
    assert await body_of(client, server.url) == (200, b"[]")
    assert server.connections == 2  # "connection: close" was honoured


async def test_idle_connection_closed_by_server_is_not_reused(
    scripted: Start, client: UpstreamClient
) -> None:
    server = await scripted([ok(b"1"), CLOSE, ok(b"2")])
    assert await body_of(client, server.url) == (200, b"1")
    # The server's handler consumes a request before closing, so provoke it with a request on
    # the pooled connection: that one fails (nothing is retried: a POST may have been acted on).
    with pytest.raises(Disconnected):
        await body_of(client, server.url)
    assert await body_of(client, server.url) == (200, b"2")
    assert server.connections == 2


async def test_cut_mid_body_delivers_what_arrived_then_fails(
    scripted: Start, client: UpstreamClient
) -> None:
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: 100\r\n\r\n"
    server = await scripted([head + b"data: partial\n\n", CLOSE])
    resp = await client.post(server.url, b"{}", api_key=None, stream=True)
    assert await resp.chunk() == b"data: partial\n\n"
    with pytest.raises(Disconnected):
        await resp.chunk()
    resp.release()


async def test_garbage_is_a_protocol_error(scripted: Start, client: UpstreamClient) -> None:
    server = await scripted([b"SSH-2.0-OpenSSH_9.6\r\n\r\n"])
    with pytest.raises(ProtocolError):
        await body_of(client, server.url)


async def test_huge_headers_are_refused(scripted: Start, client: UpstreamClient) -> None:
    server = await scripted([ok(b"{}", b"x-big: " + b"a" * 70_000)])
    with pytest.raises(ProtocolError):
        await body_of(client, server.url)


async def test_read_timeout_and_refused_connection(scripted: Start) -> None:
    slow = UpstreamClient(connect_timeout_s=2.0, read_timeout_s=0.2)
    try:
        server = await scripted([b"HTTP/1.1 200 OK\r\n"])  # a head that never finishes
        with pytest.raises(ReadTimeout):
            await body_of(slow, server.url)
        assert server.server is not None
        port = server.server.sockets[0].getsockname()[1]
        server.server.close()
        await server.server.wait_closed()
        with pytest.raises(ConnectError):
            await body_of(slow, f"http://127.0.0.1:{port}/v1")
    finally:
        await slow.close()


async def test_large_body_survives_backpressure(scripted: Start, client: UpstreamClient) -> None:
    big = bytes(range(256)) * (3 * HIGH_WATER // 256)
    server = await scripted([ok(big), ok(b"after")])
    resp = await client.post(server.url, b"{}", api_key=None, stream=False)
    parts = []
    while piece := await resp.chunk():
        parts.append(piece)
        await asyncio.sleep(0)  # a slow reader: the connection pauses and resumes
    resp.release()
    assert b"".join(parts) == big
    assert await body_of(client, server.url) == (200, b"after")
    assert server.connections == 1


RESPONSES = [
    ok(b'{"id":"x","model":"m"}', b"x-ratelimit-remaining-requests: 9"),
    chunked(b'data: {"a":1}\n\n', b"", b"data: [DONE]\n\n")[:-5] + b"0\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"[1,2,3]"),
    ok(gzip.compress(b"z" * 5000), b"content-encoding: gzip"),
]


@settings(max_examples=200, deadline=None)
@given(
    index=st.integers(0, len(RESPONSES) - 1),
    cuts=st.lists(st.integers(0, 400), max_size=12),
)
def test_any_split_parses_to_the_same_response(index: int, cuts: list[int]) -> None:
    """However the bytes arrive, status, headers and body come out the same."""
    raw = RESPONSES[index]

    def parse(pieces: list[bytes]) -> tuple[int, list[tuple[str, str]], bytes, bool]:
        loop = asyncio.new_event_loop()
        try:
            conn = loop.run_until_complete(_make_conn())
            conn.active = True
            for piece in pieces:
                conn.data_received(piece)
            return conn.status, conn.headers, b"".join(conn.chunks), conn.complete
        finally:
            loop.close()

    points = sorted({c % (len(raw) + 1) for c in cuts})
    bounds = [0, *points, len(raw)]
    pieces = [raw[a:b] for a, b in itertools.pairwise(bounds)]
    assert parse(pieces) == parse([raw])
    status, _, body, complete = parse(pieces)
    assert status == 200 and complete and body


async def _make_conn() -> _Connection:
    return _Connection(("http", "127.0.0.1", 80, None), read_timeout_s=1.0)


async def test_https_verifies_the_certificate_and_host() -> None:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_context)
    server = Scripted([ok(b'{"tls":true}')])
    server.server = await asyncio.start_server(server.handle, "127.0.0.1", 0, ssl=server_context)
    url = server.url.replace("http://127.0.0.1", "https://localhost")
    trusting = ssl.create_default_context()
    ca.configure_trust(trusting)
    client = UpstreamClient(connect_timeout_s=5.0, read_timeout_s=5.0, ssl_context=trusting)
    stranger = UpstreamClient(connect_timeout_s=5.0, read_timeout_s=5.0)  # system CAs only
    try:
        assert await body_of(client, url) == (200, b'{"tls":true}')
        with pytest.raises(ConnectError):  # a certificate no system CA signed
            await body_of(stranger, url)
        with pytest.raises(ConnectError):  # the name on the certificate is not this host
            await body_of(client, url.replace("https://localhost", "https://127.0.0.1"))
    finally:
        await client.close()
        await stranger.close()
        server.server.close()
