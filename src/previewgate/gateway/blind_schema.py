"""What an experimented client may receive, rebuilt field by field from the upstream's answer.

Blind by construction: nothing is copied from the upstream document as a whole. Each value
below is read from its own place, checked for its type, and written into a new object; every
other field (``system_fingerprint``, ``service_tier``, provider extras, unknown members) is
simply never read. The allowlist (OpenAI chat-completion schema):

=====================  ==================================================================
top level              ``id`` (the gateway's), ``object``, ``created`` (the gateway's),
                       ``model`` (the public id), ``choices``, ``usage``
choice                 ``index``, ``message`` / ``delta``, ``logprobs``, ``finish_reason``
                       (stop, length, tool_calls, content_filter, function_call; any other
                       value becomes ``stop``)
message / delta        ``role`` (always ``assistant``), ``content``, ``refusal``,
                       ``reasoning`` (also read from ``reasoning_content``), ``tool_calls``
tool call              ``index`` (streams), ``id`` (re-minted), ``type`` (``function``),
                       ``function.name``, ``function.arguments``
logprobs               ``content`` / ``refusal``: ``token``, ``logprob`` (non-finite ->
                       -9999.0, OpenAI's own floor), ``bytes``, ``top_logprobs``
usage                  non-negative integer token counts: ``prompt_tokens``,
                       ``completion_tokens``, ``total_tokens``, ``prompt_tokens_details
                       .cached_tokens|cache_write_tokens|audio_tokens``, ``completion_tokens_details
                       .reasoning_tokens|audio_tokens|accepted_prediction_tokens|
                       rejected_prediction_tokens``; ``cost`` is the gateway's
=====================  ==================================================================

Model output (content, refusal, reasoning, tool-call names and arguments, logprob tokens)
passes as generated: it is what the experiment is about.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from typing import Any

FINISH_REASONS = frozenset({"stop", "length", "tool_calls", "content_filter", "function_call"})
_TEXT_FIELDS = ("content", "refusal")
_USAGE_COUNTS = ("prompt_tokens", "completion_tokens", "total_tokens")
_USAGE_DETAILS = {
    "prompt_tokens_details": ("cached_tokens", "cache_write_tokens", "audio_tokens"),
    "completion_tokens_details": (
        "reasoning_tokens",
        "audio_tokens",
        "accepted_prediction_tokens",
        "rejected_prediction_tokens",
    ),
}
_LOGPROB_FLOOR = -9999.0
_MAX_INDEX = 1 << 16  # choice / tool-call positions: anything wider is not a real index
_MAX_TOKENS = 1 << 53


class ToolCallIds:
    """Re-mints tool-call ids: ``call_`` + a keyed hash of the upstream's id.

    The same upstream id always gives the same minted id (a client that echoes it back in
    its next request stays consistent), and nothing of the upstream's id shows through.
    """

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        self._key = key

    def mint(self, public_id: str, upstream_id: str) -> str:
        digest = hmac.new(
            self._key, f"{public_id}\x00{upstream_id}".encode(), hashlib.sha256
        ).hexdigest()
        return "call_" + digest[:24]


class UpstreamToolCallIds(ToolCallIds):
    """Production answers translated from another format keep the upstream's tool-call ids
    (only a missing one is minted)."""

    __slots__ = ()

    def mint(self, public_id: str, upstream_id: str) -> str:
        if upstream_id.startswith("gen-"):  # the rebuilder's stand-in for a missing id
            return super().mint(public_id, upstream_id)
        return upstream_id


class Rebuilder:
    """The allowlist for one request: its public id, the gateway's id, ``created``, id minting."""

    __slots__ = ("_minted", "created", "id", "ids", "public_id")

    def __init__(self, public_id: str, response_id: str, created: int, ids: ToolCallIds) -> None:
        self.public_id = public_id
        self.id = response_id
        self.created = created
        self.ids = ids
        self._minted: dict[tuple[int, int], str] = {}  # (choice, call) -> id, for this answer

    def completion(self, doc: dict[str, Any], cost: float) -> dict[str, Any]:
        """A ``chat.completion`` from a non-streamed upstream body (already known not an error)."""
        usage = rebuild_usage(doc.get("usage"), cost)
        return self._envelope("chat.completion", self._choices(doc, streamed=False), usage)

    def chunk(self, doc: dict[str, Any], usage: dict[str, Any] | None) -> dict[str, Any] | None:
        """A ``chat.completion.chunk``, or None when the upstream chunk carries nothing allowed.

        ``usage`` is the rebuilt usage to attach (the caller decides whether the client asked).
        """
        choices = self._choices(doc, streamed=True)
        if not choices and usage is None:
            return None
        return self._envelope("chat.completion.chunk", choices, usage)

    def _envelope(
        self, kind: str, choices: list[dict[str, Any]], usage: dict[str, Any] | None
    ) -> dict[str, Any]:
        result: dict[str, Any] = {
            "id": self.id,
            "object": kind,
            "created": self.created,
            "model": self.public_id,
            "choices": choices,
        }
        if usage is not None:
            result["usage"] = usage
        return result

    def _choices(self, doc: dict[str, Any], *, streamed: bool) -> list[dict[str, Any]]:
        """A message per choice (answers) or a delta per choice (stream chunks)."""
        choices = []
        raw = doc.get("choices")
        for pos, choice in enumerate(raw if isinstance(raw, list) else ()):
            if not isinstance(choice, dict):
                continue
            index = _index(choice.get("index"), pos)
            part = choice.get("delta" if streamed else "message")
            part = part if isinstance(part, dict) else {}
            out: dict[str, Any] = {"index": index}
            if streamed:
                out["delta"] = self._delta(part, index)
            else:
                out["message"] = self._message(part, index)
            logprobs = _logprobs(choice.get("logprobs"))
            if logprobs is not None or not streamed:  # an answer always says its logprobs
                out["logprobs"] = logprobs
            out["finish_reason"] = _finish(choice.get("finish_reason"))
            choices.append(out)
        return choices

    def _message(self, message: dict[str, Any], choice: int) -> dict[str, Any]:
        out: dict[str, Any] = {"role": "assistant"}
        for field in _TEXT_FIELDS:  # a message always says its content and refusal
            value = message.get(field)
            out[field] = value if isinstance(value, str) else None
        return self._parts(message, choice, out, streamed=False)

    def _delta(self, delta: dict[str, Any], choice: int) -> dict[str, Any]:
        out: dict[str, Any] = {"role": "assistant"} if "role" in delta else {}
        for field in _TEXT_FIELDS:  # a delta only what it adds
            value = delta.get(field)
            if isinstance(value, str):
                out[field] = value
        return self._parts(delta, choice, out, streamed=True)

    def _parts(
        self, part: dict[str, Any], choice: int, out: dict[str, Any], *, streamed: bool
    ) -> dict[str, Any]:
        """Reasoning and tool calls, the same in a message and in a delta."""
        reasoning = _reasoning(part)
        if reasoning is not None:
            out["reasoning"] = reasoning
        calls = part.get("tool_calls")
        if isinstance(calls, list):
            rebuilt = [
                self._tool_call(call, choice, pos, streamed=streamed)
                for pos, call in enumerate(calls)
                if isinstance(call, dict)
            ]
            if rebuilt:
                out["tool_calls"] = rebuilt
        return out

    def _tool_call(
        self, call: dict[str, Any], choice: int, pos: int, *, streamed: bool
    ) -> dict[str, Any]:
        # A message's calls are told apart by position; a stream's fragments by their index.
        index = _index(call.get("index"), pos) if streamed else pos
        out: dict[str, Any] = {"index": index} if streamed else {}
        upstream_id = call.get("id")
        key = (choice, index)
        minted: str | None = None
        if isinstance(upstream_id, str) and upstream_id:
            minted = self._minted[key] = self.ids.mint(self.public_id, upstream_id)
        elif key not in self._minted:
            # The upstream sent no id: the client still needs one to answer the call.
            minted = self._minted[key] = self.ids.mint(self.public_id, f"{self.id}/{key}")
        elif not streamed:
            minted = self._minted[key]
        if minted is not None:
            out["id"] = minted
            out["type"] = "function"
        fn = call.get("function")
        if isinstance(fn, dict):
            function = {k: v for k in ("name", "arguments") if isinstance(v := fn.get(k), str)}
            if function or not streamed:
                out["function"] = function
        elif not streamed:
            out["function"] = {}
        return out


def rebuild_usage(usage: Any, cost: float) -> dict[str, Any] | None:
    if not isinstance(usage, dict):
        return None
    out: dict[str, Any] = {}
    for name in _USAGE_COUNTS:
        if (value := _count(usage.get(name))) is not None:
            out[name] = value
    for group, names in _USAGE_DETAILS.items():
        details = usage.get(group)
        if isinstance(details, dict):
            kept = {n: v for n in names if (v := _count(details.get(n))) is not None}
            if kept:
                out[group] = kept
    out["cost"] = cost
    return out


def _count(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < _MAX_TOKENS:
        return value
    return None


def _index(value: Any, default: int) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < _MAX_INDEX:
        return value
    return default


def _finish(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) and value in FINISH_REASONS else "stop"


def _reasoning(part: dict[str, Any]) -> str | None:
    value = part.get("reasoning")
    if isinstance(value, str):
        return value
    value = part.get("reasoning_content")
    return value if isinstance(value, str) else None


def _logprob(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return _LOGPROB_FLOOR
    try:
        number = float(value)  # an exact integer wider than a double overflows
    except OverflowError:
        return _LOGPROB_FLOOR
    return number if math.isfinite(number) else _LOGPROB_FLOOR


def _token_bytes(value: Any) -> list[int] | None:
    if isinstance(value, list) and all(
        isinstance(b, int) and not isinstance(b, bool) and 0 <= b <= 255 for b in value
    ):
        return value
    return None


def _token(entry: dict[str, Any], nested: bool) -> dict[str, Any]:
    token = entry.get("token")
    out: dict[str, Any] = {
        "token": token if isinstance(token, str) else "",
        "logprob": _logprob(entry.get("logprob")),
        "bytes": _token_bytes(entry.get("bytes")),
    }
    if nested:
        top = entry.get("top_logprobs")
        out["top_logprobs"] = [
            _token(t, False) for t in (top if isinstance(top, list) else ()) if isinstance(t, dict)
        ]
    return out


def _logprobs(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    out: dict[str, Any] = {}
    for field in ("content", "refusal"):
        entries = value.get(field)
        if isinstance(entries, list):
            out[field] = [_token(e, True) for e in entries if isinstance(e, dict)]
        elif field in value:
            out[field] = None
    return out
