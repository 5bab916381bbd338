"""Anthropic Messages streams, read into canonical chunks and written from them.

Anthropic events (``message_start``, ``content_block_start|delta|stop``, ``message_delta``,
``message_stop``, ``ping``, ``error``) carry named content blocks; canonical chunks carry
deltas of one choice. Block ``i`` of type ``tool_use`` is the canonical tool call numbered by
its order among the answer's tool calls; text and thinking blocks are content and reasoning.
"""

from __future__ import annotations

import orjson

from previewgate.errors import PreviewGateError
from previewgate.formats.anthropic.answer import (
    FINISH_TO_STOP,
    STOP_TO_FINISH,
    error_doc,
    usage_from_canonical,
    usage_to_canonical,
)
from previewgate.formats.codec import Doc, ReplyContext, StreamDecoder, StreamEncoder
from previewgate.formats.common import count, dict_of


def _choice(delta: Doc, finish: str | None = None) -> Doc:
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


class AnthropicDecoder(StreamDecoder):
    """Anthropic stream events -> canonical chunks."""

    __slots__ = ("_tools", "_usage")

    def __init__(self) -> None:
        self._tools: dict[int, int] = {}  # content block index -> tool call index
        self._usage: Doc = {}  # Anthropic usage fields, merged as events report them

    def upstream_id(self, event: Doc) -> object:
        return dict_of(event.get("message")).get("id")

    def feed(self, event: Doc) -> list[Doc]:
        kind = event.get("type")
        if kind == "content_block_delta":
            return self._delta(event)
        if kind == "content_block_start":
            return self._block(event)
        if kind == "message_start":
            self._note_usage(dict_of(event.get("message")).get("usage"))
            return [_choice({"role": "assistant", "content": ""})]
        if kind == "message_delta":  # the last usage, cumulative: the answer's final counts
            self._note_usage(event.get("usage"))
            stop = dict_of(event.get("delta")).get("stop_reason")
            out = [_choice({}, STOP_TO_FINISH.get(str(stop), "stop"))] if stop is not None else []
            usage = usage_to_canonical(self._usage) if self._usage else None
            if usage is not None:
                out.append({"choices": [], "usage": usage})
            return out
        if kind == "error" or event.get("error") is not None:
            return [{"error": event.get("error") or {"type": "api_error"}}]
        return []  # ping, content_block_stop, message_stop, unknown events

    def _note_usage(self, usage: object) -> None:
        if isinstance(usage, dict):
            for name, value in usage.items():
                if count(value) is not None:
                    self._usage[name] = value

    def _block(self, event: Doc) -> list[Doc]:
        block = dict_of(event.get("content_block"))
        kind = block.get("type")
        if kind == "tool_use":
            index = len(self._tools)
            self._tools[count(event.get("index")) or 0] = index
            call = {
                "index": index,
                "id": block.get("id"),
                "type": "function",
                "function": {"name": block.get("name"), "arguments": ""},
            }
            return [_choice({"tool_calls": [call]})]
        if kind == "text" and isinstance(block.get("text"), str) and block["text"]:
            return [_choice({"content": block["text"]})]
        return []

    def _delta(self, event: Doc) -> list[Doc]:
        delta = dict_of(event.get("delta"))
        kind = delta.get("type")
        if kind == "text_delta":
            return [_choice({"content": delta.get("text")})]
        if kind == "thinking_delta":
            return [_choice({"reasoning": delta.get("thinking")})]
        if kind == "input_json_delta":
            index = self._tools.get(count(event.get("index")) or 0)
            if index is None:
                return []
            piece = {"index": index, "function": {"arguments": delta.get("partial_json")}}
            return [_choice({"tool_calls": [piece]})]
        return []  # signature_delta, citations_delta


def _event(name: bytes, doc: Doc) -> bytes:
    return b"event: " + name + b"\ndata: " + orjson.dumps(doc) + b"\n\n"


class AnthropicEncoder(StreamEncoder):
    """Rebuilt canonical chunks -> an Anthropic stream (every event named, as the SDK wants)."""

    __slots__ = ("_blocks", "_ctx", "_open", "_stop", "_tool_blocks", "_usage")

    def __init__(self, ctx: ReplyContext) -> None:
        self._ctx = ctx
        self._open: tuple[str, int] | None = None  # (kind, tool index or -1) of the open block
        self._blocks = 0  # blocks started so far
        self._tool_blocks: dict[int, int] = {}  # tool call index -> its block's index
        self._stop: str | None = None
        self._usage: Doc | None = None

    def start(self) -> bytes:
        message: Doc = {
            "id": self._ctx.response_id,
            "type": "message",
            "role": "assistant",
            "model": self._ctx.public_id,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage_from_canonical(None),
        }
        return _event(b"message_start", {"type": "message_start", "message": message})

    def _close(self) -> bytes:
        if self._open is None:
            return b""
        self._open = None
        index = self._blocks - 1
        return _event(b"content_block_stop", {"type": "content_block_stop", "index": index})

    def _begin(self, kind: str, block: Doc, tool: int = -1) -> bytes:
        out = self._close()
        self._open = (kind, tool)
        doc = {"type": "content_block_start", "index": self._blocks, "content_block": block}
        self._blocks += 1
        return out + _event(b"content_block_start", doc)

    def _delta(self, delta: Doc, block: int | None = None) -> bytes:
        index = self._blocks - 1 if block is None else block
        doc = {"type": "content_block_delta", "index": index, "delta": delta}
        return _event(b"content_block_delta", doc)

    def _text(self, kind: str, text: str) -> bytes:
        out = b""
        if self._open is None or self._open[0] != kind:
            block: Doc = (
                {"type": "thinking", "thinking": "", "signature": ""}
                if kind == "thinking"
                else {"type": "text", "text": ""}
            )
            out = self._begin(kind, block)
        delta = (
            {"type": "thinking_delta", "thinking": text}
            if kind == "thinking"
            else {"type": "text_delta", "text": text}
        )
        return out + self._delta(delta)

    def _tool(self, call: Doc) -> bytes:
        out = b""
        index = call.get("index", 0)
        function = dict_of(call.get("function"))
        if "id" in call:
            block = {"type": "tool_use", "id": call["id"], "name": function.get("name", "")}
            out = self._begin("tool", {**block, "input": {}}, index)
            self._tool_blocks[index] = self._blocks - 1
        arguments = function.get("arguments")
        if arguments and index in self._tool_blocks:
            # By its block's index: an upstream may interleave the fragments of two calls.
            delta = {"type": "input_json_delta", "partial_json": arguments}
            out += self._delta(delta, self._tool_blocks[index])
        return out

    def chunk(self, doc: Doc) -> bytes:
        out = []
        for choice in doc.get("choices") or ():
            if choice.get("index") != 0:
                continue
            delta = choice.get("delta") or {}
            if delta.get("reasoning"):
                out.append(self._text("thinking", delta["reasoning"]))
            for field in ("content", "refusal"):
                if delta.get(field):
                    out.append(self._text("text", delta[field]))
            for call in delta.get("tool_calls") or ():
                out.append(self._tool(call))
            if choice.get("finish_reason") is not None:
                self._stop = FINISH_TO_STOP.get(choice["finish_reason"], "end_turn")
        if doc.get("usage") is not None:
            self._usage = doc["usage"]
        return b"".join(out)

    def end(self) -> bytes:
        delta = {"stop_reason": self._stop or "end_turn", "stop_sequence": None}
        usage = usage_from_canonical(self._usage)
        message_delta = {"type": "message_delta", "delta": delta, "usage": usage}
        return (
            self._close()
            + _event(b"message_delta", message_delta)
            + _event(b"message_stop", {"type": "message_stop"})
        )

    def error(self, error: PreviewGateError) -> bytes:
        return _event(b"error", error_doc(error))
