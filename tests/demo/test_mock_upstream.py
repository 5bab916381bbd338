"""The demo's mock upstream answers tool calls in the OpenAI shape, JSON and streamed."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.support.servers import MockServer

FUNCTIONS = [
    {
        "name": "search",
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string"}, "limit": {"type": "integer"}},
            "required": ["query", "limit"],
        },
    },
    {"name": "now", "parameters": {"type": "object", "properties": {}}},
]
TOOLS = [{"type": "function", "function": f} for f in FUNCTIONS]


def _ask(mock: MockServer, **body: Any) -> httpx.Response:
    body = {"model": "m", "messages": [{"role": "user", "content": "find it"}], **body}
    return httpx.post(f"{mock.base_url}/chat/completions", json=body, timeout=10)


def _events(r: httpx.Response) -> list[dict[str, Any]]:
    assert r.text.endswith("data: [DONE]\n\n")
    return [json.loads(line[6:]) for line in r.text.splitlines() if line.startswith("data: {")]


def test_tools_get_a_tool_call(mock: MockServer) -> None:
    answer = _ask(mock, tools=TOOLS).json()
    [choice] = answer["choices"]
    assert choice["finish_reason"] == "tool_calls"
    message = choice["message"]
    assert message["role"] == "assistant" and message["content"] is None
    [call] = message["tool_calls"]
    assert call["type"] == "function" and call["id"].startswith("call_")
    assert call["function"]["name"] == "search"
    assert json.loads(call["function"]["arguments"]) == {"query": "demo", "limit": 1}
    assert answer["usage"]["completion_tokens"] >= 1


def test_a_streamed_tool_call_arrives_in_pieces(mock: MockServer) -> None:
    options = {"include_usage": True}
    events = _events(_ask(mock, tools=TOOLS, stream=True, stream_options=options))
    deltas = [c["delta"] for e in events for c in e["choices"]]
    calls = [tc for d in deltas for tc in d.get("tool_calls") or []]
    assert calls[0]["id"].startswith("call_") and calls[0]["function"]["name"] == "search"
    assert all(tc["index"] == 0 for tc in calls) and len(calls) > 2
    arguments = "".join(tc["function"]["arguments"] for tc in calls)
    assert json.loads(arguments) == {"query": "demo", "limit": 1}
    finishes = [c.get("finish_reason") for e in events for c in e["choices"]]
    assert [f for f in finishes if f] == ["tool_calls"]
    assert events[-1]["choices"] == [] and events[-1]["usage"]["total_tokens"] > 0


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"tool_choice": {"type": "function", "function": {"name": "now"}}}, "now"),
        ({"tool_choice": "required"}, "search"),
        ({"tool_choice": "none"}, None),
        ({"tools": []}, None),
        (
            {
                "messages": [
                    {"role": "user", "content": "find it"},
                    {"role": "assistant", "content": None, "tool_calls": []},
                    {"role": "tool", "tool_call_id": "call_1", "content": "found"},
                ]
            },
            None,
        ),
    ],
)
def test_which_tool_or_none(mock: MockServer, extra: dict[str, Any], expected: str | None) -> None:
    [choice] = _ask(mock, **({"tools": TOOLS} | extra)).json()["choices"]
    if expected is None:  # a text answer: no tool offered, or the tool's result is in
        assert choice["finish_reason"] == "stop" and choice["message"]["content"]
        assert "tool_calls" not in choice["message"]
    else:
        assert choice["message"]["tool_calls"][0]["function"]["name"] == expected
