"""Response capture: assemble a chat completion from a JSON body or an SSE byte stream.

`ResponseAssembler.feed(chunk)` takes SSE bytes exactly as they arrive (any split points, even
inside a line or a multi-byte character); `feed_json(body)` takes a whole non-streaming body.
Per chunk it only buffers the incomplete trailing line and parses each complete ``data:`` line
once, so it is cheap enough to run on every request. Malformed input is skipped, never raised.

`finish()` returns the canonical JSON (see `capture.canonical_json`) of an OpenAI-like
chat.completion, capped at the byte limit with the same water-filling truncation as prompts
(content, reasoning, refusal and tool-call arguments are the preferred cut points)::

    {"model":..,"choices":[{"index":0,"message":{"role":"assistant","content":..,
     "reasoning":..,"refusal":..,"tool_calls":[{"id":..,"type":..,"function":{"name":..,
     "arguments":..}}]},"finish_reason":..}],"usage":{..},"error":{..}}

Keys never received are omitted. Reasoning arrives as ``reasoning`` or ``reasoning_content``
depending on the server and is always emitted as ``reasoning``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from previewgate.evidence.capture import DEFAULT_LIMIT_BYTES, Slot, fit_to_limit
from previewgate.redaction.route_secrets import mentions, redact, survives_json
from previewgate.sse import DONE, SseEvents

__all__ = ["CapturedResponse", "ResponseAssembler", "UsageCounts"]


@dataclass(frozen=True)
class CapturedResponse:
    body: bytes  # canonical JSON of the assembled chat.completion
    was_truncated: bool


@dataclass(frozen=True)
class UsageCounts:
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None  # usage.prompt_tokens_details.cached_tokens
    cost: float | None = None  # provider-reported cost (e.g. OpenRouter), if any

    @classmethod
    def from_usage(cls, usage: dict[str, Any] | None) -> UsageCounts:
        if not isinstance(usage, dict):
            return cls()
        details = usage.get("prompt_tokens_details")
        details = details if isinstance(details, dict) else None
        return cls(
            prompt_tokens=_int_or_none(usage.get("prompt_tokens")),
            completion_tokens=_int_or_none(usage.get("completion_tokens")),
            cached_tokens=_int_or_none(details.get("cached_tokens") if details else None),
            cost=_float_or_none(usage.get("cost")),
        )


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float_or_none(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _present(d: dict[str, Any]) -> dict[str, Any]:
    """Drop keys whose value was never received."""
    return {k: v for k, v in d.items() if v is not None}


def _loads(payload: bytes) -> Any:
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        pass
    try:  # stdlib accepts a few things orjson rejects (lone surrogates, huge ints)
        return json.loads(payload)
    except Exception:  # malformed input of any kind is skipped, never raised
        return None


class _Text:
    """Concatenated string deltas; stops storing past `cap` chars (the output is capped anyway)."""

    __slots__ = ("cap", "chars", "parts")

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.parts: list[str] = []
        self.chars = 0

    def add(self, piece: str) -> None:
        # chars >= bytes/4 but bytes >= chars: past `cap` chars nothing more can survive the cut.
        if self.chars <= self.cap:
            self.parts.append(piece)
            self.chars += len(piece)

    def value(self) -> str:
        if len(self.parts) > 1:
            self.parts = ["".join(self.parts)]
        return self.parts[0] if self.parts else ""


class _ToolCall:
    __slots__ = ("_cap", "arguments", "id", "name", "type")

    def __init__(self, cap: int) -> None:
        self.id: str | None = None
        self.type: str | None = None
        self.name: str | None = None
        self.arguments: _Text | None = None
        self._cap = cap

    def merge(self, frag: dict[str, Any]) -> None:
        # id/type/name arrive whole in the first fragment; later repeats must not double them.
        if self.id is None and isinstance(frag.get("id"), str):
            self.id = frag["id"]
        if self.type is None and isinstance(frag.get("type"), str):
            self.type = frag["type"]
        fn = frag.get("function")
        if isinstance(fn, dict):
            name, args = fn.get("name"), fn.get("arguments")
            if not self.name and isinstance(name, str):
                self.name = name
            if isinstance(args, str):
                if self.arguments is None:
                    self.arguments = _Text(self._cap)
                self.arguments.add(args)

    def to_dict(self) -> dict[str, Any]:
        args = self.arguments.value() if self.arguments is not None else None
        fn = _present({"name": self.name, "arguments": args})
        return _present({"id": self.id, "type": self.type, "function": fn or None})


class _Choice:
    __slots__ = ("cap", "finish_reason", "role", "texts", "tool_calls")

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.role: str | None = None
        self.texts: dict[str, _Text] = {}  # "content" / "reasoning" / "refusal"
        self.tool_calls: dict[int, _ToolCall] = {}
        self.finish_reason: str | None = None

    def _add(self, field: str, piece: Any) -> None:
        if isinstance(piece, str):
            text = self.texts.get(field)
            if text is None:
                text = self.texts[field] = _Text(self.cap)
            text.add(piece)

    def merge(self, delta: dict[str, Any]) -> None:
        if self.role is None and isinstance(delta.get("role"), str):
            self.role = delta["role"]
        self._add("content", delta.get("content"))
        reasoning = delta.get("reasoning")  # servers sending both carry the same text twice
        self._add(
            "reasoning", reasoning if isinstance(reasoning, str) else delta.get("reasoning_content")
        )
        self._add("refusal", delta.get("refusal"))
        calls = delta.get("tool_calls")
        if isinstance(calls, list):
            for pos, frag in enumerate(calls):
                if isinstance(frag, dict):
                    idx = frag.get("index")
                    # Non-streaming bodies carry no index: their list position is the index.
                    key = idx if isinstance(idx, int) and not isinstance(idx, bool) else pos
                    call = self.tool_calls.get(key)
                    if call is None:
                        call = self.tool_calls[key] = _ToolCall(self.cap)
                    call.merge(frag)

    def to_dict(self, index: int) -> dict[str, Any]:
        message: dict[str, Any] = {"role": self.role or "assistant"}
        for field in ("content", "reasoning", "refusal"):
            if field in self.texts:
                message[field] = self.texts[field].value()
        if self.tool_calls:
            message["tool_calls"] = [self.tool_calls[i].to_dict() for i in sorted(self.tool_calls)]
        return _present({"index": index, "message": message, "finish_reason": self.finish_reason})


def _response_text_slots(doc: Any) -> list[Slot]:
    slots: list[Slot] = []
    for choice in doc.get("choices", []) if isinstance(doc, dict) else []:
        message = choice.get("message", {})
        for field in ("content", "reasoning", "refusal"):
            if isinstance(message.get(field), str):
                slots.append([(message, field)])
        for call in message.get("tool_calls", []):
            fn = call.get("function", {})
            if isinstance(fn.get("arguments"), str):
                slots.append([(fn, "arguments")])
    return slots


def _redacted(value: Any, secrets: Sequence[str]) -> Any:
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {redact(k, secrets): _redacted(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v, secrets) for v in value]
    return value


class ResponseAssembler:
    """Incrementally assembles one upstream response; see the module docstring."""

    def __init__(self, limit_bytes: int = DEFAULT_LIMIT_BYTES) -> None:
        self._limit = limit_bytes
        # An event longer than this is dropped whole (decided on its full length, so the
        # result never depends on how the stream was split).
        self._events: SseEvents | None = None  # only for ``feed``: the relay merges dicts
        self._choices: dict[int, _Choice] = {}
        self._meta: dict[str, str] = {}
        self._usage: dict[str, Any] | None = None
        self._error: Any = None
        self._received = False
        self.done = False  # saw "data: [DONE]"

    @property
    def usage(self) -> dict[str, Any] | None:
        """The latest usage object received (the final usage chunk in a stream)."""
        return self._usage

    @property
    def usage_counts(self) -> UsageCounts:
        return UsageCounts.from_usage(self._usage)

    def feed(self, chunk: bytes) -> None:
        """Feed SSE bytes as they arrive."""
        if self._events is None:
            self._events = SseEvents(max(2 * self._limit, 1 << 20), skip_long=True)
        self._take(self._events.feed(chunk))

    def feed_json(self, body: bytes) -> None:
        """Feed a complete non-streaming response body (chat.completion or error JSON)."""
        obj = _loads(body)
        if isinstance(obj, dict):
            self.add(obj)

    def _take(self, events: list[Any]) -> None:
        for event in events:
            if event is DONE:
                self.done = True
            elif isinstance(event, dict):
                self.add(event)

    def add(self, obj: dict[str, Any]) -> None:
        """Merge one parsed answer or stream chunk (what the blind relay rebuilt)."""
        self._received = True
        # Not "id": ours is unique per request (gen-<usage id>, on the row already), and an
        # answer's blob is addressed by its content, so identical answers share one blob.
        value = obj.get("model")
        if "model" not in self._meta and isinstance(value, str):
            self._meta["model"] = value
        usage = obj.get("usage")
        if isinstance(usage, dict):
            self._usage = usage
        if obj.get("error") is not None:
            self._error = obj["error"]
        choices = obj.get("choices")
        if not isinstance(choices, list):
            return
        for pos, raw in enumerate(choices):
            if not isinstance(raw, dict):
                continue
            idx = raw.get("index")
            idx = idx if isinstance(idx, int) and not isinstance(idx, bool) else pos
            choice = self._choices.get(idx)
            if choice is None:
                choice = self._choices[idx] = _Choice(self._limit)
            delta = raw.get("delta")
            if not isinstance(delta, dict):
                delta = raw.get("message")  # non-streaming body: the whole message at once
            if isinstance(delta, dict):
                choice.merge(delta)
            if isinstance(raw.get("finish_reason"), str):
                choice.finish_reason = raw["finish_reason"]

    def finish(self, secrets: Sequence[str] = ()) -> CapturedResponse | None:
        """Flush any unterminated last line and return the capped result (None if empty).

        Every string of the result has ``secrets`` (the serving route's key and base URL)
        redacted before it is serialised: evidence never holds a partner credential.
        """
        if self._events is not None:
            self._take(self._events.finish())
        if not self._received:
            return None
        doc: dict[str, Any] = dict(self._meta)
        if self._choices:
            doc["choices"] = [self._choices[i].to_dict(i) for i in sorted(self._choices)]
        if self._usage is not None:
            doc["usage"] = self._usage
        if self._error is not None:
            doc["error"] = self._error
        body, truncated = fit_to_limit(doc, _response_text_slots, self._limit)
        # One search of the serialised answer usually shows there is nothing to redact.
        if secrets and (
            not survives_json(secrets) or mentions(body.decode("utf-8", "replace"), secrets)
        ):
            body, truncated = fit_to_limit(
                _redacted(doc, secrets), _response_text_slots, self._limit
            )
        return CapturedResponse(body, truncated)
