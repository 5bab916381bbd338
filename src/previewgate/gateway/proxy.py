"""Forward one resolved request upstream and move the relay's bytes to the client.

What the client receives and how the exchange ended are the relay's business (`relay`); this
module picks the relay for the answer's status and framing, moves bytes, and maps transport
failures (`http_client`'s error tree) to our errors, in the response or in-band.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from previewgate.errors import PreviewGateError, UpstreamError, UpstreamTimeout
from previewgate.gateway.blind_relay import BlindError, BlindJson, BlindStream
from previewgate.gateway.faithful_relay import FaithfulError, FaithfulJson, FaithfulStream
from previewgate.gateway.http_client import UpstreamClient, UpstreamResponse
from previewgate.gateway.http_errors import (
    ConnectError,
    ConnectTimeout,
    Disconnected,
    ProxyRefused,
    ProxyUnknown,
    ProxyUnreachable,
    ReadTimeout,
    UpstreamHTTPError,
)
from previewgate.gateway.relay import Head, Outcome, Relay, RelayContext
from previewgate.gateway.upstream import UpstreamRequest

Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
# Clients are told that the gateway's own egress failed, not the model; never which proxy.
PROXY_UNREACHABLE = "The gateway cannot reach its egress proxy."
PROXY_REFUSED = "The gateway's egress proxy refused the connection to the model."
PROXY_UNKNOWN = "The gateway's egress proxy for this model is not configured."


async def send_head(send: Send, head: Head) -> None:
    await send({"type": "http.response.start", "status": head.status, "headers": head.headers})
    if head.opening:
        await send({"type": "http.response.body", "body": head.opening, "more_body": True})


async def send_error(send: Send, error: PreviewGateError, body: bytes | None = None) -> None:
    """Our error as a whole response; ``body`` is its rendering in the client's format."""
    body = body if body is not None else error.render()
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


def open_relay(ctx: RelayContext, outcome: Outcome, resp: UpstreamResponse) -> Relay:
    """The relay for this answer: by the route's mode, the status and the framing."""
    status = resp.status
    sse = ctx.streamed and resp.content_type == "text/event-stream"
    if ctx.blind:
        if not 200 <= status <= 299:
            return BlindError(ctx, outcome, status, resp.headers)
        return BlindStream(ctx, outcome) if sse else BlindJson(ctx, outcome)
    if not 200 <= status <= 299:
        return FaithfulError(ctx, outcome, status, resp.headers)
    if ctx.translated:  # rebuilt in the client's format, the upstream's tool-call ids kept
        return BlindStream(ctx, outcome) if sse else BlindJson(ctx, outcome)
    if sse:
        return FaithfulStream(ctx, outcome, status, resp.headers)
    return FaithfulJson(ctx, outcome, status, resp.headers)


async def forward(
    http: UpstreamClient,
    send: Send,
    ctx: RelayContext,
    call: UpstreamRequest,
    payload: bytes,
    outcome: Outcome,
    started: float,
) -> None:
    relay = Relay(ctx, outcome)  # answers transport failures until the upstream's head arrives
    outcome.sent_s = time.perf_counter() - started
    try:
        resp = await http.post(
            call.url,
            payload,
            api_key=ctx.route.api_key,
            stream=ctx.streamed,
            key_header=call.key_header,
            headers=call.headers,
            proxy=ctx.route.proxy,
        )
        try:
            outcome.ttfb_s = time.perf_counter() - started
            relay = open_relay(ctx, outcome, resp)
            head = relay.start()
            if head is not None:
                await send_head(send, head)
            while not relay.done and (chunk := await resp.chunk()):
                if outcome.first_chunk_s is None:
                    outcome.first_chunk_s = time.perf_counter() - started
                out = relay.feed(chunk)
                if out:
                    await send({"type": "http.response.body", "body": out, "more_body": True})
            head, tail = relay.finish()
        finally:
            resp.release()
    except ProxyUnreachable:
        head, tail = relay.fail("proxy_unreachable", UpstreamError(PROXY_UNREACHABLE))
    except ProxyRefused:
        head, tail = relay.fail("proxy_refused", UpstreamError(PROXY_REFUSED))
    except ProxyUnknown:
        head, tail = relay.fail("proxy_unknown", UpstreamError(PROXY_UNKNOWN))
    except (ConnectTimeout, ReadTimeout):
        head, tail = relay.fail("timeout", UpstreamTimeout("The model took too long to answer."))
    except ConnectError:
        head, tail = relay.fail("connect_error", UpstreamError("The model is unreachable."))
    except Disconnected:
        head, tail = relay.fail("stream_cut", UpstreamError("The model's answer was cut off."))
    except UpstreamHTTPError:
        head, tail = relay.fail("upstream_protocol", UpstreamError("The model's answer failed."))
    outcome.upstream_s = time.perf_counter() - started
    if head is not None:
        await send_head(send, head)
    await send({"type": "http.response.body", "body": tail, "more_body": False})
