"""Adversarial Anthropic Messages and OpenAI Responses checkpoints (leaky_answers' scenarios
for the other upstream formats): every member that is not model output carries the slot's
secrets, in unknown fields, ids, model, event names, comments, signatures and citations."""

from __future__ import annotations

import json
from typing import Any

from tests.support import leaky_answers as la
from tests.support.leaky_answers import Builder, Reply, Secrets, leak_headers

ARGS = json.loads(la.TOOL_ARGS)


def _event(name: str, doc: dict[str, Any], s: Secrets, eol: str) -> str:
    lines = [f": {s.text()}", f"id: {s.api_key}", f"event: {name}", f"data: {json.dumps(doc)}"]
    return eol.join(lines) + eol + eol


def _stream(s: Secrets, events: list[tuple[str, dict[str, Any]]], eol: str) -> Reply:
    body = "".join(_event(name, doc, s, eol) for name, doc in events).encode()
    return Reply(b"HTTP/1.1 200 OK", leak_headers(s, "text/event-stream"), [body], "chunked")


def _json(s: Secrets, doc: dict[str, Any], status: str = "200 OK") -> Reply:
    body = json.dumps(doc).encode()
    return Reply(f"HTTP/1.1 {status}".encode(), leak_headers(s, "application/json"), [body])


def _plain(s: Secrets) -> dict[str, Any]:
    """leaks() as plain JSON values (the Raw escapes are the chat scenarios' business)."""
    text = s.text()
    return {"x_leak": text, "x_leak_escaped": la.escape_u(text)}


# -- Anthropic Messages -------------------------------------------------------------------------


def _anthropic_usage(s: Secrets) -> dict[str, Any]:
    fresh = la.USAGE["prompt_tokens"] - la.CACHED
    return {
        "input_tokens": fresh,
        "output_tokens": la.USAGE["completion_tokens"],
        "cache_read_input_tokens": la.CACHED,
        "cache_creation_input_tokens": 0,
        "service_tier": s.text(),
        **_plain(s),
    }


def anthropic_message(s: Secrets) -> dict[str, Any]:
    return {
        "id": f"msg_{s.internal_id}_{s.api_key}",
        "type": "message",
        "role": "assistant",
        "model": s.internal_id,
        "content": [
            {"type": "thinking", "thinking": la.REASONING, "signature": s.text()},
            {"type": "text", "text": la.CONTENT, "citations": [{"url": s.base_url}], **_plain(s)},
            {
                "type": "tool_use",
                "id": f"toolu_{s.internal_id}",
                "name": la.TOOL_NAME,
                "input": ARGS,
                **_plain(s),
            },
        ],
        "stop_reason": "tool_use",
        "stop_sequence": s.text(),
        "usage": _anthropic_usage(s),
        "container": {"id": s.host_port},
        **_plain(s),
    }


def _anthropic_stream(s: Secrets, eol: str, _: dict[str, str]) -> Reply:
    start = {**anthropic_message(s), "content": [], "stop_reason": None}
    x = _plain(s)
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": start, **x}),
        ("ping", {"type": "ping", **x}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "thinking", "thinking": "", "signature": s.text()},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "thinking_delta", "thinking": la.REASONING, **x},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "signature_delta", "signature": s.text()},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0, **x}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 1,
                "content_block": {"type": "text", "text": "", "citations": [s.base_url]},
            },
        ),
    ]
    for piece in la.CONTENT_PIECES:
        delta = {"type": "text_delta", "text": piece, **x}
        events.append(
            ("content_block_delta", {"type": "content_block_delta", "index": 1, "delta": delta})
        )
    events.append(("content_block_stop", {"type": "content_block_stop", "index": 1}))
    tool = {"type": "tool_use", "id": f"toolu_{s.internal_id}", "name": la.TOOL_NAME, "input": {}}
    events.append(
        (
            "content_block_start",
            {"type": "content_block_start", "index": 2, "content_block": {**tool, **x}},
        )
    )
    for piece in la.TOOL_ARGS_PIECES:
        delta = {"type": "input_json_delta", "partial_json": piece}
        events.append(
            ("content_block_delta", {"type": "content_block_delta", "index": 2, "delta": delta})
        )
    events += [
        ("content_block_stop", {"type": "content_block_stop", "index": 2}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "usage": _anthropic_usage(s),
                "delta": {"stop_reason": "tool_use", "stop_sequence": s.text(), **x},
            },
        ),
        ("message_stop", {"type": "message_stop", **x}),
    ]
    return _stream(s, events, eol)


def _anthropic_error(s: Secrets, eol: str, _: dict[str, str]) -> Reply:
    error = {"type": "overloaded_error", "message": s.text(), **_plain(s)}
    return _json(s, {"type": "error", "error": error, "request_id": s.api_key}, "529 Overloaded")


def _anthropic_stream_error(s: Secrets, eol: str, o: dict[str, str]) -> Reply:
    reply = _anthropic_stream(s, eol, o)
    error = {"type": "error", "error": {"type": "api_error", "message": s.text()}}
    cut = reply.pieces[0].split(b"event: content_block_stop")[0]
    reply.pieces = [cut + _event("error", error, s, eol).encode()]
    return reply


# -- OpenAI Responses ---------------------------------------------------------------------------


def _responses_usage(s: Secrets) -> dict[str, Any]:
    return {
        "input_tokens": la.USAGE["prompt_tokens"],
        "output_tokens": la.USAGE["completion_tokens"],
        "total_tokens": la.USAGE["total_tokens"],
        "input_tokens_details": {"cached_tokens": la.CACHED, **_plain(s)},
        "output_tokens_details": {"reasoning_tokens": la.REASONING_TOKENS},
        **_plain(s),
    }


def response(s: Secrets, status: str = "completed") -> dict[str, Any]:
    x = _plain(s)
    return {
        "id": f"resp_{s.internal_id}_{s.api_key}",
        "object": "response",
        "created_at": 1718000000,
        "status": status,
        "model": s.internal_id,
        "instructions": s.text(),
        "metadata": {"upstream": s.base_url},
        "output": [
            {
                "type": "reasoning",
                "id": f"rs_{s.internal_id}",
                "encrypted_content": s.text(),
                "summary": [{"type": "summary_text", "text": la.REASONING}],
            },
            {
                "type": "message",
                "id": f"msg_{s.internal_id}",
                "role": "assistant",
                **x,
                "content": [
                    {
                        "type": "output_text",
                        "text": la.CONTENT,
                        "annotations": [{"url": s.base_url}],
                        **x,
                    }
                ],
            },
            {
                "type": "function_call",
                "id": f"fc_{s.internal_id}",
                "call_id": f"call_{s.api_key}",
                "name": la.TOOL_NAME,
                "arguments": la.TOOL_ARGS,
                **x,
            },
        ],
        "usage": _responses_usage(s),
        "error": None,
        **x,
    }


def _responses_stream(s: Secrets, eol: str, _: dict[str, str]) -> Reply:
    x = _plain(s)
    final = response(s)
    pending = {**final, "status": "in_progress", "output": [], "usage": None}
    rs, msg, fc = final["output"]
    events: list[tuple[str, dict[str, Any]]] = [
        ("response.created", {"type": "response.created", "response": pending, **x}),
        (
            "response.output_item.added",
            {
                "type": "response.output_item.added",
                "output_index": 0,
                "item": {**rs, "summary": []},
            },
        ),
        (
            "response.reasoning_summary_text.delta",
            {
                "type": "response.reasoning_summary_text.delta",
                "item_id": rs["id"],
                "output_index": 0,
                "delta": la.REASONING,
                **x,
            },
        ),
        (
            "response.output_item.added",
            {
                "type": "response.output_item.added",
                "output_index": 1,
                "item": {**msg, "content": []},
            },
        ),
    ]
    for piece in la.CONTENT_PIECES:
        events.append(
            (
                "response.output_text.delta",
                {
                    "type": "response.output_text.delta",
                    "item_id": msg["id"],
                    "output_index": 1,
                    "content_index": 0,
                    "delta": piece,
                    "logprobs": [s.text()],
                    **x,
                },
            )
        )
    events.append(
        (
            "response.output_item.added",
            {
                "type": "response.output_item.added",
                "output_index": 2,
                "item": {**fc, "arguments": ""},
            },
        )
    )
    for piece in la.TOOL_ARGS_PIECES:
        events.append(
            (
                "response.function_call_arguments.delta",
                {
                    "type": "response.function_call_arguments.delta",
                    "item_id": fc["id"],
                    "output_index": 2,
                    "delta": piece,
                    **x,
                },
            )
        )
    events.append(("response.completed", {"type": "response.completed", "response": final, **x}))
    return _stream(s, events, eol)


def _responses_stream_error(s: Secrets, eol: str, o: dict[str, str]) -> Reply:
    failed = {**response(s, "failed"), "error": {"code": "server_error", "message": s.text()}}
    events = [
        ("response.created", {"type": "response.created", "response": response(s)}),
        ("response.failed", {"type": "response.failed", "response": failed}),
    ]
    return _stream(s, events, eol)


FORMAT_BUILDERS: dict[str, Builder] = {
    "anthropic_ok": lambda s, eol, o: _json(s, anthropic_message(s)),
    "anthropic_stream": _anthropic_stream,
    "anthropic_error": _anthropic_error,
    "anthropic_stream_error": _anthropic_stream_error,
    "responses_ok": lambda s, eol, o: _json(s, response(s)),
    "responses_stream": _responses_stream,
    "responses_error": lambda s, eol, o: _json(
        s, {"error": {"message": s.text(), "type": s.internal_id, "code": s.api_key}}, "500 Oops"
    ),
    "responses_stream_error": _responses_stream_error,
}
