"""A deliberately fast mock OpenAI-compatible upstream for the overhead benchmark.

Run as ``python bench/fast_upstream.py --port N``. It answers
``POST .../chat/completions`` with a fixed ``chat.completion`` (or, with
``"stream": true``, a fixed SSE stream ending in a usage chunk and
``data: [DONE]``), ``GET`` on any path with ``ok``, and ``POST /v1/traces`` (the traced
gateway's OTLP export) with an empty success.

Every response is pre-rendered bytes and the server is a raw asyncio Protocol on
uvloop with httptools parsing (both ship with uvicorn[standard]): the benchmark
measures the gateway, so the upstream must cost a small fraction of it.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import cast

import httptools
import orjson
import uvloop

MODEL = "bench-internal"
CREATED = 1_700_000_000
USAGE = {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}
PIECES = ("Hello", " from", " the", " bench", "!")


def _response(status: bytes, content_type: bytes, body: bytes) -> bytes:
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: " + content_type + b"\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )


def _completion() -> bytes:
    body = {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": CREATED,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "".join(PIECES)},
                "finish_reason": "stop",
            }
        ],
        "usage": USAGE,
    }
    return _response(b"200 OK", b"application/json", orjson.dumps(body))


def _chunk(delta: dict[str, str], finish: str | None) -> dict[str, object]:
    return {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _stream_parts() -> list[bytes]:
    """Head plus one HTTP chunk per SSE event, so each event leaves in its own write."""
    events: list[dict[str, object]] = [_chunk({"role": "assistant", "content": ""}, None)]
    events += [_chunk({"content": piece}, None) for piece in PIECES]
    events.append(_chunk({}, "stop"))
    events.append({**_chunk({}, None), "choices": [], "usage": USAGE})
    payloads = [b"data: " + orjson.dumps(e) + b"\n\n" for e in events] + [b"data: [DONE]\n\n"]
    head = (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
        b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n"
    )
    chunks = [b"%x\r\n%s\r\n" % (len(p), p) for p in payloads]
    return [head + chunks[0], *chunks[1:-1], chunks[-1] + b"0\r\n\r\n"]


COMPLETION = _completion()
STREAM = _stream_parts()
OK = _response(b"200 OK", b"text/plain", b"ok")
NOT_FOUND = _response(b"404 Not Found", b"application/json", b'{"error":{"message":"no"}}')
# An empty ExportTraceServiceResponse: the traced gateway exports its spans here (OTLP/HTTP).
TRACES_OK = _response(b"200 OK", b"application/x-protobuf", b"")


class UpstreamProtocol(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; pipelined requests are answered in order."""

    __slots__ = ("_body", "_parser", "_transport", "_url")

    def __init__(self) -> None:
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._url = b""
        self._body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport; they implement it.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            if self._transport is not None:
                self._transport.close()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._url = b""
        self._body = []

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if self._parser.get_method() != b"POST":
            transport.write(OK)
        elif self._url.endswith(b"/v1/traces"):
            transport.write(TRACES_OK)
        elif not self._url.endswith(b"/chat/completions"):
            transport.write(NOT_FOUND)
        elif _wants_stream(b"".join(self._body)):
            for part in STREAM:
                transport.write(part)
        else:
            transport.write(COMPLETION)
        if not self._parser.should_keep_alive():
            transport.close()


def _wants_stream(body: bytes) -> bool:
    # Parse only when the key is there at all: most bodies settle on the substring test.
    if b'"stream"' not in body:
        return False
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    return isinstance(parsed, dict) and parsed.get("stream") is True


async def serve(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(UpstreamProtocol, host, port, backlog=1024)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvloop.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
