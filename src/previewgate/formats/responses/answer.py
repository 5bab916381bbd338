"""OpenAI Responses answers and usage, to and from the canonical shape."""

from __future__ import annotations

from typing import Any

from previewgate.formats.codec import ReplyContext
from previewgate.formats.common import (
    Doc,
    canonical_counts,
    count,
    dict_of,
    list_of,
    short_id,
    usage_doc,
)

INCOMPLETE_TO_FINISH = {"max_output_tokens": "length", "content_filter": "content_filter"}
FINISH_TO_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}
# What a response object says about its request, echoed from the client's own body.
_ECHOED: dict[str, Any] = {
    "instructions": None,
    "max_output_tokens": None,
    "metadata": {},
    "parallel_tool_calls": True,
    "temperature": None,
    "tool_choice": "auto",
    "tools": [],
    "top_p": None,
}


def usage_to_canonical(usage: Any) -> Doc | None:
    if not isinstance(usage, dict):
        return None
    cached = count(dict_of(usage.get("input_tokens_details")).get("cached_tokens"))
    reasoning = count(dict_of(usage.get("output_tokens_details")).get("reasoning_tokens"))
    prompt = count(usage.get("input_tokens")) or 0
    completion = count(usage.get("output_tokens")) or 0
    return usage_doc(prompt, completion, cached, reasoning=reasoning)


def usage_from_canonical(usage: Any) -> Doc | None:
    if not isinstance(usage, dict):
        return None
    prompt, completion, cached, _, reasoning = canonical_counts(usage)
    out: Doc = {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": cached},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": reasoning or 0},
        "total_tokens": prompt + completion,
    }
    cost = usage.get("cost")
    if isinstance(cost, float | int) and not isinstance(cost, bool):
        out["cost"] = cost
    return out


def finish_of(response: Doc, has_calls: bool) -> str:
    if response.get("status") == "incomplete":
        reason = dict_of(response.get("incomplete_details")).get("reason")
        return INCOMPLETE_TO_FINISH.get(str(reason), "length")
    return "tool_calls" if has_calls else "stop"


def answer_to_canonical(doc: Doc) -> Doc:
    """A response object (or error) as a canonical chat.completion (or error)."""
    if doc.get("error") is not None or doc.get("status") == "failed":
        return {"error": doc.get("error") or {"type": "server_error"}}
    texts: list[str] = []
    refusals: list[str] = []
    reasoning: list[str] = []
    calls: list[Doc] = []
    for item in list_of(doc.get("output")):
        item = dict_of(item)
        kind = item.get("type")
        if kind == "message":
            for part in list_of(item.get("content")):
                part = dict_of(part)
                if part.get("type") == "output_text" and isinstance(part.get("text"), str):
                    texts.append(part["text"])
                elif part.get("type") == "refusal" and isinstance(part.get("refusal"), str):
                    refusals.append(part["refusal"])
        elif kind == "function_call":
            function = {"name": item.get("name"), "arguments": item.get("arguments")}
            calls.append({"id": item.get("call_id"), "type": "function", "function": function})
        elif kind == "reasoning":
            for part in [*list_of(item.get("summary")), *list_of(item.get("content"))]:
                if isinstance(dict_of(part).get("text"), str):
                    reasoning.append(part["text"])
    message: Doc = {"role": "assistant", "content": "".join(texts) if texts else None}
    if refusals:
        message["refusal"] = "".join(refusals)
    if reasoning:
        message["reasoning"] = "".join(reasoning)
    if calls:
        message["tool_calls"] = calls
    out: Doc = {
        "id": doc.get("id"),
        "object": "chat.completion",
        "model": doc.get("model"),
        "choices": [{"index": 0, "message": message, "finish_reason": finish_of(doc, bool(calls))}],
    }
    usage = usage_to_canonical(doc.get("usage"))
    if usage is not None:
        out["usage"] = usage
    return out


def message_item(item_id: str, parts: list[Doc], status: str = "completed") -> Doc:
    return {
        "type": "message",
        "id": item_id,
        "status": status,
        "role": "assistant",
        "content": parts,
    }


def text_part(text: str) -> Doc:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def reasoning_item(item_id: str, text: str) -> Doc:
    return {"type": "reasoning", "id": item_id, "summary": [{"type": "summary_text", "text": text}]}


def call_item(call_id: str, name: str, arguments: str, status: str = "completed") -> Doc:
    return {
        "type": "function_call",
        "id": "fc_" + call_id.removeprefix("call_"),
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": status,
    }


def envelope(ctx: ReplyContext, status: str, output: list[Doc], usage: Doc | None) -> Doc:
    """A response object: ours (id, model, status, output, usage) and the client's echo."""
    request = ctx.request
    out: Doc = {
        "id": ctx.response_id,
        "object": "response",
        "created_at": ctx.created,
        "status": status,
        "error": None,
        "incomplete_details": None,
        "model": ctx.public_id,
        "output": output,
        "usage": usage,
        "store": False,
        "truncation": "disabled",
        "text": request.get("text")
        if isinstance(request.get("text"), dict)
        else {"format": {"type": "text"}},
        "reasoning": request.get("reasoning")
        if isinstance(request.get("reasoning"), dict)
        else {"effort": None, "summary": None},
    }
    for name, default in _ECHOED.items():
        value = request.get(name)
        out[name] = value if value is not None else default
    return out


def answer_from_canonical(completion: Doc, ctx: ReplyContext) -> Doc:
    """A rebuilt canonical chat.completion as a response object."""
    choices = list_of(completion.get("choices"))
    choice = dict_of(choices[0]) if choices else {}
    message = dict_of(choice.get("message"))
    hex_id = short_id(ctx.response_id)
    output: list[Doc] = []
    if isinstance(message.get("reasoning"), str):
        output.append(reasoning_item(f"rs_{hex_id}", message["reasoning"]))
    parts = [text_part(message["content"])] if isinstance(message.get("content"), str) else []
    if isinstance(message.get("refusal"), str):
        parts.append({"type": "refusal", "refusal": message["refusal"]})
    if parts:
        output.append(message_item(f"msg_{hex_id}", parts))
    for call in list_of(message.get("tool_calls")):
        function = dict_of(dict_of(call).get("function"))
        output.append(
            call_item(
                str(call.get("id")), str(function.get("name")), str(function.get("arguments"))
            )
        )
    reason = FINISH_TO_INCOMPLETE.get(str(choice.get("finish_reason")))
    out = envelope(
        ctx,
        "incomplete" if reason else "completed",
        output,
        usage_from_canonical(completion.get("usage")),
    )
    if reason:
        out["incomplete_details"] = {"reason": reason}
    return out
