"""The formats package alone: what a format writes, it reads back the same (for all inputs).

Requests: a canonical conversation written as an Anthropic or Responses body and read back
is the same conversation. Answers and streams: a canonical answer written by a client
encoder and read by that format's upstream decoder gives back the same text, reasoning,
tool calls, stop and usage, however the text is cut into chunks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from previewgate.errors import PreviewGateError
from previewgate.formats import CLIENTS, UPSTREAMS, canonical_request
from previewgate.formats.anthropic.answer import usage_from_canonical, usage_to_canonical
from previewgate.formats.anthropic.stream import AnthropicDecoder, AnthropicEncoder
from previewgate.formats.common import usage_doc
from previewgate.formats.responses import answer as responses_answer
from previewgate.formats.responses.stream import ResponsesDecoder, ResponsesEncoder
from previewgate.sse import DONE, SseEvents

TEXT = st.text(min_size=1, max_size=40).filter(lambda s: s.strip() == s and s)
NAME = st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True)
ARGS = st.dictionaries(NAME, st.one_of(st.integers(-5, 5), TEXT), max_size=3)
CALL_ID = st.from_regex(r"call_[a-zA-Z0-9]{4,12}", fullmatch=True)


@dataclass(frozen=True)
class Ctx:
    response_id: str = "gen-0123456789abcdef0123456789abcdef"
    public_id: str = "acme/preview"
    created: int = 1_700_000_000
    request: Any = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "request", self.request or {})


@st.composite
def conversations(draw: st.DrawFn) -> dict[str, Any]:
    """Canonical requests that every format can carry: system, user text, tool rounds."""
    messages: list[dict[str, Any]] = []
    if draw(st.booleans()):
        messages.append({"role": "system", "content": draw(TEXT)})
    for _ in range(draw(st.integers(1, 3))):
        messages.append({"role": "user", "content": draw(TEXT)})
        if draw(st.booleans()):
            calls = [
                {
                    "id": draw(CALL_ID) + str(n),
                    "type": "function",
                    "function": {"name": draw(NAME), "arguments": json.dumps(draw(ARGS))},
                }
                for n in range(draw(st.integers(1, 2)))
            ]
            messages.append({"role": "assistant", "content": None, "tool_calls": calls})
            for call in calls:
                messages.append({"role": "tool", "tool_call_id": call["id"], "content": draw(TEXT)})
        messages.append({"role": "assistant", "content": draw(TEXT)})
    messages.append({"role": "user", "content": draw(TEXT)})
    body: dict[str, Any] = {
        "model": "m",
        "messages": messages,
        "max_tokens": draw(st.integers(1, 999)),
    }
    if draw(st.booleans()):
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": draw(NAME),
                    "description": draw(TEXT),
                    "parameters": {"type": "object", "properties": {}},
                },
            }
        ]
    return body


def _same_conversation(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> None:
    """Equal up to what formats normalise: JSON text of arguments, absent empty content."""

    def norm(message: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in json.loads(json.dumps(message)).items() if v is not None}
        for call in out.get("tool_calls", []):
            call["function"]["arguments"] = json.loads(call["function"]["arguments"])
        return out

    assert [norm(m) for m in after] == [norm(m) for m in before]


@settings(max_examples=150, deadline=None)
@given(conversations(), st.sampled_from(["anthropic-messages", "openai-responses"]))
def test_requests_round_trip_through_each_format(body: dict[str, Any], api_format: str) -> None:
    native = UPSTREAMS[api_format].from_canonical(json.loads(json.dumps(body)))
    back = canonical_request(api_format, json.loads(json.dumps(native)))
    _same_conversation(body["messages"], back["messages"])
    assert back["max_tokens"] == body["max_tokens"]
    if "tools" in body:
        assert back["tools"] == body["tools"]
    # And a client of that format is read the same way (strict: nothing refused here).
    kind = "messages" if api_format == "anthropic-messages" else "responses"
    strict = CLIENTS[kind].to_canonical(json.loads(json.dumps(native)))
    _same_conversation(body["messages"], strict["messages"])


@st.composite
def answers(draw: st.DrawFn) -> tuple[list[str], str, list[tuple[str, str, dict[str, Any]]], str]:
    """An answer cut into text pieces, its reasoning, tool calls and finish reason."""
    pieces = draw(st.lists(st.text(min_size=1, max_size=12), max_size=6))
    reasoning = draw(st.one_of(st.just(""), TEXT))
    calls = draw(st.lists(st.tuples(CALL_ID, NAME, ARGS), max_size=2, unique_by=lambda c: c[0]))
    finish = "tool_calls" if calls else draw(st.sampled_from(["stop", "length"]))
    return pieces, reasoning, calls, finish


def _chunks(
    pieces: list[str], reasoning: str, calls: list[Any], finish: str
) -> list[dict[str, Any]]:
    def choice(delta: dict[str, Any], reason: str | None = None) -> dict[str, Any]:
        return {"choices": [{"index": 0, "delta": delta, "finish_reason": reason}]}

    out = [choice({"role": "assistant"})]
    if reasoning:
        out.append(choice({"reasoning": reasoning}))
    out += [choice({"content": p}) for p in pieces]
    for n, (call_id, name, args) in enumerate(calls):
        text = json.dumps(args)
        head = {"index": n, "id": call_id, "type": "function", "function": {"name": name}}
        out.append(choice({"tool_calls": [head]}))
        for i in range(0, len(text), 5):
            piece = {"index": n, "function": {"arguments": text[i : i + 5]}}
            out.append(choice({"tool_calls": [piece]}))
    out.append(choice({}, finish))
    usage = usage_doc(40, 9, 4, write=2 if finish == "length" else None)
    out.append({"choices": [], "usage": usage})
    return out


def _merge(chunks: list[dict[str, Any]]) -> tuple[str, str, list[Any], str | None, Any]:
    text = reasoning = ""
    calls: dict[int, dict[str, str]] = {}
    finish = usage = None
    for chunk in chunks:
        assert "error" not in chunk, chunk
        usage = chunk.get("usage") or usage
        for choice in chunk["choices"]:
            delta = choice["delta"]
            text += delta.get("content") or ""
            reasoning += delta.get("reasoning") or ""
            for call in delta.get("tool_calls") or []:
                slot = calls.setdefault(call["index"], {"id": "", "name": "", "args": ""})
                slot["id"] = call.get("id") or slot["id"]
                slot["name"] = call.get("function", {}).get("name") or slot["name"]
                slot["args"] += call.get("function", {}).get("arguments") or ""
            finish = choice.get("finish_reason") or finish
    merged = [(c["id"], c["name"], json.loads(c["args"])) for c in calls.values()]
    return text, reasoning, merged, finish, usage


@settings(max_examples=150, deadline=None)
@given(answers(), st.sampled_from(["messages", "responses"]))
def test_streams_round_trip_through_each_format(answer: Any, kind: str) -> None:
    pieces, reasoning, calls, finish = answer
    encoder: Any = AnthropicEncoder(Ctx()) if kind == "messages" else ResponsesEncoder(Ctx())
    decoder: Any = AnthropicDecoder() if kind == "messages" else ResponsesDecoder()
    wire = encoder.start()
    wire += b"".join(encoder.chunk(c) for c in _chunks(pieces, reasoning, calls, finish))
    wire += encoder.end()
    events = SseEvents().feed(wire)
    assert DONE not in events
    decoded = [c for e in events for c in decoder.feed(e)]
    text, got_reasoning, got_calls, got_finish, usage = _merge(decoded)
    assert (text, got_reasoning) == ("".join(pieces), reasoning)
    assert got_calls == [tuple(c) for c in calls]
    assert got_finish == finish
    # Anthropic always says its cache writes (0 included).
    expected = usage_doc(40, 9, 4, write=2 if finish == "length" else 0)
    if kind == "responses":  # Responses has no cache-write count, and always says reasoning
        expected = usage_doc(40, 9, 4, reasoning=0)
    assert usage == expected


@given(st.integers(0, 10_000), st.integers(0, 10_000), st.integers(0, 100), st.integers(0, 100))
def test_usage_round_trips(prompt: int, completion: int, cached: int, written: int) -> None:
    canonical = usage_doc(prompt + cached + written, completion, cached, write=written)
    assert usage_to_canonical(usage_from_canonical(canonical)) == canonical
    back = responses_answer.usage_to_canonical(responses_answer.usage_from_canonical(canonical))
    assert back == usage_doc(prompt + cached + written, completion, cached, reasoning=0)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
FIELDS = st.sampled_from(
    [
        "messages",
        "input",
        "system",
        "tools",
        "tool_choice",
        "content",
        "role",
        "type",
        "stop",
        "max_tokens",
        "text",
        "instructions",
        "thinking",
        "n",
        "response_format",
        "tool_calls",
    ]
)


@st.composite
def hostile_bodies(draw: st.DrawFn) -> dict[str, Any]:
    body = draw(st.dictionaries(FIELDS, JSON, max_size=6))
    body["model"] = "m"
    messages = draw(st.lists(st.dictionaries(FIELDS, JSON, max_size=4), max_size=3))
    for m in messages:
        m.setdefault("role", draw(st.sampled_from(["user", "assistant", "tool", "system"])))
    body["messages"] = messages or [{"role": "user", "content": "x"}]
    body.setdefault("input", messages or "x")
    body["max_tokens"] = 5
    return body


@settings(max_examples=400, deadline=None)
@given(hostile_bodies(), st.sampled_from(list(CLIENTS)), st.sampled_from(list(UPSTREAMS)))
def test_any_body_is_translated_or_refused_never_crashes(
    body: dict[str, Any], kind: str, api_format: str
) -> None:
    client = CLIENTS[kind]
    try:
        parsed = client.parse(json.dumps(body).encode())
        native = UPSTREAMS[api_format].from_canonical(client.to_canonical(parsed))
    except PreviewGateError as error:
        assert 400 <= error.status < 500
        return
    json.dumps(native)  # serialisable
    canonical_request(api_format, native)  # and readable for capture
