"""Blind relays: experimented answers rebuilt from the allowlist, errors written by us.

Nothing the upstream sends is forwarded as bytes: JSON bodies and stream events are parsed,
read into the canonical shape by the upstream's format (the identity for chat), rebuilt by
`blind_schema.Rebuilder`, and written in the client's format; comments, ``event:``/``id:``/
``retry:`` lines and upstream headers are never read into the output; an error in any form
(status >= 300, an ``error`` member in a 200 body or in a stream event, an event that is not
JSON, an oversized line) becomes `blind_errors.blind_error` or one of our transport errors.
"""

from __future__ import annotations

from typing import Any

import orjson

from previewgate.errors import InvalidUpstreamResponse, UpstreamError
from previewgate.gateway.blind_errors import blind_error, retry_after
from previewgate.gateway.blind_schema import Rebuilder, rebuild_usage
from previewgate.gateway.relay import (
    INBAND_ERROR,
    MAX_SSE_EVENT,
    BodyReader,
    ErrorBodyReader,
    Head,
    Outcome,
    Relay,
    RelayContext,
)
from previewgate.sse import DONE, SseEvents, SseTooLarge, loads_exact


def _rebuilder(ctx: RelayContext) -> Rebuilder:
    return Rebuilder(ctx.public_id, ctx.response_id, ctx.created, ctx.tool_ids)


def _parse(body: bytes) -> Any:
    try:
        return loads_exact(body, constants=True)
    except ValueError:
        return None


class BlindError(ErrorBodyReader):
    """An upstream status >= 300 (or one outside HTTP's range): our error, never its text."""

    def answer(self) -> tuple[Head | None, bytes]:
        status = self.status
        if not 100 <= status <= 599:
            return self.fail("invalid_response", InvalidUpstreamResponse("Invalid model answer."))
        error = blind_error(status, _parse(self.body()))
        extra = []
        if error.status in (429, 503) and (seconds := retry_after(self.headers)):
            extra.append((b"retry-after", seconds))
        return self.fail(f"upstream_{status}", error, extra)


class BlindJson(BodyReader):
    """A whole (non-streamed) answer, parsed and rebuilt."""

    def answer(self) -> tuple[Head | None, bytes]:
        doc = _parse(self.body())
        if not isinstance(doc, dict):
            return self.fail("invalid_response", InvalidUpstreamResponse("Invalid model answer."))
        self.note_upstream_id(doc)
        ctx = self.ctx
        doc = ctx.upstream.answer(doc)
        if doc.get("error") is not None:
            return self.fail(INBAND_ERROR, blind_error(200, doc))
        if not isinstance(doc.get("choices"), list):
            return self.fail("invalid_response", InvalidUpstreamResponse("Invalid model answer."))
        cost = self.record_usage(doc.get("usage"))
        completion = _rebuilder(ctx).completion(doc, cost)
        body = orjson.dumps(ctx.client.answer(completion, ctx))
        self.outcome.status_code = 200
        self.outcome.response_started = True
        return self.json_head(200, body), self.keep(completion, body)


class BlindStream(Relay):
    """An SSE answer: each event parsed and rebuilt as it arrives."""

    def __init__(self, ctx: RelayContext, outcome: Outcome) -> None:
        super().__init__(ctx, outcome)
        self._events = SseEvents(MAX_SSE_EVENT)
        self._rebuild = _rebuilder(ctx)
        self._decoder = ctx.upstream.decoder()
        self._encoder = self.encoder = ctx.client.encoder(ctx)

    def start(self) -> Head | None:
        head = self.sse_head(200)
        opening = self._encoder.start()  # e.g. message_start: the client sees its answer begin
        return Head(head.status, head.headers, opening) if opening else head

    def feed(self, chunk: bytes) -> bytes:
        try:
            events = self._events.feed(chunk)
        except SseTooLarge:
            return self.fail(
                "response_too_large", UpstreamError("The model's answer is too large.")
            )[1]
        return self._relay(events) if events else b""

    def finish(self) -> tuple[Head | None, bytes]:
        if self.done:
            return self._final
        try:
            out = self._relay(self._events.finish())
        except SseTooLarge:  # pragma: no cover - finish adds no bytes; kept for symmetry
            out = b""
        if self.done:
            return None, out
        return None, out + self._encoder.end()

    def _relay(self, events: list[Any]) -> bytes:
        out: list[bytes] = []
        decoder = self._decoder
        for event in events:
            if event is DONE:
                continue  # ours is sent at the end
            if not isinstance(event, dict):
                invalid = InvalidUpstreamResponse("Invalid model answer.")
                out.append(self.fail("invalid_response", invalid)[1])
                break
            self.note_upstream_id(event, decoder.upstream_id(event))
            for doc in decoder.feed(event):
                if not self._one(doc, out):
                    return b"".join(out)
        return b"".join(out)

    def _one(self, event: dict[str, Any], out: list[bytes]) -> bool:
        """Relay one canonical chunk into ``out``; False when it settled the answer."""
        if event.get("error") is not None:
            out.append(self.fail(INBAND_ERROR, blind_error(200, event))[1])
            return False
        usage = None
        if isinstance(event.get("usage"), dict):
            cost = self.record_usage(event["usage"])
            usage = rebuild_usage(event["usage"], cost)
            if not self.ctx.wants_usage:
                # We asked for usage to count tokens; the evidence keeps it, the client
                # (who did not ask) does not get it.
                self.keep({"usage": usage})
                usage = None
        rebuilt = self._rebuild.chunk(event, usage)
        if rebuilt is not None:
            out.append(self.keep(rebuilt, self._encoder.chunk(rebuilt)))
        return True
