"""The demo upstream's Anthropic Messages and OpenAI Responses endpoints, written by hand.

Each answers in its own format only (no translation code of the gateway's is used here, so
a test through the gateway compares two independent readings of each format): text, or a
call of the offered tool when the last turn is not a tool result, JSON or streamed, and the
``#mock:`` failures of the chat endpoint with each format's own error shape.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

Event = Callable[[str, dict[str, Any]], Awaitable[None]]


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts = content if isinstance(content, list) else []
    return " ".join(str(p.get("text", "")) for p in parts if isinstance(p, dict))


def _placeholders(schema: Any) -> dict[str, Any]:
    schema = schema if isinstance(schema, dict) else {}
    props: dict[str, Any] = schema.get("properties") or {}
    kinds: dict[Any, Any] = {"integer": 1, "number": 1, "boolean": True, "array": [], "object": {}}
    out: dict[str, Any] = {}
    for name in schema.get("required") or []:
        spec = props.get(name)
        out[name] = kinds.get(spec.get("type"), "demo") if isinstance(spec, dict) else "demo"
    return out


async def _sse(request: web.Request) -> tuple[web.StreamResponse, Event]:
    resp = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await resp.prepare(request)

    async def event(name: str, doc: dict[str, Any]) -> None:
        await resp.write(b"event: " + name.encode() + b"\ndata: " + orjson.dumps(doc) + b"\n\n")

    return resp, event


def _failure(behaviour: str, shape: str, model: str) -> web.Response | None:
    if behaviour not in ("500", "429", "400"):
        return None
    message = f"model {model} failed"
    if shape == "anthropic":
        kinds = {"500": "api_error", "429": "rate_limit_error", "400": "invalid_request_error"}
        doc: dict[str, Any] = {
            "type": "error",
            "error": {"type": kinds[behaviour], "message": message},
        }
    else:
        doc = {"error": {"message": message, "type": "server_error", "code": behaviour}}
    headers = {"retry-after": "1"} if behaviour == "429" else {}
    return web.json_response(doc, status=int(behaviour), headers=headers)


# -- Anthropic Messages -----------------------------------------------------------------------


def _anthropic_call(body: dict[str, Any], serial: int) -> dict[str, Any] | None:
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict) and t.get("name")]
    choice: dict[str, Any] = body.get("tool_choice") or {}
    last = (body.get("messages") or [{}])[-1]
    content = last.get("content") if isinstance(last, dict) else None
    answered = isinstance(content, list) and any(
        isinstance(b, dict) and b.get("type") == "tool_result" for b in content
    )
    if not tools or choice.get("type") == "none" or answered:
        return None
    tool = next((t for t in tools if t["name"] == choice.get("name")), tools[0])
    return {
        "type": "tool_use",
        "id": f"toolu_mock_{serial}",
        "name": tool["name"],
        "input": _placeholders(tool.get("input_schema")),
    }


def _anthropic_usage(body: dict[str, Any], output: int) -> dict[str, Any]:
    words = len(_text(body.get("system") or "").split())
    for message in body.get("messages") or []:
        words += len(_text(message.get("content")).split()) if isinstance(message, dict) else 0
    return {
        "input_tokens": words + 3,
        "output_tokens": output,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 2,
    }


async def messages(
    request: web.Request, body: dict[str, Any], reply: str, behaviour: str, serial: int
) -> web.StreamResponse:
    model = str(body.get("model", ""))
    failure = _failure(behaviour, "anthropic", model)
    if failure is not None:
        return failure
    call = _anthropic_call(body, serial)
    block: dict[str, Any] = call or {"type": "text", "text": reply}
    stop = "tool_use" if call else "end_turn"
    usage = _anthropic_usage(body, max(1, len(reply.split())))
    if not body.get("stream"):
        return web.json_response(
            {
                "id": "msg_mock",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [block],
                "stop_reason": stop,
                "stop_sequence": None,
                "usage": usage,
            }
        )
    resp, event = await _sse(request)
    start: dict[str, Any] = {
        "id": "msg_mock",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {**usage, "output_tokens": 1},
    }
    await event("message_start", {"type": "message_start", "message": start})
    first = {**block, "input": {}} if call else {"type": "text", "text": ""}
    await event(
        "content_block_start", {"type": "content_block_start", "index": 0, "content_block": first}
    )
    await event("ping", {"type": "ping"})
    if call:
        arguments = orjson.dumps(call["input"]).decode()
        pieces = [
            {"type": "input_json_delta", "partial_json": arguments[i : i + 8]}
            for i in range(0, len(arguments), 8)
        ]
    else:
        words = reply.split(" ")
        pieces = [
            {"type": "text_delta", "text": w + (" " if n < len(words) - 1 else "")}
            for n, w in enumerate(words)
        ]
    for piece in pieces:
        await event(
            "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": piece}
        )
    await event("content_block_stop", {"type": "content_block_stop", "index": 0})
    await event(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop, "stop_sequence": None},
            "usage": {"output_tokens": usage["output_tokens"]},
        },
    )
    await event("message_stop", {"type": "message_stop"})
    await resp.write_eof()
    return resp


# -- OpenAI Responses -------------------------------------------------------------------------


def _responses_call(body: dict[str, Any], serial: int) -> dict[str, Any] | None:
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict) and t.get("name")]
    items = body.get("input")
    last = items[-1] if isinstance(items, list) and items else {}
    choice = body.get("tool_choice")
    if not tools or choice == "none" or last.get("type") == "function_call_output":
        return None
    wanted = choice.get("name") if isinstance(choice, dict) else None
    tool = next((t for t in tools if t["name"] == wanted), tools[0])
    return {
        "type": "function_call",
        "id": f"fc_mock_{serial}",
        "call_id": f"call_mock_{serial}",
        "name": tool["name"],
        "arguments": orjson.dumps(_placeholders(tool.get("parameters"))).decode(),
        "status": "completed",
    }


def _responses_usage(body: dict[str, Any], output: int) -> dict[str, Any]:
    items = body.get("input")
    words = len(_text(body.get("instructions") or "").split())
    if isinstance(items, str):
        words += len(items.split())
    for item in items if isinstance(items, list) else []:
        words += len(_text(item.get("content")).split()) if isinstance(item, dict) else 0
    return {
        "input_tokens": words + 3,
        "input_tokens_details": {"cached_tokens": 2},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": words + 3 + output,
    }


async def responses(
    request: web.Request, body: dict[str, Any], reply: str, behaviour: str, serial: int
) -> web.StreamResponse:
    model = str(body.get("model", ""))
    failure = _failure(behaviour, "openai", model)
    if failure is not None:
        return failure
    call = _responses_call(body, serial)
    text_part = {"type": "output_text", "text": reply, "annotations": []}
    message = {
        "type": "message",
        "id": "msg_mock",
        "status": "completed",
        "role": "assistant",
        "content": [text_part],
    }
    item = call or message
    usage = _responses_usage(body, max(1, len(reply.split())))
    response: dict[str, Any] = {
        "id": "resp_mock",
        "object": "response",
        "created_at": int(time.time()),
        "status": "completed",
        "model": model,
        "output": [item],
        "usage": usage,
        "error": None,
    }
    if not body.get("stream"):
        return web.json_response(response)
    resp, event = await _sse(request)
    seq = iter(range(1_000_000))

    async def send(kind: str, doc: dict[str, Any]) -> None:
        await event(kind, {"type": kind, **doc, "sequence_number": next(seq)})

    pending = {**response, "status": "in_progress", "output": [], "usage": None}
    await send("response.created", {"response": pending})
    await send("response.in_progress", {"response": pending})
    if call:
        await send(
            "response.output_item.added",
            {"output_index": 0, "item": {**call, "arguments": "", "status": "in_progress"}},
        )
        arguments = call["arguments"]
        for i in range(0, len(arguments), 8):
            await send(
                "response.function_call_arguments.delta",
                {"item_id": call["id"], "output_index": 0, "delta": arguments[i : i + 8]},
            )
        await send(
            "response.function_call_arguments.done",
            {"item_id": call["id"], "output_index": 0, "arguments": arguments},
        )
    else:
        await send(
            "response.output_item.added",
            {"output_index": 0, "item": {**message, "status": "in_progress", "content": []}},
        )
        where = {"item_id": "msg_mock", "output_index": 0, "content_index": 0}
        await send("response.content_part.added", {**where, "part": {**text_part, "text": ""}})
        words = reply.split(" ")
        for n, word in enumerate(words):
            delta = word + (" " if n < len(words) - 1 else "")
            await send("response.output_text.delta", {**where, "delta": delta})
        await send("response.output_text.done", {**where, "text": reply})
        await send("response.content_part.done", {**where, "part": text_part})
    await send("response.output_item.done", {"output_index": 0, "item": item})
    await send("response.completed", {"response": response})
    await resp.write_eof()
    return resp
