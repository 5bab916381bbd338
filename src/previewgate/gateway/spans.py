"""The chat endpoint's spans, after the OpenTelemetry GenAI semantic conventions.

    chat {public id}         SERVER    the whole request; continues the client's traceparent
    └── upstream             CLIENT    the call to the upstream, until its answer is read
        └── first token      INTERNAL  until the first bytes of the answer's body

They are built once the request has ended, from the times it noted on its way (`Outcome`),
so nothing runs on the request path for them, and a gateway without tracing never builds
this class.

Experimented requests are blind here as in the answer: ``gen_ai.request.model`` is the
public id, and the internal id, base URL, upstream host, slot and version are never set;
message content is never recorded for them. For other routes the upstream's host is set
(``server.address``), and message content only with
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true``. No span carries an error text
or an exception event: an upstream's error text may quote its key.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import orjson
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer, set_span_in_context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from previewgate.errors import PreviewGateError
from previewgate.gateway.relay import Outcome, RelayContext
from previewgate.gateway.resolve import RouteDecision
from previewgate.usage.events import UsageEvent

OPERATION = "chat"
W3C = TraceContextTextMapPropagator()
# Request parameters worth a span attribute (numbers only: no content).
REQUEST_PARAMS = {
    "max_tokens": "gen_ai.request.max_tokens",
    "max_completion_tokens": "gen_ai.request.max_tokens",
    "temperature": "gen_ai.request.temperature",
    "top_p": "gen_ai.request.top_p",
    "frequency_penalty": "gen_ai.request.frequency_penalty",
    "presence_penalty": "gen_ai.request.presence_penalty",
    "seed": "gen_ai.request.seed",
}
NS = 1_000_000_000


def provider_name(public_id: str) -> str:
    """``gen_ai.provider.name``: the vendor part of a ``vendor/model`` id, else the protocol
    every upstream speaks (``openai``)."""
    vendor, slash, _ = public_id.partition("/")
    return vendor if slash and vendor else "openai"


def epoch_ns(created_at: datetime) -> int:
    return int(created_at.timestamp() * NS)


class ChatSpans:
    """Turns finished (or refused) chat requests into span trees.

    Attributes are handed to ``start_span`` whole (one bounded copy, no per-attribute lock),
    and an upstream's address is parsed once per URL: tracing costs CPU on every request.
    """

    def __init__(self, tracer: Tracer, *, capture_content: bool = False) -> None:
        self._tracer = tracer
        self._capture_content = capture_content
        self._upstreams: dict[tuple[str, str, bool], dict[str, Any]] = {}

    def _root(
        self,
        headers: Mapping[str, str],
        model: str | None,
        start_ns: int,
        attributes: dict[str, Any],
    ) -> Span:
        name = f"{OPERATION} {model}" if model else OPERATION
        attributes["gen_ai.operation.name"] = OPERATION
        if model:
            attributes["gen_ai.request.model"] = model
            attributes["gen_ai.provider.name"] = provider_name(model)
        parent: Context = W3C.extract(headers)  # a bad or absent traceparent: a new trace
        return self._tracer.start_span(
            name, parent, SpanKind.SERVER, attributes=attributes, start_time=start_ns
        )

    def refused(
        self,
        headers: Mapping[str, str],
        model: str | None,
        error: PreviewGateError,
        created_at: datetime,
        ended_s: float,
    ) -> str | None:
        """A request answered by the gateway itself (bad input, refusal): one span; returns
        its trace id (hex) when it is recorded."""
        start_ns = epoch_ns(created_at)
        attributes = {"http.response.status_code": error.status, "error.type": error.code}
        span = self._root(headers, model, start_ns, attributes)
        if error.status >= 500:
            span.set_status(Status(StatusCode.ERROR))
        trace_id = _trace_id(span)  # before end: an ended span no longer records
        span.end(end_time=start_ns + int(ended_s * NS))
        return trace_id

    def finished(
        self,
        headers: Mapping[str, str],
        body: dict[str, Any],
        ctx: RelayContext,
        outcome: Outcome,
        event: UsageEvent,
        ended_s: float,
    ) -> str | None:
        """The request's span tree (``ended_s``: seconds from its start to its end); returns
        its trace id (hex) when it is recorded."""
        route = ctx.route
        start_ns = epoch_ns(event.created_at)
        end_ns = start_ns + int(ended_s * NS)

        def at(seconds: float | None, default: int) -> int:
            return min(start_ns + int(seconds * NS), end_ns) if seconds is not None else default

        attributes = self._root_attributes(route, body, event, ctx.response_id)
        root = self._root(headers, route.public_id, start_ns, attributes)
        if not root.is_recording():
            root.end(end_time=end_ns)
            return None
        failed = event.has_error and (event.status_code >= 500 or event.status_code < 400)
        if failed:
            root.set_status(Status(StatusCode.ERROR))
        sent_ns = at(outcome.sent_s, start_ns)
        upstream_attributes = self._upstream_attributes(route)
        if "error.type" in attributes:
            upstream_attributes = {**upstream_attributes, "error.type": attributes["error.type"]}
        upstream = self._tracer.start_span(
            "upstream",
            set_span_in_context(root),
            SpanKind.CLIENT,
            attributes=upstream_attributes,
            start_time=sent_ns,
        )
        if outcome.first_chunk_s is not None:
            first = self._tracer.start_span(
                "first token", set_span_in_context(upstream), start_time=sent_ns
            )
            first.end(end_time=at(outcome.first_chunk_s, end_ns))
        if failed:
            upstream.set_status(Status(StatusCode.ERROR))
        upstream.end(end_time=at(outcome.upstream_s, end_ns))
        trace_id = _trace_id(root)
        root.end(end_time=end_ns)
        return trace_id

    def _root_attributes(
        self, route: RouteDecision, body: dict[str, Any], event: UsageEvent, response_id: str
    ) -> dict[str, Any]:
        attributes: dict[str, Any] = {
            "gen_ai.response.id": response_id,
            "http.response.status_code": event.status_code,
            "previewgate.route": route.kind,
            "previewgate.streamed": event.streamed,
        }
        for field, name in REQUEST_PARAMS.items():
            value = body.get(field)
            if isinstance(value, int | float) and not isinstance(value, bool):
                attributes[name] = value
        for name, tokens in (
            ("gen_ai.usage.input_tokens", event.input_tokens),
            ("gen_ai.usage.output_tokens", event.output_tokens),
            ("gen_ai.usage.cache_read.input_tokens", event.cached_tokens),
        ):
            if tokens is not None:
                attributes[name] = tokens
        if event.error_kind is not None and event.has_error:
            attributes["error.type"] = event.error_kind
        if self._capture_content and not route.experimented:
            attributes["gen_ai.input.messages"] = input_messages(body.get("messages"))
        return attributes

    def _upstream_attributes(self, route: RouteDecision) -> dict[str, Any]:
        key = (route.base_url, route.public_id, route.experimented)
        found = self._upstreams.get(key)
        if found is None:
            found = {
                "gen_ai.operation.name": OPERATION,
                "gen_ai.provider.name": provider_name(route.public_id),
                "gen_ai.request.model": route.public_id,
                "http.request.method": "POST",
            }
            if not route.experimented:  # an experiment's upstream is the partner's secret
                parts = urlsplit(route.base_url)
                if parts.hostname:
                    found["server.address"] = parts.hostname
                    found["server.port"] = parts.port or (443 if parts.scheme == "https" else 80)
            if len(self._upstreams) >= 4096:
                self._upstreams.clear()  # bounded: routes come from the catalog
            self._upstreams[key] = found
        return found


def _trace_id(span: Span) -> str | None:
    if not span.is_recording():
        return None
    return format(span.get_span_context().trace_id, "032x")


def input_messages(messages: Any) -> str:
    """The chat messages as ``gen_ai.input.messages`` (role and parts, JSON)."""
    out = []
    for message in messages if isinstance(messages, list) else ():
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        if isinstance(content, str):
            parts: list[Any] = [{"type": "text", "content": content}]
        elif isinstance(content, list):
            parts = [
                {"type": "text", "content": p["text"]}
                if isinstance(p, dict) and p.get("type") == "text"
                else {"type": str(p.get("type")) if isinstance(p, dict) else "unknown"}
                for p in content
            ]
        else:
            parts = []
        if message.get("tool_calls"):
            parts.append({"type": "tool_call", "calls": message["tool_calls"]})
        out.append({"role": message.get("role"), "parts": parts})
    return orjson.dumps(out).decode()
