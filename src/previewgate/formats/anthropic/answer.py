"""Anthropic Messages answers, usage, stop reasons and errors, to and from the canonical shape."""

from __future__ import annotations

import json
from typing import Any

from previewgate.errors import PreviewGateError
from previewgate.formats.codec import ReplyContext
from previewgate.formats.common import (
    Doc,
    arguments_text,
    canonical_counts,
    count,
    dict_of,
    list_of,
    usage_doc,
)

STOP_TO_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
FINISH_TO_STOP = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def usage_to_canonical(usage: Any) -> Doc | None:
    """Anthropic counts input without the cached part; canonical prompt tokens include it."""
    if not isinstance(usage, dict):
        return None
    fresh = count(usage.get("input_tokens")) or 0
    read = count(usage.get("cache_read_input_tokens"))
    write = count(usage.get("cache_creation_input_tokens"))
    prompt = fresh + (read or 0) + (write or 0)
    return usage_doc(prompt, count(usage.get("output_tokens")) or 0, read, write=write)


def usage_from_canonical(usage: Any) -> Doc:
    prompt, completion, cached, written, _ = canonical_counts(usage)
    out: Doc = {
        "input_tokens": max(prompt - cached - written, 0),
        "output_tokens": completion,
        "cache_creation_input_tokens": written,
        "cache_read_input_tokens": cached,
    }
    cost = dict_of(usage).get("cost")
    if isinstance(cost, float | int) and not isinstance(cost, bool):
        out["cost"] = cost
    return out


def answer_to_canonical(doc: Doc) -> Doc:
    """An Anthropic message (or error) as a canonical chat.completion (or error)."""
    if doc.get("type") == "error" or doc.get("error") is not None:
        return {"error": doc.get("error") or {"type": "api_error"}}
    texts: list[str] = []
    thinking: list[str] = []
    calls: list[Doc] = []
    for block in list_of(doc.get("content")):
        block = dict_of(block)
        kind = block.get("type")
        if kind == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif kind == "thinking" and isinstance(block.get("thinking"), str):
            thinking.append(block["thinking"])
        elif kind == "tool_use":
            function = {"name": block.get("name"), "arguments": arguments_text(block.get("input"))}
            calls.append({"id": block.get("id"), "type": "function", "function": function})
    message: Doc = {"role": "assistant", "content": "".join(texts) if texts else None}
    if thinking:
        message["reasoning"] = "".join(thinking)
    if calls:
        message["tool_calls"] = calls
    stop = doc.get("stop_reason")
    out: Doc = {
        "id": doc.get("id"),
        "object": "chat.completion",
        "model": doc.get("model"),
        "choices": [
            {"index": 0, "message": message, "finish_reason": STOP_TO_FINISH.get(str(stop), "stop")}
        ],
    }
    usage = usage_to_canonical(doc.get("usage"))
    if usage is not None:
        out["usage"] = usage
    return out


def tool_input(arguments: Any) -> Doc:
    """Tool-call arguments for a client that wants an object; text that is not one is kept
    under ``_raw`` rather than lost (a model may write broken JSON)."""
    if not isinstance(arguments, str) or not arguments.strip():
        return {}
    try:
        value = json.loads(arguments)
    except ValueError:
        return {"_raw": arguments}
    return value if isinstance(value, dict) else {"_raw": arguments}


def answer_from_canonical(completion: Doc, ctx: ReplyContext) -> Doc:
    """A rebuilt canonical chat.completion as an Anthropic message."""
    choices = list_of(completion.get("choices"))
    choice = dict_of(choices[0]) if choices else {}
    message = dict_of(choice.get("message"))
    content: list[Doc] = []
    if isinstance(message.get("reasoning"), str):
        content.append({"type": "thinking", "thinking": message["reasoning"], "signature": ""})
    for field in ("content", "refusal"):
        if isinstance(message.get(field), str) and message[field]:
            content.append({"type": "text", "text": message[field]})
    for call in list_of(message.get("tool_calls")):
        call = dict_of(call)
        function = dict_of(call.get("function"))
        content.append(
            {
                "type": "tool_use",
                "id": call.get("id"),
                "name": function.get("name"),
                "input": tool_input(function.get("arguments")),
            }
        )
    return {
        "id": ctx.response_id,
        "type": "message",
        "role": "assistant",
        "model": ctx.public_id,
        "content": content,
        "stop_reason": FINISH_TO_STOP.get(str(choice.get("finish_reason")), "end_turn"),
        "stop_sequence": None,
        "usage": usage_from_canonical(completion.get("usage")),
    }


def error_type(status: int) -> str:
    return ERROR_TYPES.get(status, "invalid_request_error" if status < 500 else "api_error")


def error_doc(error: PreviewGateError) -> Doc:
    """Our error in Anthropic's shape (``code`` is ours, for clients that want the reason)."""
    return {
        "type": "error",
        "error": {"type": error_type(error.status), "message": error.message, "code": error.code},
    }
