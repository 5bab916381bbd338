"""Response assembler tests: split invariance, delta merging, robustness, byte cap."""

from __future__ import annotations

import json
import time
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from previewgate.evidence.capture import DEFAULT_LIMIT_BYTES
from previewgate.evidence.sse_assembly import CapturedResponse, ResponseAssembler, UsageCounts

KIB = 1024
small_texts = st.text(
    alphabet=st.one_of(st.characters(), st.sampled_from(["é", "中", "😀", "\n", '"', "\r"])),
    max_size=30,
)
tool_frags = st.fixed_dictionaries(
    {"index": st.integers(0, 2)},
    optional={
        "id": st.sampled_from(["call_a", "call_b"]),
        "type": st.just("function"),
        "function": st.fixed_dictionaries(
            {}, optional={"name": st.sampled_from(["f", "g"]), "arguments": small_texts}
        ),
    },
)
deltas = st.one_of(
    st.fixed_dictionaries({"content": small_texts}),
    st.fixed_dictionaries({"reasoning_content": small_texts}),
    st.fixed_dictionaries({"reasoning": small_texts}),
    st.fixed_dictionaries({"tool_calls": st.lists(tool_frags, max_size=2)}),
    st.fixed_dictionaries({"role": st.just("assistant"), "content": st.just("")}),
)
choices = st.fixed_dictionaries(
    {"index": st.integers(0, 1), "delta": deltas},
    optional={"finish_reason": st.sampled_from(["stop", "length", "tool_calls", None])},
)
usages = st.fixed_dictionaries(
    {"prompt_tokens": st.integers(0, 10**6), "completion_tokens": st.integers(0, 10**6)},
    optional={"prompt_tokens_details": st.fixed_dictionaries({"cached_tokens": st.integers(0, 9)})},
)
chunks = st.fixed_dictionaries(
    {"choices": st.lists(choices, max_size=2)},
    optional={"id": st.just("chatcmpl-1"), "model": st.just("m"), "usage": usages},
)
JUNK = [b": ping", b"event: message", b"id: 7", b"retry: 100", b"garbage line", b":"]


@st.composite
def sse_streams(draw: st.DrawFn) -> tuple[bytes, list[dict[str, Any]]]:
    # Round-trip through JSON as a real upstream would: adjacent lone surrogates pair up.
    events = json.loads(json.dumps(draw(st.lists(chunks, max_size=12))))
    out = bytearray()
    for event in events:
        eol = draw(st.sampled_from([b"\n", b"\r\n"]))
        for junk in draw(st.lists(st.sampled_from(JUNK), max_size=2)):
            out += junk + eol
        if draw(st.booleans()):  # one data line, raw UTF-8
            out += (
                b"data: "
                + json.dumps(event, ensure_ascii=False).encode(errors="backslashreplace")
                + eol
            )
        else:  # SSE lets one event's data span several lines (joined with "\n")
            for line in json.dumps(event, indent=1).split("\n"):
                out += b"data:" + line.encode() + eol
        out += eol
    if draw(st.booleans()):
        out += b"data: [DONE]\n\n"
    return bytes(out), events


def _assemble(pieces: list[bytes], limit: int = DEFAULT_LIMIT_BYTES) -> CapturedResponse | None:
    assembler = ResponseAssembler(limit)
    for piece in pieces:
        assembler.feed(piece)
    return assembler.finish()


def _expected(events: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """A straightforward model of the merge, to check the assembler against."""
    out: dict[int, dict[str, Any]] = {}
    for event in events:
        for choice in event["choices"]:
            exp = out.setdefault(choice["index"], {"content": "", "reasoning": "", "args": {}})
            delta = choice["delta"]
            exp["content"] += delta.get("content", "")
            exp["reasoning"] += delta.get("reasoning", delta.get("reasoning_content", ""))
            for frag in delta.get("tool_calls", []):
                args = frag.get("function", {}).get("arguments", "")
                exp["args"][frag["index"]] = exp["args"].get(frag["index"], "") + args
            if choice.get("finish_reason"):
                exp["finish_reason"] = choice["finish_reason"]
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=sse_streams(), data=st.data(), limit=st.sampled_from([DEFAULT_LIMIT_BYTES, KIB, 300]))
def test_split_invariance_and_merge(
    stream: tuple[bytes, list[dict[str, Any]]], data: st.DataObject, limit: int
) -> None:
    raw, events = stream
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=20)))
    pieces = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    whole = _assemble([raw], limit)
    assert _assemble(pieces, limit) == whole
    if not events:
        assert whole is None
        return
    assert whole is not None
    assert len(whole.body) <= limit
    doc = json.loads(whole.body.decode("utf-8"))
    expected = _expected(events)
    if whole.was_truncated:  # cut text is a prefix of the real text (or all gone: "{}")
        for choice in doc.get("choices", []):
            content = choice["message"].get("content", "")
            assert expected[choice["index"]]["content"].startswith(content)
        return
    got = {c["index"]: c for c in doc.get("choices", [])}
    assert got.keys() == expected.keys()
    for index, exp in expected.items():
        message = got[index]["message"]
        assert got[index].get("finish_reason") == exp.get("finish_reason")
        assert message.get("content", "") == exp["content"]
        assert message.get("reasoning", "") == exp["reasoning"]
        calls = message.get("tool_calls", [])
        assert [c.get("function", {}).get("arguments", "") for c in calls] == [
            exp["args"][i] for i in sorted(exp["args"])
        ]
    usages = [e["usage"] for e in events if "usage" in e]
    if usages:
        assert doc["usage"] == usages[-1]


def test_byte_by_byte_with_multibyte_and_crlf() -> None:
    raw = (
        'data: {"id":"x","model":"m","choices":[{"index":0,"delta":{"role":"assistant"}}]}\r\n\r\n'
        ": keep-alive\r\n\r\n"
        'data: {"choices":[{"index":0,"delta":{"content":"中文 😀"}}]}\r\n\r\n'
        'data:{"choices":[{"index":0,"delta":{"content":"!"},"finish_reason":"stop"}]}\r\n\r\n'
        'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,'
        '"prompt_tokens_details":{"cached_tokens":1},"cost":0.5}}\r\n\r\n'
        "data: [DONE]\r\n\r\n"
    ).encode()
    assembler = ResponseAssembler()
    for i in range(len(raw)):
        assembler.feed(raw[i : i + 1])
    assert assembler.usage == {
        "prompt_tokens": 3,
        "completion_tokens": 4,
        "prompt_tokens_details": {"cached_tokens": 1},
        "cost": 0.5,
    }
    assert assembler.usage_counts == UsageCounts(3, 4, 1, 0.5)
    assert assembler.done
    result = assembler.finish()
    assert result is not None and not result.was_truncated
    doc = json.loads(result.body)
    assert doc["model"] == "m" and "id" not in doc  # the request's id is on its row
    assert doc["choices"] == [
        {
            "index": 0,
            "finish_reason": "stop",
            "message": {"role": "assistant", "content": "中文 😀!"},
        }
    ]


def test_tool_call_fragments_merge_by_index() -> None:
    frags = [
        {
            "index": 1,
            "id": "call_2",
            "type": "function",
            "function": {"name": "g", "arguments": ""},
        },
        {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f"}},
        {"index": 0, "function": {"arguments": '{"a"'}},
        {"index": 1, "function": {"arguments": "{}"}},
        {"index": 0, "function": {"arguments": ": 1}"}},
    ]
    raw = b"".join(
        b"data: "
        + json.dumps({"choices": [{"index": 0, "delta": {"tool_calls": [f]}}]}).encode()
        + b"\n\n"
        for f in frags
    )
    result = _assemble([raw])
    assert result is not None
    assert json.loads(result.body)["choices"][0]["message"]["tool_calls"] == [
        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}},
        {"id": "call_2", "type": "function", "function": {"name": "g", "arguments": "{}"}},
    ]


def test_non_streaming_body_matches_stream() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    body = {
        "id": "r1",
        "object": "chat.completion",
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hi", "tool_calls": [call]},
                "finish_reason": "tool_calls",
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 2},
    }
    non_stream = ResponseAssembler()
    non_stream.feed_json(json.dumps(body).encode())
    assert non_stream.usage_counts.completion_tokens == 2
    stream_events = [
        {"id": "r1", "model": "m", "choices": [{"index": 0, "delta": {"role": "assistant"}}]},
        {"choices": [{"index": 0, "delta": {"content": "H"}}]},
        {
            "choices": [
                {"index": 0, "delta": {"content": "i", "tool_calls": [{"index": 0, **call}]}}
            ]
        },
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
        {"choices": [], "usage": body["usage"]},
    ]
    raw = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in stream_events)
    assert non_stream.finish() == _assemble([raw])


def test_nothing_received_is_none() -> None:
    assert _assemble([]) is None
    assert _assemble([b": ping\n\ndata: [DONE]\n\n"]) is None
    assembler = ResponseAssembler()
    assembler.feed_json(b"<html>502 Bad Gateway</html>")
    assert assembler.finish() is None
    assert assembler.usage is None and assembler.usage_counts == UsageCounts()


def test_malformed_input_is_skipped() -> None:
    junk = [
        b"data: {broken\n\n",
        b"data: [1, 2]\n\n",
        b'data: "string"\n\n',
        b"data: \xff\xfe\x00\n\n",
        b'data: {"choices": "nope", "usage": 5}\n\n',
        b'data: {"choices": [1, {"index": true, "delta": 5}, {"delta": {"tool_calls": [7]}}]}\n\n',
        b'data: {"choices": [{"delta": {"content": 12, "tool_calls": {"x": 1}}}]}\n\n',
        b"data: " + b"[" * 100_000 + b"\n\n",
        b"\x00\x01 binary noise\n\n",
    ]
    good = b'data: {"choices":[{"index":0,"delta":{"content":"ok"}}]}\n\n'
    result = _assemble([*junk, good, b"data: {also broken"])
    assert result is not None
    assert json.loads(result.body)["choices"][0]["message"]["content"] == "ok"


def test_error_event_and_unterminated_last_line() -> None:
    raw = b'data: {"choices":[{"index":0,"delta":{"content":"par"}}]}\n\ndata: {"error":{"m":"x"}}'
    result = _assemble([raw])
    assert result is not None
    doc = json.loads(result.body)
    assert doc["error"] == {"m": "x"}
    assert doc["choices"][0]["message"]["content"] == "par"


def test_overlong_line_dropped_whatever_the_split() -> None:
    huge = json.dumps({"choices": [{"index": 0, "delta": {"content": "z" * (3 << 20)}}]})
    raw = b"data: " + huge.encode() + b"\n\n" + b'data: {"choices":[{"delta":{"content":"a"}}]}\n\n'
    whole = _assemble([raw], KIB)
    assert whole == _assemble([raw[i : i + 4096] for i in range(0, len(raw), 4096)], KIB)
    assert whole is not None
    assert json.loads(whole.body)["choices"][0]["message"]["content"] == "a"


def test_large_stream_truncated_and_fast() -> None:
    piece = "数据 data 😀 " * 10  # 170 bytes of UTF-8 per delta
    event = json.dumps({"choices": [{"index": 0, "delta": {"content": piece}}]}, ensure_ascii=False)
    line = b"data: " + event.encode() + b"\n\n"
    count = (5 * 1024 * 1024) // len(piece.encode()) + 1  # > 5 MiB of content
    assembler = ResponseAssembler()
    start = time.monotonic()
    for _ in range(count):
        assembler.feed(line)
    result = assembler.finish()
    elapsed = time.monotonic() - start
    assert result is not None and result.was_truncated
    assert DEFAULT_LIMIT_BYTES - 64 < len(result.body) <= DEFAULT_LIMIT_BYTES
    content = json.loads(result.body.decode("utf-8"))["choices"][0]["message"]["content"]
    assert (piece * count).startswith(content)
    assert elapsed < 10, elapsed
