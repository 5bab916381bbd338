"""Unit tests for previewgate.gateway.blind_schema: answers rebuilt from an allowlist.

Nothing is copied from the upstream document as a whole: every field of the output is read
from its own place, type-checked and written anew. The property tests feed arbitrary JSON-ish
documents (and schema-shaped ones with junk at every level) and check that the output only
ever holds allowlisted keys, that no planted marker outside model output gets through, and
that nothing raises.
"""

from __future__ import annotations

import math
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from previewgate.gateway.blind_schema import (
    FINISH_REASONS,
    Rebuilder,
    ToolCallIds,
    rebuild_usage,
)

PUBLIC = "preview-a"
OURS = "gen-0123456789abcdef"
CREATED = 1_718_000_000
KEY = b"k" * 32
INTERNAL = "ckpt-internal-2024-06-rc3"
PROPERTY = settings(
    max_examples=75,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def rebuilder(key: bytes = KEY, response_id: str = OURS, public: str = PUBLIC) -> Rebuilder:
    return Rebuilder(public, response_id, CREATED, ToolCallIds(key))


def upstream_completion(**message: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-upstream",
        "object": "chat.completion",
        "created": 1,
        "model": INTERNAL,
        "system_fingerprint": "fp_abc123",
        "service_tier": "default",
        "provider": "gpu-pool-7",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "hi", **message},
                "logprobs": None,
                "finish_reason": "stop",
                "native_finish_reason": "eos",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    }


def upstream_chunk(delta: dict[str, Any], **choice: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-upstream",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": INTERNAL,
        "system_fingerprint": "fp_abc123",
        "choices": [{"index": 0, "delta": delta, "finish_reason": None, **choice}],
    }


# --- completion ------------------------------------------------------------------------


def test_completion_is_rebuilt_with_our_ids() -> None:
    out = rebuilder().completion(upstream_completion(), 0.25)
    assert out == {
        "id": OURS,
        "object": "chat.completion",
        "created": CREATED,
        "model": PUBLIC,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "hi", "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4, "cost": 0.25},
    }


def test_completion_unknown_fields_dropped_at_every_level() -> None:
    doc = upstream_completion(
        annotations=[{"url": "https://gpu-pool-7"}],
        audio={"id": "a"},
        function_call={"name": "f"},
        provider_specific={"x": 1},
    )
    doc["choices"][0]["extra"] = {"model": INTERNAL}
    doc["usage"]["provider_cost"] = 12
    doc["usage"]["prompt_tokens_details"] = {"cached_tokens": 1, "internal": 7}
    doc["x_upstream"] = INTERNAL
    out = rebuilder().completion(doc, 0.0)
    assert set(out) == {"id", "object", "created", "model", "choices", "usage"}
    assert set(out["choices"][0]) == {"index", "message", "logprobs", "finish_reason"}
    assert set(out["choices"][0]["message"]) == {"role", "content", "refusal"}
    assert out["usage"]["prompt_tokens_details"] == {"cached_tokens": 1}
    text = orjson.dumps(out)
    for leak in (b"fp_abc123", b"gpu-pool", INTERNAL.encode(), b"eos", b"chatcmpl-upstream"):
        assert leak not in text


def test_completion_model_output_passes_as_generated() -> None:
    content = 'ünïcode 日本語 😀 \\ \n {"model": "x"} ' + INTERNAL
    doc = upstream_completion(content=content, refusal="no", reasoning="thinking...")
    out = rebuilder().completion(doc, 0.0)
    message = out["choices"][0]["message"]
    assert message == {
        "role": "assistant",
        "content": content,
        "refusal": "no",
        "reasoning": "thinking...",
    }


def test_completion_reasoning_content_is_read_as_reasoning() -> None:
    out = rebuilder().completion(upstream_completion(reasoning_content="why"), 0.0)
    assert out["choices"][0]["message"]["reasoning"] == "why"
    assert "reasoning_content" not in out["choices"][0]["message"]
    both = upstream_completion(reasoning="first", reasoning_content="second")
    assert rebuilder().completion(both, 0.0)["choices"][0]["message"]["reasoning"] == "first"


@pytest.mark.parametrize("role", ["user", "system", "tool", None, 7, "developer"])
def test_completion_role_is_always_assistant(role: Any) -> None:
    out = rebuilder().completion(upstream_completion(role=role), 0.0)
    assert out["choices"][0]["message"]["role"] == "assistant"


@pytest.mark.parametrize("content", [None, 1, ["a"], {"text": "x"}, True])
def test_completion_non_string_content_becomes_null(content: Any) -> None:
    out = rebuilder().completion(upstream_completion(content=content, refusal=[1]), 0.0)
    assert out["choices"][0]["message"]["content"] is None
    assert out["choices"][0]["message"]["refusal"] is None


@pytest.mark.parametrize(
    ("upstream", "ours"),
    [
        ("stop", "stop"),
        ("length", "length"),
        ("tool_calls", "tool_calls"),
        ("content_filter", "content_filter"),
        ("function_call", "function_call"),
        ("eos", "stop"),
        ("end_turn", "stop"),
        ("STOP", "stop"),
        ("error", "stop"),
        ("", "stop"),
        (1, "stop"),
        (False, "stop"),
        (None, None),
    ],
)
def test_finish_reason_mapping(upstream: Any, ours: str | None) -> None:
    doc = upstream_completion()
    doc["choices"][0]["finish_reason"] = upstream
    assert rebuilder().completion(doc, 0.0)["choices"][0]["finish_reason"] == ours
    chunk = upstream_chunk({}, finish_reason=upstream)
    out = rebuilder().chunk(chunk, None)
    assert out is not None and out["choices"][0]["finish_reason"] == ours


@pytest.mark.parametrize("upstream", [["stop"], {"type": "stop"}])
def test_finish_reason_unhashable_becomes_stop(upstream: Any) -> None:
    doc = upstream_completion()
    doc["choices"][0]["finish_reason"] = upstream
    assert rebuilder().completion(doc, 0.0)["choices"][0]["finish_reason"] == "stop"


def test_missing_finish_reason_is_null() -> None:
    doc = upstream_completion()
    del doc["choices"][0]["finish_reason"]
    assert rebuilder().completion(doc, 0.0)["choices"][0]["finish_reason"] is None


@pytest.mark.parametrize(
    ("choices", "expected"),
    [
        (None, []),
        ("x", []),
        ({"0": {}}, []),
        ([1, "a", None, []], []),
        ([{}], [0]),
        ([{"index": 3}, {"index": -1}, {"index": True}, {"index": 1 << 16}], [3, 1, 2, 3]),
        ([{"index": "1"}, {"index": 1.0}], [0, 1]),
    ],
)
def test_choices_shapes_and_indexes(choices: Any, expected: list[Any]) -> None:
    out = rebuilder().completion({"choices": choices}, 0.0)
    assert [c["index"] for c in out["choices"]] == expected
    for choice in out["choices"]:
        assert choice["message"] == {"role": "assistant", "content": None, "refusal": None}
        assert choice["logprobs"] is None and choice["finish_reason"] is None


def test_completion_without_usage() -> None:
    doc = upstream_completion()
    del doc["usage"]
    assert "usage" not in rebuilder().completion(doc, 0.5)
    doc["usage"] = "lots"
    assert "usage" not in rebuilder().completion(doc, 0.5)


# --- tool calls ------------------------------------------------------------------------


def tool_call(call_id: Any = "call_upstream_1", **extra: Any) -> dict[str, Any]:
    call: dict[str, Any] = {
        "type": "function",
        "function": {"name": "lookup", "arguments": '{"q": "ü", "model": "x"}', "strict": True},
        **extra,
    }
    if call_id is not None:
        call["id"] = call_id
    return call


def test_completion_tool_calls_rebuilt_and_reminted() -> None:
    doc = upstream_completion(content=None, tool_calls=[tool_call(provider="x")])
    out = rebuilder().completion(doc, 0.0)
    (call,) = out["choices"][0]["message"]["tool_calls"]
    assert set(call) == {"id", "type", "function"}
    assert call["type"] == "function"
    assert call["function"] == {"name": "lookup", "arguments": '{"q": "ü", "model": "x"}'}
    assert call["id"].startswith("call_") and len(call["id"]) == len("call_") + 24
    assert "upstream" not in call["id"]
    assert call["id"] == ToolCallIds(KEY).mint(PUBLIC, "call_upstream_1")


def test_minted_id_is_stable_across_rebuilders_with_the_same_key() -> None:
    doc = upstream_completion(tool_calls=[tool_call("call_abc")])
    first = rebuilder(response_id="gen-1").completion(doc, 0.0)
    second = rebuilder(response_id="gen-2").completion(doc, 0.0)
    id1 = first["choices"][0]["message"]["tool_calls"][0]["id"]
    id2 = second["choices"][0]["message"]["tool_calls"][0]["id"]
    assert id1 == id2
    # ... and the same id from a stream's first delta
    chunk = upstream_chunk({"tool_calls": [tool_call("call_abc", index=0)]})
    streamed = rebuilder(response_id="gen-3").chunk(chunk, None)
    assert streamed is not None
    assert streamed["choices"][0]["delta"]["tool_calls"][0]["id"] == id1


def test_minted_id_differs_with_key_upstream_id_or_public_id() -> None:
    ids = ToolCallIds(KEY)
    base = ids.mint(PUBLIC, "call_abc")
    assert ToolCallIds(b"other key").mint(PUBLIC, "call_abc") != base
    assert ids.mint(PUBLIC, "call_abd") != base
    assert ids.mint("preview-b", "call_abc") != base
    assert ids.mint(PUBLIC, "call_abc") == base


@pytest.mark.parametrize("call_id", [None, "", 12, ["x"]])
def test_tool_call_without_usable_id_gets_one(call_id: Any) -> None:
    doc = upstream_completion(tool_calls=[tool_call(call_id), tool_call(call_id)])
    out = rebuilder().completion(doc, 0.0)
    calls = out["choices"][0]["message"]["tool_calls"]
    assert len(calls) == 2
    assert all(c["id"].startswith("call_") and c["type"] == "function" for c in calls)
    assert calls[0]["id"] != calls[1]["id"]  # two calls, two ids
    # a different answer gives different ids (they are minted from our response id)
    other = rebuilder(response_id="gen-other").completion(doc, 0.0)
    assert other["choices"][0]["message"]["tool_calls"][0]["id"] != calls[0]["id"]


def test_non_streamed_calls_with_the_same_index_get_distinct_ids() -> None:
    doc = upstream_completion(tool_calls=[tool_call(None, index=0), tool_call(None, index=0)])
    calls = rebuilder().completion(doc, 0.0)["choices"][0]["message"]["tool_calls"]
    assert calls[0]["id"] != calls[1]["id"]


def test_non_streamed_tool_call_junk() -> None:
    doc = upstream_completion(
        tool_calls=[
            "not a call",
            {"id": "c1", "function": "lookup"},
            {"id": "c2", "function": {"name": 1, "arguments": {"q": 1}}},
            {"id": "c3", "type": "code_interpreter", "code_interpreter": {"input": "x"}},
        ]
    )
    calls = rebuilder().completion(doc, 0.0)["choices"][0]["message"]["tool_calls"]
    assert len(calls) == 3
    for call in calls:
        assert set(call) == {"id", "type", "function"}
        assert call["type"] == "function" and call["function"] == {}


@pytest.mark.parametrize("tool_calls", [[], None, "x", [1, "a"], {"0": {}}])
def test_no_tool_calls_field_when_nothing_usable(tool_calls: Any) -> None:
    out = rebuilder().completion(upstream_completion(tool_calls=tool_calls), 0.0)
    assert "tool_calls" not in out["choices"][0]["message"]


# --- chunks ----------------------------------------------------------------------------


def test_chunk_is_rebuilt_with_our_ids() -> None:
    chunk = upstream_chunk({"role": "assistant", "content": "", "provider": "x"})
    chunk["choices"][0]["native_finish_reason"] = "eos"
    chunk["choices"][0]["logprobs"] = None
    chunk["obfuscation"] = "abc"
    assert rebuilder().chunk(chunk, None) == {
        "id": OURS,
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": PUBLIC,
        "choices": [
            {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
        ],
    }


def test_chunk_delta_only_carries_what_came() -> None:
    out = rebuilder().chunk(upstream_chunk({"content": "Hel", "refusal": None}), None)
    assert out is not None
    assert out["choices"][0]["delta"] == {"content": "Hel"}
    out = rebuilder().chunk(upstream_chunk({"role": "tool", "reasoning_content": "r"}), None)
    assert out is not None
    assert out["choices"][0]["delta"] == {"role": "assistant", "reasoning": "r"}
    out = rebuilder().chunk(upstream_chunk("not a dict"), None)  # type: ignore[arg-type]
    assert out is not None and out["choices"][0]["delta"] == {}


def test_chunk_with_nothing_allowed_is_none() -> None:
    assert rebuilder().chunk({"id": "x", "model": INTERNAL, "choices": []}, None) is None
    assert rebuilder().chunk({"id": "x", "system_fingerprint": "fp"}, None) is None
    assert rebuilder().chunk({"choices": [1, "x"]}, None) is None


def test_chunk_usage_is_the_one_given() -> None:
    usage = rebuild_usage({"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}, 0.1)
    doc = {"id": "x", "model": INTERNAL, "choices": [], "usage": {"prompt_tokens": 999}}
    out = rebuilder().chunk(doc, usage)
    assert out == {
        "id": OURS,
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": PUBLIC,
        "choices": [],
        "usage": usage,
    }
    # The upstream's usage is never attached by chunk() itself.
    with_usage = upstream_chunk({"content": "x"}) | {"usage": {"prompt_tokens": 999}}
    out = rebuilder().chunk(with_usage, None)
    assert out is not None and "usage" not in out


def test_chunk_logprobs_only_when_valid() -> None:
    plain = rebuilder().chunk(upstream_chunk({"content": "x"}, logprobs="junk"), None)
    assert plain is not None and "logprobs" not in plain["choices"][0]
    with_lp = upstream_chunk(
        {"content": "x"}, logprobs={"content": [{"token": "x", "logprob": -0.5, "bytes": [120]}]}
    )
    out = rebuilder().chunk(with_lp, None)
    assert out is not None
    assert out["choices"][0]["logprobs"] == {
        "content": [{"token": "x", "logprob": -0.5, "bytes": [120], "top_logprobs": []}]
    }


def test_streamed_tool_call_id_minted_once_then_fragments() -> None:
    r = rebuilder()
    first = upstream_chunk(
        {
            "tool_calls": [
                {
                    "index": 0,
                    "id": "call_up",
                    "type": "function",
                    "function": {"name": "f", "arguments": ""},
                }
            ]
        }
    )
    later = upstream_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"a"'}}]})
    empty_fn = upstream_chunk({"tool_calls": [{"index": 0, "function": {"x": 1}}]})
    out1, out2, out3 = (r.chunk(c, None) for c in (first, later, empty_fn))
    assert out1 is not None and out2 is not None and out3 is not None
    minted = ToolCallIds(KEY).mint(PUBLIC, "call_up")
    assert out1["choices"][0]["delta"]["tool_calls"] == [
        {"index": 0, "id": minted, "type": "function", "function": {"name": "f", "arguments": ""}}
    ]
    assert out2["choices"][0]["delta"]["tool_calls"] == [
        {"index": 0, "function": {"arguments": '{"a"'}}
    ]
    assert out3["choices"][0]["delta"]["tool_calls"] == [{"index": 0}]


def test_streamed_tool_call_without_id_gets_one_on_its_first_delta() -> None:
    r = rebuilder()
    d1 = upstream_chunk({"tool_calls": [{"index": 0, "function": {"name": "f"}}]})
    d2 = upstream_chunk({"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]})
    d3 = upstream_chunk({"tool_calls": [{"index": 1, "function": {"name": "g"}}]})
    c1, c2, c3 = (r.chunk(c, None) for c in (d1, d2, d3))
    assert c1 is not None and c2 is not None and c3 is not None
    call1 = c1["choices"][0]["delta"]["tool_calls"][0]
    assert call1["id"].startswith("call_") and call1["type"] == "function"
    assert "id" not in c2["choices"][0]["delta"]["tool_calls"][0]
    call3 = c3["choices"][0]["delta"]["tool_calls"][0]
    assert call3["index"] == 1 and call3["id"].startswith("call_")
    assert call3["id"] != call1["id"]


def test_streamed_tool_calls_of_two_choices_are_distinct() -> None:
    r = rebuilder()
    doc = {
        "choices": [
            {"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"name": "f"}}]}},
            {"index": 1, "delta": {"tool_calls": [{"index": 0, "function": {"name": "f"}}]}},
        ]
    }
    out = r.chunk(doc, None)
    assert out is not None
    a, b = (c["delta"]["tool_calls"][0]["id"] for c in out["choices"])
    assert a != b


# --- logprobs --------------------------------------------------------------------------


def test_logprobs_rebuilt_and_non_finite_floored() -> None:
    doc = upstream_completion()
    doc["choices"][0]["logprobs"] = {
        "content": [
            {
                "token": "Hi",
                "logprob": -math.inf,
                "bytes": [72, 105],
                "top_logprobs": [
                    {"token": "Hi", "logprob": -math.inf, "bytes": [72, 105], "extra": 1},
                    {"token": "Hey", "logprob": math.nan, "bytes": None, "top_logprobs": []},
                    "junk",
                ],
                "id": 7,
            },
            {"token": 5, "logprob": "x", "bytes": [256, -1]},
            {"token": "!", "logprob": 0, "bytes": [True]},
            "junk",
        ],
        "refusal": None,
        "text_offset": [0],
    }
    out = rebuilder().completion(doc, 0.0)["choices"][0]["logprobs"]
    assert out == {
        "content": [
            {
                "token": "Hi",
                "logprob": -9999.0,
                "bytes": [72, 105],
                "top_logprobs": [
                    {"token": "Hi", "logprob": -9999.0, "bytes": [72, 105]},
                    {"token": "Hey", "logprob": -9999.0, "bytes": None},
                ],
            },
            {"token": "", "logprob": -9999.0, "bytes": None, "top_logprobs": []},
            {"token": "!", "logprob": 0.0, "bytes": None, "top_logprobs": []},
        ],
        "refusal": None,
    }
    assert isinstance(out["content"][2]["logprob"], float)
    orjson.dumps(out)  # all finite: serialisable as-is


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, None, "0", True, [1]])
def test_logprob_non_finite_or_not_a_number_is_floor(value: Any) -> None:
    doc = upstream_completion()
    doc["choices"][0]["logprobs"] = {"content": [{"token": "a", "logprob": value}]}
    out = rebuilder().completion(doc, 0.0)["choices"][0]["logprobs"]
    assert out["content"][0]["logprob"] == -9999.0


def test_logprob_huge_integer_is_floor() -> None:
    doc = upstream_completion()
    doc["choices"][0]["logprobs"] = {"content": [{"token": "a", "logprob": -(10**400)}]}
    out = rebuilder().completion(doc, 0.0)["choices"][0]["logprobs"]
    assert out["content"][0]["logprob"] == -9999.0


@pytest.mark.parametrize("value", [None, "x", 1, [], [{"token": "a"}]])
def test_logprobs_not_an_object(value: Any) -> None:
    doc = upstream_completion()
    doc["choices"][0]["logprobs"] = value
    assert rebuilder().completion(doc, 0.0)["choices"][0]["logprobs"] is None


def test_logprobs_fields_only_when_present() -> None:
    doc = upstream_completion()
    doc["choices"][0]["logprobs"] = {"tokens": ["a"], "token_logprobs": [-1.0]}
    assert rebuilder().completion(doc, 0.0)["choices"][0]["logprobs"] == {}
    doc["choices"][0]["logprobs"] = {"content": "x", "refusal": 3}
    out = rebuilder().completion(doc, 0.0)["choices"][0]["logprobs"]
    assert out == {"content": None, "refusal": None}


# --- usage -----------------------------------------------------------------------------


def test_usage_keeps_only_allowlisted_non_negative_ints() -> None:
    usage = {
        "prompt_tokens": 10,
        "completion_tokens": True,  # a bool is not a count
        "total_tokens": -1,
        "cost": 99.0,  # the upstream's price: never repeated
        "is_byok": False,
        "prompt_tokens_details": {
            "cached_tokens": 0,
            "audio_tokens": 2.0,
            "image_tokens": 5,
        },
        "completion_tokens_details": {
            "reasoning_tokens": 4,
            "audio_tokens": "3",
            "accepted_prediction_tokens": 1,
            "rejected_prediction_tokens": 2,
            "upstream_inference_cost": 7,
        },
        "server_tool_use": {"web_search_requests": 1},
    }
    assert rebuild_usage(usage, 0.5) == {
        "prompt_tokens": 10,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 4,
            "accepted_prediction_tokens": 1,
            "rejected_prediction_tokens": 2,
        },
        "cost": 0.5,
    }


@pytest.mark.parametrize(
    "value", [True, False, -1, 1.0, 2**53, 10**30, "5", None, [1], {"n": 1}, math.inf]
)
def test_usage_count_rejected(value: Any) -> None:
    assert rebuild_usage({"prompt_tokens": value}, 0.0) == {"cost": 0.0}


@pytest.mark.parametrize("value", [0, 1, 2**53 - 1])
def test_usage_count_kept(value: int) -> None:
    assert rebuild_usage({"total_tokens": value}, 1.0) == {"total_tokens": value, "cost": 1.0}


def test_usage_details_dropped_when_empty_or_not_objects() -> None:
    usage = {"prompt_tokens_details": {"x": 1}, "completion_tokens_details": [1]}
    assert rebuild_usage(usage, 0.0) == {"cost": 0.0}
    assert rebuild_usage({"prompt_tokens_details": None}, 0.0) == {"cost": 0.0}


@pytest.mark.parametrize("usage", [None, "x", 5, [{"prompt_tokens": 1}]])
def test_usage_not_an_object(usage: Any) -> None:
    assert rebuild_usage(usage, 1.0) is None


# --- properties ------------------------------------------------------------------------

MARKER = "LEAK-7f3a9c"  # planted outside model output: must never come out
TOP = {"id", "object", "created", "model", "choices", "usage"}
CHOICE = {"index", "message", "delta", "logprobs", "finish_reason"}
MESSAGE = {"role", "content", "refusal", "reasoning", "tool_calls"}
TOOL_CALL = {"index", "id", "type", "function"}
FUNCTION = {"name", "arguments"}
LOGPROBS = {"content", "refusal"}
TOKEN = {"token", "logprob", "bytes", "top_logprobs"}
TOP_TOKEN = {"token", "logprob", "bytes"}
USAGE_DETAILS = {
    "prompt_tokens_details": {"cached_tokens", "audio_tokens"},
    "completion_tokens_details": {
        "reasoning_tokens",
        "audio_tokens",
        "accepted_prediction_tokens",
        "rejected_prediction_tokens",
    },
}
USAGE = {"prompt_tokens", "completion_tokens", "total_tokens", "cost", *USAGE_DETAILS}
# Every name the allowlist reads somewhere (plus reasoning_content, read as reasoning).
READ = (
    TOP
    | CHOICE
    | MESSAGE
    | TOOL_CALL
    | FUNCTION
    | TOKEN
    | USAGE
    | {"reasoning_content", "tool_calls"}
    | set().union(*USAGE_DETAILS.values())
)


def check_token(token: Any, nested: bool) -> None:
    assert set(token) == (TOKEN if nested else TOP_TOKEN)
    assert isinstance(token["token"], str)
    assert isinstance(token["logprob"], float) and math.isfinite(token["logprob"])
    assert token["bytes"] is None or all(type(b) is int and 0 <= b <= 255 for b in token["bytes"])
    if nested:
        for top in token["top_logprobs"]:
            check_token(top, False)


def check_usage(usage: Any) -> None:
    assert set(usage) <= USAGE and "cost" in usage
    for name, value in usage.items():
        if name in USAGE_DETAILS:
            assert value and set(value) <= USAGE_DETAILS[name]
            assert all(type(v) is int and v >= 0 for v in value.values())
        elif name != "cost":
            assert type(value) is int and value >= 0


def check_answer(out: dict[str, Any], streamed: bool) -> None:
    """The output holds allowlisted keys only, with the documented types."""
    assert set(out) <= TOP
    assert out["id"] == OURS and out["created"] == CREATED and out["model"] == PUBLIC
    assert out["object"] == ("chat.completion.chunk" if streamed else "chat.completion")
    part = "delta" if streamed else "message"
    for choice in out["choices"]:
        assert set(choice) <= CHOICE - {"message" if streamed else "delta"}
        assert type(choice["index"]) is int and 0 <= choice["index"] < 1 << 16
        assert choice["finish_reason"] is None or choice["finish_reason"] in FINISH_REASONS
        message = choice[part]
        assert set(message) <= MESSAGE
        if not streamed or "role" in message:
            assert message["role"] == "assistant"
        for field in ("content", "refusal", "reasoning"):
            assert message.get(field) is None or isinstance(message[field], str)
        for call in message.get("tool_calls", []):
            assert set(call) <= TOOL_CALL
            assert ("index" in call) == streamed
            if "id" in call:
                assert call["id"].startswith("call_") and call["type"] == "function"
            assert set(call.get("function", {})) <= FUNCTION
            assert all(isinstance(v, str) for v in call.get("function", {}).values())
        logprobs = choice.get("logprobs")
        if logprobs is not None:
            assert set(logprobs) <= LOGPROBS
            for entries in logprobs.values():
                for token in entries or []:
                    check_token(token, True)
    if "usage" in out:
        check_usage(out["usage"])
    orjson.dumps(out)  # plain JSON types only


# Arbitrary JSON-ish values; keys drawn mostly from the schema's own names so deep paths
# are reached (integers wider than a double included).
LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats()
    | st.text(max_size=6)
    | st.just(MARKER)
)
SCHEMA_KEYS = sorted(READ | {"system_fingerprint", "service_tier", "provider", "annotations"})
KEYS = st.sampled_from(SCHEMA_KEYS) | st.text(max_size=4)
JSONISH = st.recursive(
    LEAVES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=20,
)


def junk_or(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return strategy | JSONISH


def shaped(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """An object with some of ``fields`` (each maybe junk) and unknown extras."""
    return st.fixed_dictionaries({}, optional={k: junk_or(v) for k, v in fields.items()}).flatmap(
        lambda known: st.dictionaries(st.text(max_size=5), JSONISH, max_size=2).map(
            lambda extra: extra | known
        )
    )


TOKEN_S = shaped(
    {
        "token": st.text(max_size=4),
        "logprob": st.floats() | st.integers(-100, 0),
        "bytes": st.lists(st.integers(-1, 300), max_size=3),
    }
)
TOKENS = st.lists(
    shaped(
        {
            "token": st.text(max_size=4),
            "logprob": st.floats(),
            "bytes": st.lists(st.integers(0, 255), max_size=3),
            "top_logprobs": st.lists(TOKEN_S, max_size=2),
        }
    ),
    max_size=2,
)
TOOL_CALL_S = shaped(
    {
        "index": st.integers(-1, 3),
        "id": st.sampled_from(["call_1", "call_2", "", MARKER]),
        "type": st.just("function"),
        "function": shaped({"name": st.text(max_size=4), "arguments": st.text(max_size=6)}),
    }
)
MESSAGE_S = shaped(
    {
        "role": st.sampled_from(["assistant", "user", MARKER]),
        "content": st.text(max_size=6),
        "refusal": st.text(max_size=6),
        "reasoning": st.text(max_size=6),
        "reasoning_content": st.text(max_size=6),
        "tool_calls": st.lists(TOOL_CALL_S, max_size=3),
    }
)
CHOICE_S = shaped(
    {
        "index": st.integers(-1, 3),
        "message": MESSAGE_S,
        "delta": MESSAGE_S,
        "logprobs": shaped({"content": TOKENS, "refusal": TOKENS}),
        "finish_reason": st.sampled_from([*FINISH_REASONS, "eos", MARKER]),
    }
)
USAGE_S = shaped(
    {
        "prompt_tokens": st.integers(-5, 10**6),
        "completion_tokens": st.integers(-5, 10**6),
        "total_tokens": st.integers(-5, 10**6),
        "prompt_tokens_details": shaped({"cached_tokens": st.integers(-1, 9)}),
        "completion_tokens_details": shaped({"reasoning_tokens": st.integers(-1, 9)}),
    }
)
ANSWERS = shaped(
    {
        "id": st.just(MARKER),
        "model": st.just(MARKER),
        "system_fingerprint": st.just(MARKER),
        "created": st.integers(),
        "choices": st.lists(CHOICE_S, max_size=3),
        "usage": USAGE_S,
    }
)


def model_output(doc: Any) -> list[str]:
    """Strings the rebuild may pass on as generated, wherever they sit in ``doc``."""
    found: list[str] = []
    if isinstance(doc, dict):
        for key, value in doc.items():
            if key in ("content", "refusal", "reasoning", "reasoning_content", "name"):
                found += [value] if isinstance(value, str) else []
            if key in ("arguments", "token") and isinstance(value, str):
                found.append(value)
            found += model_output(value)
    elif isinstance(doc, list):
        for value in doc:
            found += model_output(value)
    return found


def rebuild_both(doc: dict[str, Any]) -> None:
    out = rebuilder().completion(doc, 0.125)
    check_answer(out, streamed=False)
    usage = rebuild_usage(doc.get("usage"), 0.125)
    chunk = rebuilder().chunk(doc, usage)
    if chunk is not None:
        check_answer(chunk, streamed=True)
    if not any(MARKER in text for text in model_output(doc)):
        assert MARKER.encode() not in orjson.dumps(out)
        assert chunk is None or MARKER.encode() not in orjson.dumps(chunk)


@PROPERTY
@given(st.dictionaries(KEYS, JSONISH, max_size=6))
def test_arbitrary_documents_give_allowlisted_output(doc: dict[str, Any]) -> None:
    rebuild_both(doc)


@PROPERTY
@given(ANSWERS)
def test_schema_shaped_documents_with_junk_give_allowlisted_output(doc: dict[str, Any]) -> None:
    rebuild_both(doc)


@PROPERTY
@given(JSONISH, st.floats(allow_nan=False, allow_infinity=False))
def test_usage_property(usage: Any, cost: float) -> None:
    out = rebuild_usage(usage, cost)
    if not isinstance(usage, dict):
        assert out is None
        return
    assert out is not None and out["cost"] == cost
    check_usage(out)
    for name in ("prompt_tokens", "completion_tokens", "total_tokens"):
        value = usage.get(name)
        ok = type(value) is int and 0 <= value < 2**53
        assert out.get(name) == (value if ok else None)
