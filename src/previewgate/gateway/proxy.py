"""Forward one resolved request upstream and relay the answer to the client.

The proxy is the place that learns how a request ended, so it fills the
UsageEvent: status, error kind, tokens, timings. Errors from the upstream are
blinded before the client sees them.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import orjson

from previewgate import metrics
from previewgate.errors import PreviewGateError, UpstreamError, UpstreamTimeout
from previewgate.gateway.blinding import blind_error_body, filter_response_headers
from previewgate.gateway.http_client import (
    ConnectError,
    ConnectTimeout,
    Disconnected,
    ReadTimeout,
    UpstreamClient,
    UpstreamHTTPError,
    UpstreamResponse,
)
from previewgate.gateway.resolve import RouteDecision
from previewgate.gateway.streaming import StreamRelay, cost_microusd

Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
MAX_ERROR_BODY = 64 * 1024
MAX_RESPONSE_BODY = 64 * 1024 * 1024
# Evidence keeps at most 4 MiB of a response; the raw SSE that yields it is larger, not 16x.
MAX_KEPT_STREAM = 16 * 1024 * 1024


@dataclass(slots=True)
class Outcome:
    """How the exchange ended; becomes the usage row."""

    status_code: int = 0
    error_kind: str | None = None
    usage: dict[str, Any] | None = None
    ttfb_s: float | None = None
    response_started: bool = False
    chunks: list[bytes] | None = None  # raw upstream response, kept for experiment evidence
    cost_microusd: int = 0


def _error_event(message: str, code: str) -> bytes:
    return b"data: " + orjson.dumps({"error": {"message": message, "code": code}}) + b"\n\n"


async def send_error(send: Send, error: PreviewGateError) -> None:
    body = error.render()
    await send(
        {
            "type": "http.response.start",
            "status": error.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def forward(
    http: UpstreamClient,
    send: Send,
    decision: RouteDecision,
    payload: bytes,
    stream: bool,
    drop_usage_only_chunk: bool,
    outcome: Outcome,
    started: float,
) -> None:
    keep = decision.experimented
    if keep:
        outcome.chunks = []
    try:
        resp = await http.post(decision.url, payload, api_key=decision.api_key, stream=stream)
        try:
            outcome.ttfb_s = time.perf_counter() - started
            if resp.status >= 400:
                await _relay_error(send, decision, resp, outcome)
            elif stream and resp.content_type == "text/event-stream":
                await _relay_stream(send, decision, resp, drop_usage_only_chunk, outcome)
            else:
                await _relay_json(send, decision, resp, outcome)
        finally:
            resp.release()
    except (ConnectTimeout, ReadTimeout):
        await _fail(send, outcome, "timeout", UpstreamTimeout("the upstream timed out"))
    except ConnectError:
        await _fail(send, outcome, "connect_error", UpstreamError("upstream unreachable"))
    except Disconnected:
        await _fail(send, outcome, "stream_cut", UpstreamError("upstream closed early"))
    except UpstreamHTTPError:
        await _fail(send, outcome, "upstream_protocol", UpstreamError("upstream failed"))


async def _fail(send: Send, outcome: Outcome, kind: str, error: PreviewGateError) -> None:
    outcome.error_kind = outcome.error_kind or kind
    metrics.UPSTREAM_ERRORS.labels(outcome.error_kind).inc()
    if outcome.response_started:
        # Headers are gone; tell the client in-band, then end the stream. more_body keeps the
        # response open for the closing message (without it the server rejects that message).
        event = _error_event(error.message, error.code)
        await send({"type": "http.response.body", "body": event, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    outcome.status_code = error.status
    await send_error(send, error)


def _response_headers(resp: UpstreamResponse, length: int | None) -> list[tuple[bytes, bytes]]:
    headers = [
        (name.encode(), value.encode()) for name, value in filter_response_headers(resp.headers)
    ]
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    return headers


async def _relay_error(
    send: Send, decision: RouteDecision, resp: UpstreamResponse, outcome: Outcome
) -> None:
    raw = await resp.read(MAX_ERROR_BODY)
    body = blind_error_body(raw, resp.status, decision.public_id, decision.secrets())
    metrics.UPSTREAM_ERRORS.labels(f"http_{resp.status}").inc()
    outcome.status_code = resp.status
    outcome.error_kind = f"upstream_{resp.status}"
    if outcome.chunks is not None:
        outcome.chunks.append(body)
    await send(
        {
            "type": "http.response.start",
            "status": resp.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *[
                    (n.encode(), v.encode())
                    for n, v in filter_response_headers(resp.headers)
                    if n != "content-type"
                ],
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _relay_json(
    send: Send, decision: RouteDecision, resp: UpstreamResponse, outcome: Outcome
) -> None:
    too_large = UpstreamError("upstream response too large")
    if resp.content_length is not None and resp.content_length > MAX_RESPONSE_BODY:
        await _fail(send, outcome, "response_too_large", too_large)
        return
    chunks = []
    size = 0
    while chunk := await resp.chunk():
        size += len(chunk)
        if size > MAX_RESPONSE_BODY:
            await _fail(send, outcome, "response_too_large", too_large)
            return
        chunks.append(chunk)
    try:
        obj = orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError:
        obj = None
    if not isinstance(obj, dict):
        invalid = UpstreamError("invalid upstream response")
        await _fail(send, outcome, "invalid_response", invalid)
        return
    usage = obj.get("usage")
    if isinstance(usage, dict):
        outcome.usage = usage
        outcome.cost_microusd = cost_microusd(usage, decision.price_in, decision.price_out)
        usage["cost"] = outcome.cost_microusd / 1_000_000
    if decision.upstream is not None:
        # Catalog and experiment upstreams answer with their internal id; clients see ours.
        obj["model"] = decision.public_id
    body = orjson.dumps(obj)
    if outcome.chunks is not None:
        outcome.chunks.append(body)
    outcome.status_code = resp.status
    outcome.response_started = True
    await send(
        {
            "type": "http.response.start",
            "status": resp.status,
            "headers": _response_headers(resp, len(body)),
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _relay_stream(
    send: Send,
    decision: RouteDecision,
    resp: UpstreamResponse,
    drop_usage_only_chunk: bool,
    outcome: Outcome,
) -> None:
    relay = StreamRelay(
        decision.public_id if decision.upstream is not None else None,
        drop_usage_only_chunk=drop_usage_only_chunk,
        price_in=decision.price_in,
        price_out=decision.price_out,
    )
    outcome.status_code = resp.status
    outcome.response_started = True
    await send(
        {
            "type": "http.response.start",
            "status": resp.status,
            "headers": [
                (b"content-type", b"text/event-stream"),
                (b"cache-control", b"no-cache"),
                *[
                    (n.encode(), v.encode())
                    for n, v in filter_response_headers(resp.headers)
                    if n != "content-type"
                ],
            ],
        }
    )
    keep = outcome.chunks
    kept = 0
    try:
        while chunk := await resp.chunk():
            if keep is not None and kept < MAX_KEPT_STREAM:
                keep.append(chunk)
                kept += len(chunk)
            out = relay.feed(chunk)
            if out:
                await send({"type": "http.response.body", "body": out, "more_body": True})
    finally:
        outcome.usage = relay.usage
        if relay.usage is not None:
            outcome.cost_microusd = cost_microusd(
                relay.usage, decision.price_in, decision.price_out
            )
    tail = relay.flush()
    await send({"type": "http.response.body", "body": tail, "more_body": False})
