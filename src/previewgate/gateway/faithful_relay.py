"""Faithful relays: production and default-upstream answers, byte for byte but for our ids.

The client gets the upstream's bytes unchanged except the top-level ``id`` (the gateway's),
``model`` (the public id, for catalog routes) and ``usage.cost`` (our price) — and the same
members of a stream event's envelope (Anthropic's ``message``, Responses' ``response``) when
client and upstream speak one of those formats — spliced in place
by `json_splice` so large integers, escapes, key order, whitespace, unknown fields and SSE
comments, ``event:``/``id:`` lines and line ends survive. A usage-only stream chunk the client
did not ask for is dropped (we ask for it to count tokens). Error bodies (status >= 300) are
scrubbed of the route's key, base URL and host (`scrub_error_body`), as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from previewgate.errors import InvalidUpstreamResponse, UpstreamError
from previewgate.formats.anthropic.answer import ERROR_TYPES as _TYPES
from previewgate.formats.anthropic.answer import error_type
from previewgate.formats.codec import StreamDecoder
from previewgate.gateway.json_splice import Span, splice, top_level_spans
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
from previewgate.redaction.route_secrets import redact
from previewgate.sse import SseLines, SseTooLarge, data_payload, loads_exact, strip_line_end

_ALLOWED_HEADERS = frozenset(
    {
        "content-type",
        "retry-after",
        "x-ratelimit-limit-requests",
        "x-ratelimit-limit-tokens",
        "x-ratelimit-remaining-requests",
        "x-ratelimit-remaining-tokens",
        "x-ratelimit-reset-requests",
        "x-ratelimit-reset-tokens",
    }
)
_WITH_MODEL = frozenset({"id", "model", "usage"})
_WITHOUT_MODEL = frozenset({"id", "usage"})
_COST = frozenset({"cost"})


def filter_response_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Allowlist upstream response headers; names are returned lower-case."""
    return [(name.lower(), value) for name, value in headers if name.lower() in _ALLOWED_HEADERS]


def _encoded_headers(
    headers: Iterable[tuple[str, str]], *, skip: str = ""
) -> list[tuple[bytes, bytes]]:
    return [
        (name.encode(), value.encode("latin-1", "replace"))
        for name, value in filter_response_headers(headers)
        if name != skip
    ]


class _Splicer:
    """Writes our ``id``, ``model`` and ``usage.cost`` into one JSON document's bytes (and
    into its ``envelope`` member, for formats whose stream events nest the answer's)."""

    __slots__ = ("_envelope", "_id", "_inner", "_model", "_names", "cost")

    def __init__(self, ctx: RelayContext) -> None:
        self._id = orjson.dumps(ctx.response_id)
        self._model = orjson.dumps(ctx.public_id)
        self._inner = _WITH_MODEL if ctx.rewrite_model else _WITHOUT_MODEL
        self._envelope = ctx.upstream.envelope
        self._names = self._inner | {self._envelope} if self._envelope else self._inner
        self.cost: bytes | None = None  # set once the usage is known

    def spans(self, doc: bytes, start: int, end: int) -> list[Span]:
        return top_level_spans(doc, start, end, self._names)

    def __call__(self, name: str, old: bytes) -> bytes | None:
        if name == "id":
            return self._id
        if name == "model":
            return self._model
        if not old.startswith(b"{"):
            return None
        if name == self._envelope:
            return splice(old, top_level_spans(old, 0, len(old), self._inner), self)
        if self.cost is None:
            return None
        return _set_cost(old, self.cost)


def _parse(payload: bytes) -> Any:
    try:
        return orjson.loads(payload)  # big integers may come back as floats: fine to inspect
    except orjson.JSONDecodeError:
        pass
    try:
        return loads_exact(payload, constants=True)
    except ValueError:
        return None


def _set_cost(usage: bytes, cost: bytes) -> bytes:
    spans = top_level_spans(usage, 0, len(usage), _COST)
    if spans:
        return splice(usage, spans, lambda _n, _o: cost)
    close = usage.rstrip().rfind(b"}")
    inner = usage[1:close].strip()
    sep = b"," if inner else b""
    return usage[:close] + sep + b'"cost":' + cost + usage[close:]


class FaithfulJson(BodyReader):
    def answer(self) -> tuple[Head | None, bytes]:
        body = self.body()
        try:
            doc = loads_exact(body, constants=True)
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            return self.fail(
                "invalid_response", InvalidUpstreamResponse("Invalid upstream answer.")
            )
        self.note_upstream_id(doc)
        canonical = doc if self.ctx.upstream.envelope is None else self.ctx.upstream.answer(doc)
        if canonical.get("error") is not None:
            self.outcome.error_kind = INBAND_ERROR
        splicer = _Splicer(self.ctx)
        if isinstance(canonical.get("usage"), dict):
            splicer.cost = orjson.dumps(self.record_usage(canonical["usage"]))
        body = splice(body, splicer.spans(body, 0, len(body)), splicer)
        self.outcome.status_code = self.status
        self.outcome.response_started = True
        headers = _encoded_headers(self.headers, skip="content-type")
        return self.json_head(self.status, body, headers), body


class FaithfulStream(Relay):
    """SSE, line by line; a ``data:`` line holding a JSON object gets our values spliced in."""

    def __init__(
        self,
        ctx: RelayContext,
        outcome: Outcome,
        status: int = 200,
        headers: Sequence[tuple[str, str]] = (),
    ) -> None:
        super().__init__(ctx, outcome, status, headers)
        self._lines = SseLines(MAX_SSE_EVENT)
        self._splice = _Splicer(ctx)
        self._pending: list[bytes] = []  # raw lines of an event whose JSON spans data lines
        self._pending_size = 0
        # Formats with typed events are read into canonical chunks for usage and errors.
        self._decoder = ctx.upstream.decoder() if ctx.upstream.envelope else None

    def start(self) -> Head | None:
        return self.sse_head(self.status, _encoded_headers(self.headers, skip="content-type"))

    def feed(self, chunk: bytes) -> bytes:
        if not self._pending and not self.done:
            line = self._lines.single_event(chunk)
            if line is not None:
                return self._line(line) + b"\n"
        try:
            lead, lines = self._lines.feed(chunk)
        except SseTooLarge:
            return self._too_large()
        if lead and self._pending:  # the LF of a held line's CRLF: it stays with its line
            self._pending[-1] += lead
            lead = b""
        if not lines:
            return lead
        return lead + b"".join([self._line(line) for line in lines])

    def finish(self) -> tuple[Head | None, bytes]:
        if self.done:
            return self._final
        out = b"".join([self._line(line) for line in self._lines.finish()])
        if self._pending:
            out += self._flush_pending()
        return None, out

    def _too_large(self) -> bytes:
        return self.fail("response_too_large", UpstreamError("upstream event too large"))[1]

    def _line(self, line: bytes) -> bytes:
        if self.done:
            return b""
        content = strip_line_end(line)
        if self._pending:
            self._pending.append(line)
            self._pending_size += len(line)
            if not content:
                return self._flush_pending()
            if self._pending_size > MAX_SSE_EVENT:
                self._pending.clear()
                return self._too_large()
            return b""
        payload = data_payload(content)
        if payload is None or not payload.lstrip().startswith(b"{"):
            return line
        doc = _parse(payload)
        if doc is None:  # not JSON on its own: the event goes on in more data lines
            self._pending.append(line)
            self._pending_size = len(line)
            return b""
        if self._inspect(doc):
            return b""
        start = len(content) - len(payload)
        return splice(line, self._splice.spans(content, start, len(content)), self._splice)

    def _inspect(self, doc: Any) -> bool:
        """Note usage (to count and price) and in-band errors; True: drop this event.

        A usage-only chunk is dropped when the client did not ask for usage: the gateway
        asked for it, to count tokens.
        """
        if not isinstance(doc, dict):
            return False
        if self._decoder is not None:
            return self._inspect_typed(doc, self._decoder)
        self.note_upstream_id(doc)
        if doc.get("error") is not None and self.outcome.error_kind is None:
            self.outcome.error_kind = INBAND_ERROR
        if not isinstance(doc.get("usage"), dict):
            return False
        self._splice.cost = orjson.dumps(self.record_usage(doc["usage"]))
        return not self.ctx.wants_usage and not doc.get("choices")

    def _inspect_typed(self, doc: dict[str, Any], decoder: StreamDecoder) -> bool:
        self.note_upstream_id(doc, decoder.upstream_id(doc))
        for chunk in decoder.feed(doc):
            if chunk.get("error") is not None and self.outcome.error_kind is None:
                self.outcome.error_kind = INBAND_ERROR
            if isinstance(chunk.get("usage"), dict):
                self._splice.cost = orjson.dumps(self.record_usage(chunk["usage"]))
        return False

    def _flush_pending(self) -> bytes:
        """A multi-line ``data:`` event: our values spliced into the joined payload, each line
        written back with its own prefix and line end (JSON values hold no raw line break, so
        the splice keeps the line count)."""
        lines, self._pending = self._pending, []
        self._pending_size = 0
        payloads = [data_payload(strip_line_end(line)) for line in lines]
        joined = b"\n".join(p for p in payloads if p is not None)
        doc = _parse(joined)
        if doc is None:  # not JSON even joined: pass the event on as it came
            return b"".join(lines)
        if self._inspect(doc):
            return b"".join(line for line in lines if data_payload(strip_line_end(line)) is None)
        parts = iter(
            splice(joined, self._splice.spans(joined, 0, len(joined)), self._splice).split(b"\n")
        )
        out = []
        for line in lines:
            content = strip_line_end(line)
            payload = data_payload(content)
            if payload is None:
                out.append(line)
            else:
                prefix = content[: len(content) - len(payload)]
                out.append(prefix + next(parts) + line[len(content) :])
        return b"".join(out)


class FaithfulError(ErrorBodyReader):
    """Status >= 300: the upstream's error, scrubbed of the route's secrets (no redirects)."""

    def answer(self) -> tuple[Head | None, bytes]:
        status = self.status
        if not 400 <= status <= 599:
            kind = "invalid_response" if status > 599 else f"upstream_{status}"
            return self.fail(kind, InvalidUpstreamResponse("Invalid upstream answer."))
        secrets = self.ctx.route.secrets()  # only errors need them: not made per request
        body = scrub_error_body(self.body(), status, self.ctx.public_id, secrets)
        if self.ctx.client.kind == "messages":
            body = anthropic_error_body(body, status)
        self.outcome.error_kind = f"upstream_{status}"
        self.outcome.status_code = status
        self.outcome.response_started = True
        headers = _encoded_headers(self.headers, skip="content-type")
        return self.json_head(status, body, headers), body


_MAX_TEXT = 500


def scrub_error_body(body: bytes, status: int, public_id: str, secrets: Sequence[str]) -> bytes:
    """An upstream error body as an OpenAI-shaped error, its texts scrubbed of ``secrets``."""
    try:
        obj = loads_exact(body)
    except ValueError:
        obj = None
    err = obj.get("error") if isinstance(obj, dict) else None
    out: dict[str, Any]
    if isinstance(err, dict):
        message = err.get("message")
        code = err.get("code")
        etype = err.get("type")
        if isinstance(code, str):
            code = redact(code, secrets)
        elif not isinstance(code, int) or isinstance(code, bool) or not -(2**53) < code < 2**53:
            code = None
        inner: dict[str, Any] = {
            "message": redact(str(message), secrets) if message else "upstream error",
            "type": redact(etype, secrets) if isinstance(etype, str) else "upstream_error",
            "code": code,
        }
        if "model" in err:
            inner["model"] = public_id
        out = {"error": inner}
    else:
        text = body.decode("utf-8", "replace").strip()
        # HTML pages from proxies name servers/CDNs: never forward them.
        if text.startswith("<"):
            text = ""
        text = redact(text, secrets)[:_MAX_TEXT]
        out = {
            "error": {"message": text or "upstream error", "type": "upstream_error", "code": status}
        }
    if isinstance(obj, dict) and "model" in obj:
        out["model"] = public_id
    return orjson.dumps(out)


_KNOWN = frozenset(_TYPES.values()) | {"api_error", "invalid_request_error"}


def anthropic_error_body(scrubbed: bytes, status: int) -> bytes:
    """A scrubbed OpenAI-shaped error in Anthropic's shape: the message kept, the type
    Anthropic's for the status (an Anthropic upstream's own type when it gave one)."""
    error = orjson.loads(scrubbed)["error"]
    etype = error.get("type")
    if etype not in _KNOWN:
        etype = error_type(status)
    return orjson.dumps({"type": "error", "error": {"type": etype, "message": error["message"]}})
