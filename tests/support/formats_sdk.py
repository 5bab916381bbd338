"""One conversation per client API, driven by its official SDK: text and a tool round trip,
streamed or not. Each returns what the client saw, read through the SDK's own types."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import anthropic
import openai

from tests.support.servers import GatewayServer

REPLY = "Hello! This is a reply from the demo upstream."
CITY_TOOL = {
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
CLIENTS = ("chat", "responses", "messages")


@dataclass
class Seen:
    """What one SDK call gave back, in the same terms for every API."""

    id: str
    model: str
    text: str = ""
    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # id, name, args
    stop: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float | None = None


def openai_sdk(gateway: GatewayServer, key: str, prefix: str = "/v1", **headers: str) -> Any:
    return openai.OpenAI(
        base_url=f"{gateway.base_url}{prefix}",
        api_key=key,
        default_headers=headers,
        max_retries=0,
        timeout=30,
    )


def anthropic_sdk(gateway: GatewayServer, key: str, prefix: str = "", **headers: str) -> Any:
    return anthropic.Anthropic(
        base_url=f"{gateway.base_url}{prefix}",
        api_key=key,
        default_headers=headers,
        max_retries=0,
        timeout=30,
    )


def _extra_cost(usage: Any) -> float | None:
    extra = getattr(usage, "model_extra", None) or {}
    cost = extra.get("cost")
    return float(cost) if cost is not None else None


# -- chat ---------------------------------------------------------------------------------------


def _chat(sdk: Any, model: str, messages: list[Any], stream: bool, tools: bool) -> Seen:
    kwargs: dict[str, Any] = {"model": model, "messages": messages}
    if tools:
        kwargs["tools"] = [{"type": "function", "function": CITY_TOOL}]
    if not stream:
        answer = sdk.chat.completions.create(**kwargs)
        message = answer.choices[0].message
        seen = Seen(answer.id, answer.model, message.content or "")
        for call in message.tool_calls or []:
            arguments = json.loads(call.function.arguments)
            seen.calls.append((call.id, call.function.name, arguments))
        seen.stop = answer.choices[0].finish_reason
        usage = answer.usage
    else:
        chunks = list(
            sdk.chat.completions.create(
                **kwargs, stream=True, stream_options={"include_usage": True}
            )
        )
        seen = Seen(chunks[0].id, chunks[0].model)
        pieces: dict[int, dict[str, str]] = {}
        usage = None
        for chunk in chunks:
            usage = chunk.usage or usage
            for choice in chunk.choices:
                seen.text += choice.delta.content or ""
                seen.stop = choice.finish_reason or seen.stop
                for call in choice.delta.tool_calls or []:
                    slot = pieces.setdefault(call.index, {"id": "", "name": "", "args": ""})
                    slot["id"] = call.id or slot["id"]
                    if call.function:
                        slot["name"] = call.function.name or slot["name"]
                        slot["args"] += call.function.arguments or ""
        seen.calls = [(p["id"], p["name"], json.loads(p["args"])) for p in pieces.values()]
    if usage is not None:
        seen.input_tokens, seen.output_tokens = usage.prompt_tokens, usage.completion_tokens
        seen.cost = _extra_cost(usage)
    return seen


def chat_turns(sdk: Any, model: str, stream: bool) -> tuple[Seen, Seen, Seen]:
    user = {"role": "user", "content": "What is the weather in Paris?"}
    text = _chat(sdk, model, [{"role": "user", "content": "Hi"}], stream, tools=False)
    call = _chat(sdk, model, [user], stream, tools=True)
    call_id, name, arguments = call.calls[0]
    history = [
        user,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": name, "arguments": json.dumps(arguments)},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call_id, "content": "18 degrees and sunny"},
    ]
    return text, call, _chat(sdk, model, history, stream, tools=True)


# -- responses ----------------------------------------------------------------------------------


def _from_response(response: Any) -> Seen:
    seen = Seen(response.id, response.model, response.output_text)
    for item in response.output:
        if item.type == "function_call":
            seen.calls.append((item.call_id, item.name, json.loads(item.arguments)))
    seen.stop = "tool_calls" if seen.calls else response.status
    if response.usage is not None:
        seen.input_tokens = response.usage.input_tokens
        seen.output_tokens = response.usage.output_tokens
        seen.cost = _extra_cost(response.usage)
    return seen


def _responses(sdk: Any, model: str, items: Any, stream: bool, tools: bool) -> Seen:
    kwargs: dict[str, Any] = {"model": model, "input": items, "instructions": "Be brief."}
    if tools:
        kwargs["tools"] = [{"type": "function", **CITY_TOOL}]
    if not stream:
        return _from_response(sdk.responses.create(**kwargs))
    with sdk.responses.stream(**kwargs) as events:
        deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
        final = events.get_final_response()
    seen = _from_response(final)
    assert deltas == seen.text, (deltas, seen.text)
    return seen


def responses_turns(sdk: Any, model: str, stream: bool) -> tuple[Seen, Seen, Seen]:
    user = {"role": "user", "content": "What is the weather in Paris?"}
    text = _responses(sdk, model, "Hi", stream, tools=False)
    call = _responses(sdk, model, [user], stream, tools=True)
    call_id, name, arguments = call.calls[0]
    history = [
        user,
        {
            "type": "function_call",
            "call_id": call_id,
            "name": name,
            "arguments": json.dumps(arguments),
        },
        {"type": "function_call_output", "call_id": call_id, "output": "18 degrees and sunny"},
    ]
    return text, call, _responses(sdk, model, history, stream, tools=True)


# -- messages -----------------------------------------------------------------------------------


def _from_message(message: Any) -> Seen:
    seen = Seen(message.id, message.model)
    for block in message.content:
        if block.type == "text":
            seen.text += block.text
        elif block.type == "tool_use":
            seen.calls.append((block.id, block.name, dict(block.input)))
    seen.stop = message.stop_reason or ""
    seen.input_tokens = message.usage.input_tokens + (message.usage.cache_read_input_tokens or 0)
    seen.output_tokens = message.usage.output_tokens
    seen.cost = _extra_cost(message.usage)
    return seen


def _messages(sdk: Any, model: str, messages: list[Any], stream: bool, tools: bool) -> Seen:
    kwargs: dict[str, Any] = {
        "model": model,
        "max_tokens": 256,
        "system": "Be brief.",
        "messages": messages,
    }
    if tools:
        kwargs["tools"] = [
            {
                "name": CITY_TOOL["name"],
                "description": CITY_TOOL["description"],
                "input_schema": CITY_TOOL["parameters"],
            }
        ]
    if not stream:
        return _from_message(sdk.messages.create(**kwargs))
    text, cost = "", None
    with sdk.messages.stream(**kwargs) as events:
        for event in events:
            if event.type == "text":
                text += event.text
            elif event.type == "message_delta":  # the SDK's snapshot keeps only known counts
                cost = _extra_cost(event.usage)
        final = events.get_final_message()
    seen = _from_message(final)
    seen.cost = cost
    assert text == seen.text, (text, seen.text)
    return seen


def messages_turns(sdk: Any, model: str, stream: bool) -> tuple[Seen, Seen, Seen]:
    user = {"role": "user", "content": "What is the weather in Paris?"}
    text = _messages(sdk, model, [{"role": "user", "content": "Hi"}], stream, tools=False)
    call = _messages(sdk, model, [user], stream, tools=True)
    call_id, name, arguments = call.calls[0]
    history = [
        user,
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": call_id, "name": name, "input": arguments}],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": call_id, "content": "18 degrees and sunny"}
            ],
        },
    ]
    return text, call, _messages(sdk, model, history, stream, tools=True)


def conversation(
    gateway: GatewayServer, client: str, key: str, model: str, stream: bool, **headers: str
) -> tuple[Seen, Seen, Seen]:
    """A text turn, a turn answered by a tool call, and the turn after its result."""
    if client == "chat":
        return chat_turns(openai_sdk(gateway, key, **headers), model, stream)
    if client == "responses":
        return responses_turns(openai_sdk(gateway, key, **headers), model, stream)
    return messages_turns(anthropic_sdk(gateway, key, **headers), model, stream)


STOPS = {  # a text answer's and a tool call's stop, as each API says them
    "chat": ("stop", "tool_calls"),
    "responses": ("completed", "tool_calls"),
    "messages": ("end_turn", "tool_use"),
}


def turn_problems(client: str, model: str, turns: tuple[Seen, Seen, Seen]) -> list[str]:
    text, call, after = turns
    problems = []
    for n, seen in enumerate(turns):
        if not seen.id.startswith("gen-"):
            problems.append(f"turn {n}: id {seen.id!r}")
        if seen.model != model:
            problems.append(f"turn {n}: model {seen.model!r}")
        if seen.input_tokens <= 0 or seen.output_tokens <= 0:
            problems.append(f"turn {n}: usage {seen.input_tokens}/{seen.output_tokens}")
        if seen.cost is None:
            problems.append(f"turn {n}: no usage.cost")
    if text.text != REPLY or text.calls or text.stop != STOPS[client][0]:
        problems.append(f"text turn: {text.text!r} {text.calls} {text.stop!r}")
    if [(name, args) for _, name, args in call.calls] != [("get_weather", {"city": "demo"})]:
        problems.append(f"tool turn calls: {call.calls}")
    if call.stop != STOPS[client][1] or not call.calls or not call.calls[0][0]:
        problems.append(f"tool turn stop {call.stop!r} / ids {call.calls}")
    if after.text != REPLY or after.calls:
        problems.append(f"after the tool result: {after.text!r} {after.calls}")
    return problems
