"""Blind-mode shape checks for the Responses and Messages client APIs (leak_scan has chat's).

Each answer is read as an outsider: every key must be in the format's allowlist, every id
the gateway's, the model the public id; the model output is reassembled for comparison.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tests.support.leak_scan import Capture, parse_sse

MESSAGE_KEYS = {"id", "type", "role", "model", "content", "stop_reason", "stop_sequence", "usage"}
BLOCK_KEYS = {
    "text": {"type", "text"},
    "thinking": {"type", "thinking", "signature"},
    "tool_use": {"type", "id", "name", "input"},
}
ANTHROPIC_USAGE = {
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "cost",
}
STOP_REASONS = {"end_turn", "max_tokens", "tool_use", "refusal"}
ANTHROPIC_EVENTS = {
    "message_start",
    "content_block_start",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
    "message_stop",
    "error",
}
DELTA_KEYS = {
    "text_delta": {"type", "text"},
    "thinking_delta": {"type", "thinking"},
    "input_json_delta": {"type", "partial_json"},
}
RESPONSE_KEYS = {
    "id",
    "object",
    "created_at",
    "status",
    "error",
    "incomplete_details",
    "model",
    "output",
    "usage",
    "store",
    "truncation",
    "text",
    "reasoning",
    "instructions",
    "max_output_tokens",
    "metadata",
    "parallel_tool_calls",
    "temperature",
    "tool_choice",
    "tools",
    "top_p",
}
ITEM_KEYS = {
    "message": {"type", "id", "status", "role", "content"},
    "reasoning": {"type", "id", "summary"},
    "function_call": {"type", "id", "call_id", "name", "arguments", "status"},
}
PART_KEYS = {
    "output_text": {"type", "text", "annotations", "logprobs"},
    "refusal": {"type", "refusal"},
}
RESPONSES_USAGE = {
    "input_tokens",
    "input_tokens_details",
    "output_tokens",
    "output_tokens_details",
    "total_tokens",
    "cost",
}
ERROR_SHAPES = {"messages": {"type", "error"}, "responses": {"error"}}


@dataclass
class Read:
    text: str = ""
    reasoning: str = ""
    calls: list[tuple[str, Any]] = field(default_factory=list)  # name, arguments (parsed)
    input_tokens: int | None = None
    output_tokens: int | None = None
    problems: list[str] = field(default_factory=list)
    inband_error: bool = False


def _extra(read: Read, where: str, obj: Any, allowed: set[str]) -> None:
    if not isinstance(obj, dict):
        read.problems.append(f"{where} is not an object: {obj!r:.80}")
    elif extra := sorted(set(obj) - allowed):
        read.problems.append(f"{where} has keys outside the allowlist: {extra}")


def _ids(read: Read, doc: dict[str, Any], public_id: str) -> None:
    if not str(doc.get("id", "")).startswith("gen-"):
        read.problems.append(f"id is not the gateway's: {doc.get('id')!r:.80}")
    if doc.get("model") != public_id:
        read.problems.append(f"model is not the public id: {doc.get('model')!r:.80}")


# -- Anthropic Messages -------------------------------------------------------------------------


def _message(read: Read, doc: Any, public_id: str) -> None:
    _extra(read, "message", doc, MESSAGE_KEYS)
    if not isinstance(doc, dict):
        return
    _ids(read, doc, public_id)
    if doc.get("stop_reason") not in STOP_REASONS | {None}:
        read.problems.append(f"stop_reason {doc.get('stop_reason')!r:.80}")
    if doc.get("stop_sequence") is not None:
        read.problems.append(f"stop_sequence {doc.get('stop_sequence')!r:.80}")
    for block in doc.get("content") or []:
        kind = block.get("type") if isinstance(block, dict) else None
        _extra(read, f"{kind} block", block, BLOCK_KEYS.get(str(kind), set()))
        if kind == "text":
            read.text += block["text"]
        elif kind == "thinking":
            read.reasoning += block["thinking"]
            if block.get("signature"):
                read.problems.append("a thinking signature was relayed")
        elif kind == "tool_use":
            if not str(block.get("id")).startswith("call_"):
                read.problems.append(f"tool_use id not re-minted: {block.get('id')!r:.80}")
            read.calls.append((block.get("name"), block.get("input")))
    _usage(read, doc.get("usage"), ANTHROPIC_USAGE)


def _usage(read: Read, usage: Any, allowed: set[str]) -> None:
    if usage is None:
        return
    _extra(read, "usage", usage, allowed)
    for name, value in usage.items() if isinstance(usage, dict) else ():
        if isinstance(value, dict):
            _extra(read, f"usage.{name}", value, {"cached_tokens", "reasoning_tokens"})
        elif name != "cost" and not isinstance(value, int):
            read.problems.append(f"usage.{name} {value!r:.80}")
    if isinstance(usage, dict):
        fresh = usage.get("input_tokens", 0) + usage.get("cache_read_input_tokens", 0)
        read.input_tokens = fresh + usage.get("cache_creation_input_tokens", 0)
        read.output_tokens = usage.get("output_tokens")


def read_messages(cap: Capture, public_id: str, streamed: bool) -> Read:
    read = Read()
    if not streamed:
        _message(read, json.loads(cap.body), public_id)
        return read
    sse = parse_sse(cap.body)
    if sse.fields - {"event", "data"} or sse.comments:
        read.problems.append(f"SSE fields {sorted(sse.fields)}, {sse.comments} comments")
    names = [line[7:] for line in cap.body.decode().splitlines() if line.startswith("event: ")]
    if len(names) != len(sse.data) or set(names) - ANTHROPIC_EVENTS:
        read.problems.append(f"events {names[:20]}")
    arguments: dict[int, str] = {}
    tools: dict[int, str] = {}
    for name, data in zip(names, sse.data, strict=False):
        doc = json.loads(data)
        if doc.get("type") != name:
            read.problems.append(f"event {name} carries {doc.get('type')!r}")
        if name == "error":
            _extra(read, "error event", doc, ERROR_SHAPES["messages"])
            read.inband_error = True
        elif name == "message_start":
            _extra(read, name, doc, {"type", "message"})
            _message(read, doc["message"], public_id)
        elif name == "content_block_start":
            _extra(read, name, doc, {"type", "index", "content_block"})
            block = doc["content_block"]
            _extra(read, "block", block, BLOCK_KEYS.get(block.get("type"), set()))
            if block.get("type") == "tool_use":
                tools[doc["index"]] = block["name"]
                arguments[doc["index"]] = ""
        elif name == "content_block_delta":
            _extra(read, name, doc, {"type", "index", "delta"})
            delta = doc["delta"]
            _extra(read, "delta", delta, DELTA_KEYS.get(delta.get("type"), set()))
            read.text += delta.get("text", "")
            read.reasoning += delta.get("thinking", "")
            if delta.get("type") == "input_json_delta":
                arguments[doc["index"]] += delta["partial_json"]
        elif name == "message_delta":
            _extra(read, name, doc, {"type", "delta", "usage"})
            _extra(read, "message_delta.delta", doc["delta"], {"stop_reason", "stop_sequence"})
            _usage(read, doc["usage"], ANTHROPIC_USAGE)
        else:
            _extra(read, name, doc, {"type", "index"})
    read.calls = [(tools[i], json.loads(arguments[i])) for i in sorted(tools)]
    return read


# -- OpenAI Responses ---------------------------------------------------------------------------


def _response(read: Read, doc: Any, public_id: str, *, collect: bool = True) -> None:
    _extra(read, "response", doc, RESPONSE_KEYS)
    if not isinstance(doc, dict):
        return
    _ids(read, doc, public_id)
    for item in doc.get("output") or []:
        kind = item.get("type")
        _extra(read, f"{kind} item", item, ITEM_KEYS.get(str(kind), set()))
        if not str(item.get("id", "")).split("_", 1)[-1].startswith(doc["id"][4:]) and (
            kind != "function_call"
        ):
            read.problems.append(f"item id not derived from ours: {item.get('id')!r:.80}")
        if kind == "message":
            for part in item["content"]:
                _extra(read, "part", part, PART_KEYS.get(part.get("type"), set()))
                if collect:
                    read.text += part.get("text", "")
        elif kind == "reasoning" and collect:
            read.reasoning += "".join(s["text"] for s in item["summary"])
        elif kind == "function_call":
            if not str(item.get("call_id")).startswith("call_"):
                read.problems.append(f"call_id not re-minted: {item.get('call_id')!r:.80}")
            if collect:
                read.calls.append((item["name"], json.loads(item["arguments"])))
    _usage(read, doc.get("usage"), RESPONSES_USAGE)
    usage = doc.get("usage")
    if isinstance(usage, dict):
        read.input_tokens = usage.get("input_tokens")


def read_responses(cap: Capture, public_id: str, streamed: bool) -> Read:
    read = Read()
    if not streamed:
        _response(read, json.loads(cap.body), public_id)
        return read
    sse = parse_sse(cap.body)
    if sse.fields - {"event", "data"} or sse.comments:
        read.problems.append(f"SSE fields {sorted(sse.fields)}, {sse.comments} comments")
    names = [line[7:] for line in cap.body.decode().splitlines() if line.startswith("event: ")]
    streamed_text = ""
    for n, (name, data) in enumerate(zip(names, sse.data, strict=False)):
        doc = json.loads(data)
        if doc.get("type") != name or doc.get("sequence_number") != n:
            read.problems.append(f"event {name}: {doc.get('type')!r} #{doc.get('sequence_number')}")
        if name == "error":
            _extra(
                read, "error event", doc, {"type", "code", "message", "param", "sequence_number"}
            )
            read.inband_error = True
        elif "response" in doc:
            _response(read, doc["response"], public_id, collect=name == "response.completed")
        elif name == "response.output_text.delta":
            streamed_text += doc["delta"]
    if not read.inband_error and streamed_text != read.text:
        read.problems.append(f"deltas {streamed_text!r} != final text {read.text!r}")
    return read


def read_answer(client: str, cap: Capture, public_id: str, streamed: bool) -> Read:
    reader = read_messages if client == "messages" else read_responses
    try:
        return reader(cap, public_id, streamed)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return Read(
            problems=[f"unreadable answer ({type(exc).__name__}: {exc}): {cap.body[:300]!r}"]
        )


def error_problems(client: str, cap: Capture) -> list[str]:
    """A gateway-written error in the client's own shape."""
    try:
        doc = json.loads(cap.body)
    except ValueError:
        return [f"error body is not JSON: {cap.body[:200]!r}"]
    read = Read()
    _extra(read, "error response", doc, ERROR_SHAPES[client])
    error = doc.get("error") if isinstance(doc, dict) else None
    _extra(
        read,
        "error",
        error,
        {"type", "message", "code"}
        if client == "messages"
        else {"type", "message", "code", "param"},
    )
    return read.problems
