"""OpenAI Responses streams, read into canonical chunks and written from them.

Responses events are typed (``response.created``, ``response.output_item.added``,
``response.output_text.delta``, ``response.function_call_arguments.delta``,
``response.completed``, ...) and address output items by ``output_index``; canonical chunks
carry deltas of one choice. A ``function_call`` item is the canonical tool call numbered by
its order among the answer's calls; message text is content, reasoning summaries reasoning.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson

from previewgate.errors import PreviewGateError
from previewgate.formats.codec import Doc, ReplyContext, StreamDecoder, StreamEncoder
from previewgate.formats.common import count, dict_of, short_id
from previewgate.formats.responses.answer import (
    FINISH_TO_INCOMPLETE,
    call_item,
    envelope,
    finish_of,
    message_item,
    reasoning_item,
    text_part,
    usage_from_canonical,
    usage_to_canonical,
)

_TEXT_DELTAS = {
    "response.output_text.delta": "content",
    "response.refusal.delta": "refusal",
    "response.reasoning_summary_text.delta": "reasoning",
    "response.reasoning_text.delta": "reasoning",
}


def _choice(delta: Doc, finish: str | None = None) -> Doc:
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


class ResponsesDecoder(StreamDecoder):
    """Responses stream events -> canonical chunks."""

    __slots__ = ("_tools",)

    def __init__(self) -> None:
        self._tools: dict[int, int] = {}  # output_index -> tool call index

    def upstream_id(self, event: Doc) -> object:
        return dict_of(event.get("response")).get("id")

    def feed(self, event: Doc) -> list[Doc]:
        kind = event.get("type")
        field_name = _TEXT_DELTAS.get(str(kind))
        if field_name is not None:
            return [_choice({field_name: event.get("delta")})]
        if kind == "response.function_call_arguments.delta":
            index = self._tools.get(count(event.get("output_index")) or 0)
            if index is None:
                return []
            piece = {"index": index, "function": {"arguments": event.get("delta")}}
            return [_choice({"tool_calls": [piece]})]
        if kind == "response.output_item.added":
            return self._item(event)
        if kind == "response.created":
            return [_choice({"role": "assistant", "content": ""})]
        if kind in ("response.completed", "response.incomplete"):
            response = dict_of(event.get("response"))
            out = [_choice({}, finish_of(response, bool(self._tools)))]
            usage = usage_to_canonical(response.get("usage"))
            if usage is not None:
                out.append({"choices": [], "usage": usage})
            return out
        if kind == "response.failed":
            error = dict_of(event.get("response")).get("error")
            return [{"error": error or {"type": "server_error"}}]
        if kind == "error" or event.get("error") is not None:
            error = event.get("error") or {
                "code": event.get("code"),
                "message": event.get("message"),
            }
            return [{"error": error}]
        return []

    def _item(self, event: Doc) -> list[Doc]:
        item = dict_of(event.get("item"))
        if item.get("type") != "function_call":
            return []
        index = len(self._tools)
        self._tools[count(event.get("output_index")) or 0] = index
        function = {"name": item.get("name"), "arguments": item.get("arguments") or ""}
        call = {"index": index, "id": item.get("call_id"), "type": "function", "function": function}
        return [_choice({"tool_calls": [call]})]


@dataclass(slots=True)
class _Item:
    """One output item as it is streamed; its final form goes into ``response.completed``."""

    kind: str  # message | reasoning | function_call
    id: str
    index: int
    text: list[str] = field(default_factory=list)
    part: str = ""  # message: output_text | refusal
    parts: list[Doc] = field(default_factory=list)  # message: finished parts
    call_id: str = ""
    name: str = ""
    done: bool = False

    def final(self) -> Doc:
        if self.kind == "reasoning":
            return reasoning_item(self.id, "".join(self.text))
        if self.kind == "function_call":
            return call_item(self.call_id, self.name, "".join(self.text))
        return message_item(self.id, self.parts)


class ResponsesEncoder(StreamEncoder):
    """Rebuilt canonical chunks -> a Responses event stream."""

    __slots__ = ("_ctx", "_finish", "_items", "_open", "_seq", "_tools", "_usage")

    def __init__(self, ctx: ReplyContext) -> None:
        self._ctx = ctx
        self._seq = 0
        self._items: list[_Item] = []
        self._open: _Item | None = None
        self._tools: dict[int, _Item] = {}
        self._finish: str | None = None
        self._usage: Doc | None = None

    def _event(self, kind: str, doc: Doc) -> bytes:
        doc = {"type": kind, **doc, "sequence_number": self._seq}
        self._seq += 1
        return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(doc) + b"\n\n"

    def start(self) -> bytes:
        response = envelope(self._ctx, "in_progress", [], None)
        return self._event("response.created", {"response": response}) + self._event(
            "response.in_progress", {"response": response}
        )

    def _new(self, kind: str, prefix: str, item: Doc | None = None) -> tuple[_Item, bytes]:
        out = self._close()
        entry = _Item(
            kind, f"{prefix}_{short_id(self._ctx.response_id)}_{len(self._items)}", len(self._items)
        )
        if item is not None:
            entry.id = item["id"]
        self._items.append(entry)
        self._open = entry
        added = item or (
            {"type": "reasoning", "id": entry.id, "summary": []}
            if kind == "reasoning"
            else message_item(entry.id, [], "in_progress")
        )
        return entry, out + self._event(
            "response.output_item.added", {"output_index": entry.index, "item": added}
        )

    def _where(self, item: _Item) -> Doc:
        return {"item_id": item.id, "output_index": item.index}

    def _reasoning(self, text: str) -> bytes:
        out = b""
        item = self._open
        if item is None or item.kind != "reasoning":
            item, out = self._new("reasoning", "rs")
            part = {
                **self._where(item),
                "summary_index": 0,
                "part": {"type": "summary_text", "text": ""},
            }
            out += self._event("response.reasoning_summary_part.added", part)
        item.text.append(text)
        delta = {**self._where(item), "summary_index": 0, "delta": text}
        return out + self._event("response.reasoning_summary_text.delta", delta)

    def _message(self, part: str, text: str) -> bytes:
        out = b""
        item = self._open
        if item is None or item.kind != "message":
            item, out = self._new("message", "msg")
        if item.part != part:
            out += self._end_part(item)
            item.part = part
            empty = text_part("") if part == "output_text" else {"type": "refusal", "refusal": ""}
            added = {**self._where(item), "content_index": len(item.parts), "part": empty}
            out += self._event("response.content_part.added", added)
        item.text.append(text)
        delta: Doc = {**self._where(item), "content_index": len(item.parts), "delta": text}
        if part == "output_text":
            delta["logprobs"] = []
            return out + self._event("response.output_text.delta", delta)
        return out + self._event("response.refusal.delta", delta)

    def _end_part(self, item: _Item) -> bytes:
        if not item.part:
            return b""
        text = "".join(item.text)
        item.text = []
        where = {**self._where(item), "content_index": len(item.parts)}
        if item.part == "output_text":
            part = text_part(text)
            out = self._event("response.output_text.done", {**where, "text": text, "logprobs": []})
        else:
            part = {"type": "refusal", "refusal": text}
            out = self._event("response.refusal.done", {**where, "refusal": text})
        item.parts.append(part)
        item.part = ""
        return out + self._event("response.content_part.done", {**where, "part": part})

    def _call(self, call: Doc) -> bytes:
        out = b""
        function = dict_of(call.get("function"))
        index = call.get("index", 0)
        if "id" in call:
            name = str(function.get("name") or "")
            added = call_item(str(call["id"]), name, "", "in_progress")
            item, out = self._new("function_call", "fc", added)
            item.call_id, item.name = str(call["id"]), name
            self._tools[index] = item
        item_or_none = self._tools.get(index)
        arguments = function.get("arguments")
        if item_or_none is not None and arguments:
            item_or_none.text.append(arguments)
            delta = {**self._where(item_or_none), "delta": arguments}
            out += self._event("response.function_call_arguments.delta", delta)
        return out

    def _close(self) -> bytes:
        item, self._open = self._open, None
        if item is None or item.done:
            return b""
        item.done = True
        out = b""
        where = self._where(item)
        if item.kind == "message":
            out = self._end_part(item)
        elif item.kind == "reasoning":
            text = "".join(item.text)
            summary = {**where, "summary_index": 0}
            out = self._event("response.reasoning_summary_text.done", {**summary, "text": text})
            part = {"type": "summary_text", "text": text}
            out += self._event("response.reasoning_summary_part.done", {**summary, "part": part})
        else:
            arguments = "".join(item.text)
            out = self._event(
                "response.function_call_arguments.done", {**where, "arguments": arguments}
            )
        done = {"output_index": item.index, "item": item.final()}
        return out + self._event("response.output_item.done", done)

    def chunk(self, doc: Doc) -> bytes:
        out = []
        for choice in doc.get("choices") or ():
            if choice.get("index") != 0:
                continue
            delta = choice.get("delta") or {}
            if delta.get("reasoning"):
                out.append(self._reasoning(delta["reasoning"]))
            if delta.get("content"):
                out.append(self._message("output_text", delta["content"]))
            if delta.get("refusal"):
                out.append(self._message("refusal", delta["refusal"]))
            for call in delta.get("tool_calls") or ():
                out.append(self._call(call))
            if choice.get("finish_reason") is not None:
                self._finish = choice["finish_reason"]
        if doc.get("usage") is not None:
            self._usage = doc["usage"]
        return b"".join(out)

    def end(self) -> bytes:
        out = self._close()
        reason = FINISH_TO_INCOMPLETE.get(str(self._finish))
        output = [item.final() for item in self._items]
        usage = usage_from_canonical(self._usage)
        response = envelope(self._ctx, "incomplete" if reason else "completed", output, usage)
        if reason:
            response["incomplete_details"] = {"reason": reason}
            return out + self._event("response.incomplete", {"response": response})
        return out + self._event("response.completed", {"response": response})

    def error(self, error: PreviewGateError) -> bytes:
        doc = {"code": error.code, "message": error.message, "param": None}
        return self._event("error", doc)
