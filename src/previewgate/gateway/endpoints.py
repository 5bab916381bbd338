"""The hot path: ``POST /v1/chat/completions``, ``/v1/responses`` and ``/v1/messages`` as
one plain ASGI handler, the client's API format chosen by the path.

It runs outside the web framework on purpose: no dependency injection,
validation models or response classes per request, only what the request needs.
Nothing here touches the database, Redis or the blob store; the finished
request leaves a UsageEvent for the background writer.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from previewgate import metrics
from previewgate.errors import (
    BadRequest,
    InternalError,
    PayloadTooLarge,
    PreviewGateError,
)
from previewgate.evidence.sse_assembly import ResponseAssembler
from previewgate.formats import CHAT, MESSAGES, RESPONSES
from previewgate.formats.codec import ClientFormat
from previewgate.gateway import access_log
from previewgate.gateway.blind_schema import ToolCallIds, UpstreamToolCallIds
from previewgate.gateway.proxy import forward, send_error
from previewgate.gateway.relay import Outcome, RelayContext
from previewgate.gateway.resolve import RouteDecision, resolve
from previewgate.gateway.upstream import UpstreamRequest, build_upstream_request
from previewgate.identity import Identity, identify
from previewgate.store.base import utcnow
from previewgate.usage.events import AttributionEvent, UsageEvent
from previewgate.usage.ids import response_id

if TYPE_CHECKING:
    from previewgate.runtime import Runtime

log = logging.getLogger(__name__)
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def _paths(name: str) -> frozenset[str]:
    """Where an endpoint is mounted: ours, and OpenRouter's two spellings."""
    return frozenset({f"/v1/{name}", f"/api/openrouter/v1/{name}", f"/api/openrouter/{name}"})


CHAT_PATHS = _paths("chat/completions")
CLIENT_FORMATS: dict[str, ClientFormat] = {
    **dict.fromkeys(CHAT_PATHS, CHAT),
    **dict.fromkeys(_paths("responses"), RESPONSES),
    **dict.fromkeys(_paths("messages"), MESSAGES),
}
MODEL_PATHS = frozenset(CLIENT_FORMATS)
CLIENT_CLOSED = 499  # nginx's convention for "client closed request"
INT32_MAX = 2**31 - 1  # usage token columns are 32-bit integers
# A disconnect is noticed within this long (see _DisconnectWatcher).
WATCH_AFTER_S = 0.02


async def read_body(receive: Receive, headers: dict[str, str], limit: int) -> bytes:
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body exceeds {limit} bytes")
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise asyncio.CancelledError
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body exceeds {limit} bytes")
        parts.append(chunk)
        if not message.get("more_body"):
            return b"".join(parts)


def _encode(body: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(body)
    except orjson.JSONEncodeError as exc:
        # orjson reads deeper nesting (1024) than it writes (254).
        raise BadRequest("request body is nested too deeply", code="invalid_request") from exc


class _DisconnectWatcher:
    """Cancels the request's task when the client disconnects.

    Armed lazily: a timer starts the watching task only if the request is still running
    after ``WATCH_AFTER_S``. Most cheap requests end before that, and a timer costs far less
    than creating, scheduling and cancelling a task (py-spy: 3-5 % of the event loop).
    Long requests (LLM calls take seconds) are watched from then on.
    """

    __slots__ = ("_owner", "_receive", "_task", "_timer", "disconnected")

    def __init__(self, receive: Receive) -> None:
        self.disconnected = False
        self._receive = receive
        owner = asyncio.current_task()
        assert owner is not None
        self._owner = owner
        self._task: asyncio.Task[None] | None = None
        self._timer = asyncio.get_running_loop().call_later(WATCH_AFTER_S, self._start)

    def _start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                self.disconnected = True
                self._owner.cancel()
                return

    def stop(self) -> None:
        self._timer.cancel()
        if self._task is not None:
            self._task.cancel()


def _tool_call_key(encryption_key: bytes | None) -> bytes:
    # Stable across processes and restarts (clients echo minted ids back), secret to clients.
    base = encryption_key or os.urandom(32)
    return hmac.new(base, b"previewgate tool-call ids", hashlib.sha256).digest()


def _authorization(client: ClientFormat, headers: dict[str, str]) -> str | None:
    """The caller's key: ``Authorization: Bearer``, or Anthropic's ``x-api-key``."""
    authorization = headers.get("authorization")
    if authorization is None and client.kind == "messages" and "x-api-key" in headers:
        return "Bearer " + headers["x-api-key"]
    return authorization


class ModelEndpoints:
    """Every model endpoint; the path says which API format the client speaks."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        key = _tool_call_key(runtime.settings.encryption_key_bytes())
        self.tool_ids = ToolCallIds(key)
        self.kept_ids = UpstreamToolCallIds(key)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = CLIENT_FORMATS[scope["path"]]
        if scope["method"] != "POST":
            error = BadRequest("use POST", code="method_not_allowed")
            await send_error(send, error, client.error_body(error))
            return
        started = time.perf_counter()
        created_at = utcnow()
        rt = self.runtime
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        peer = scope.get("client")
        body: dict[str, Any] | None = None
        try:
            raw = await read_body(receive, headers, rt.settings.max_body_bytes)
            if client.kind == "messages" and not headers.get("anthropic-version"):
                raise BadRequest("anthropic-version: header is required")
            body = client.parse(raw)
            caller = await rt.routing.caller(
                _authorization(client, headers), rt.settings.anonymous_key
            )
            identity = identify(headers, peer[0] if peer else None, caller, rt.settings)
            decision = resolve(
                body, identity, rt.routing.snapshot, rt.routing.is_fresh(), rt.settings, created_at
            )
            stream = bool(body.get("stream"))
            call = build_upstream_request(body, client, decision, stream, headers)
            payload = _encode(call.body)
        except PreviewGateError as error:
            metrics.CHAT_REQUESTS[error.status // 100].inc()
            await send_error(send, error, client.error_body(error))
            if rt.spans is not None or access_log.enabled():
                model = body["model"] if body is not None else None
                self._report_refused(headers, model, error, created_at, started)
            return
        except asyncio.CancelledError:
            return

        usage_id = uuid.uuid4()
        ctx = RelayContext(
            route=decision,
            response_id=response_id(usage_id),
            created=int(time.time()),
            wants_usage=client.wants_usage(body),
            streamed=stream,
            tool_ids=self.tool_ids if decision.experimented else self.kept_ids,
            client=client,
            upstream=call.format,
            request=body,
        )
        outcome = Outcome(
            answer=ResponseAssembler(rt.settings.capture_limit_bytes)
            if decision.experimented
            else None
        )
        # On disconnect the watcher cancels this task, and with it the upstream call. Cheaper
        # than running the proxy in a task of its own.
        watcher = _DisconnectWatcher(receive)
        try:
            await forward(rt.http, send, ctx, call, payload, outcome, started)
        except asyncio.CancelledError:
            if not watcher.disconnected:
                raise  # shutdown, not the client
            asyncio.current_task().uncancel()  # type: ignore[union-attr]
            outcome.error_kind = "client_cancelled"
            outcome.status_code = outcome.status_code or CLIENT_CLOSED
        except Exception as exc:
            log.error("proxy failed: %s", type(exc).__name__, exc_info=exc)
            outcome.error_kind = outcome.error_kind or "gateway_error"
            if not outcome.response_started:
                outcome.status_code = 500
                internal = InternalError("internal error")
                await send_error(send, internal, client.error_body(internal))
        finally:
            watcher.stop()
            event = self._record(
                usage_id,
                created_at,
                started,
                identity,
                ctx,
                call,
                len(payload),
                outcome,
            )
            if rt.spans is not None or access_log.enabled():
                self._report(headers, body, ctx, outcome, event, started)

    def _report(
        self,
        headers: dict[str, str],
        body: dict[str, Any],
        ctx: RelayContext,
        outcome: Outcome,
        event: UsageEvent,
        started: float,
    ) -> None:
        """Spans and the access line of a finished request (it has been answered: a failure
        here is logged, never the client's)."""
        try:
            trace_id = None
            spans = self.runtime.spans
            if spans is not None:
                ended_s = time.perf_counter() - started
                trace_id = spans.finished(headers, body, ctx, outcome, event, ended_s)
            if access_log.enabled():
                access_log.finished(ctx.route, event, ctx.response_id, trace_id)
        except Exception as exc:
            log.error("request telemetry failed: %s", type(exc).__name__)

    def _report_refused(
        self,
        headers: dict[str, str],
        model: str | None,
        error: PreviewGateError,
        created_at: datetime,
        started: float,
    ) -> None:
        try:
            elapsed_s = time.perf_counter() - started
            trace_id = None
            if self.runtime.spans is not None:
                trace_id = self.runtime.spans.refused(headers, model, error, created_at, elapsed_s)
            if access_log.enabled():
                access_log.refused(model, error, round(elapsed_s * 1000), trace_id)
        except Exception as exc:
            log.error("request telemetry failed: %s", type(exc).__name__)

    def _record(
        self,
        usage_id: uuid.UUID,
        created_at: Any,
        started: float,
        identity: Identity,
        ctx: RelayContext,
        call: UpstreamRequest,
        upstream_bytes: int,
        outcome: Outcome,
    ) -> UsageEvent:
        decision: RouteDecision = ctx.route
        stream = ctx.streamed
        total_s = time.perf_counter() - started
        usage = outcome.usage or {}
        status = outcome.status_code or 500
        has_error = outcome.error_kind is not None or status >= 400
        metrics.CHAT_REQUESTS[min(status // 100, 5)].inc()
        metrics.CHAT_LATENCY.observe(total_s)
        if outcome.ttfb_s is not None:
            metrics.CHAT_TTFB.observe(outcome.ttfb_s)
        details = usage.get("prompt_tokens_details")
        attribution = None
        if decision.version_id is not None and decision.allocation_subject is not None:
            attribution = AttributionEvent(
                variant_version_id=decision.version_id,
                allocation_subject=decision.allocation_subject,
                client_request_id=identity.client_request_id,
                upstream_body=call.body,
                upstream_format=call.format.api_format,
                request_kind=ctx.client.kind,
                upstream_bytes=upstream_bytes,
                response=outcome.answer,
                response_bytes=outcome.answer_bytes,
                streamed=stream,
                secrets=decision.credentials(),
            )
        event = UsageEvent(
            id=usage_id,
            created_at=created_at,
            user_id=identity.caller.user_id if identity.caller else None,
            public_model_id=decision.public_id,
            request_kind=ctx.client.kind,
            status_code=status,
            has_error=has_error,
            error_kind=outcome.error_kind or (f"http_{status}" if status >= 400 else None),
            input_tokens=_int(usage.get("prompt_tokens")),
            output_tokens=_int(usage.get("completion_tokens")),
            cached_tokens=_int(details.get("cached_tokens")) if isinstance(details, dict) else None,
            cost_microusd=0 if decision.experimented else outcome.cost_microusd,
            ttfb_ms=round(outcome.ttfb_s * 1000) if outcome.ttfb_s is not None else None,
            total_ms=round(total_s * 1000),
            session_id=identity.session_id,
            machine_id=identity.machine_id,
            client_ip=identity.client_ip,
            streamed=stream,
            client_meta=_client_meta(identity),
            attribution=attribution,
            upstream_response_id=outcome.upstream_id,
        )
        self.runtime.writer.submit(event)
        return event


def _int(value: object) -> int | None:
    """A token count from upstream, or None when it is not a plausible integer column value."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= INT32_MAX:
        return value
    return None


def _client_meta(identity: Identity) -> dict[str, Any] | None:
    meta = {
        "user_agent": identity.user_agent,
        "feature": identity.feature,
        "mode": identity.mode,
        "editor": identity.editor,
    }
    return {k: v for k, v in meta.items() if v} or None
