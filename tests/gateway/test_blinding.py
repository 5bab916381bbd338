"""Tests for previewgate.gateway.blinding (pure functions, no I/O)."""

from __future__ import annotations

import itertools
import json
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from previewgate.gateway.blinding import (
    REDACTED,
    SseModelRewriter,
    blind_error_body,
    filter_response_headers,
    rewrite_model_json,
    scrub_error_bytes,
    scrub_error_text,
)

PUBLIC = "preview-a"
INTERNAL = "ckpt-internal-2024-06-rc3"


def chunk(content: str | None = None, **extra: Any) -> dict[str, Any]:
    delta: dict[str, Any] = {} if content is None else {"content": content}
    return {
        "id": "chatcmpl-9xYzAbCd",
        "object": "chat.completion.chunk",
        "created": 1718000000,
        "model": INTERNAL,
        "system_fingerprint": "fp_abc123",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}],
        **extra,
    }


def run(rewriter: SseModelRewriter, pieces: list[bytes]) -> bytes:
    return b"".join(rewriter.feed(p) for p in pieces) + rewriter.flush()


def rewrite_stream(data: bytes) -> bytes:
    return run(SseModelRewriter(PUBLIC), [data])


def assert_only_model_changed(before: bytes, after: bytes) -> None:
    old, new = json.loads(before), json.loads(after)
    assert new["model"] == PUBLIC
    old["model"] = PUBLIC
    assert new == old


# --- SSE: split invariance -------------------------------------------------------------

TRICKY_TEXT = st.sampled_from(
    ['"model":"evil"', '{"model": "x"}', "\\", '\\"model\\"', "日本語 é 😀", "data: x\n", "\r"]
)
CONTENT = st.one_of(st.text(max_size=20), TRICKY_TEXT)


@st.composite
def sse_lines(draw: st.DrawFn) -> bytes:
    kind = draw(
        st.sampled_from(["json", "json_spaced", "done", "comment", "event", "blank", "raw"])
    )
    if kind == "json":
        body = orjson.dumps(chunk(draw(CONTENT)))
        return b"data: " + body
    if kind == "json_spaced":
        body = json.dumps(chunk(draw(CONTENT)), ensure_ascii=draw(st.booleans())).encode()
        return b"data:" + body  # stdlib separators put a space after every colon
    if kind == "raw":
        return b"data: " + draw(st.text(max_size=30)).replace("\n", " ").encode()
    return {"done": b"data: [DONE]", "comment": b": keep-alive", "event": b"event: message"}.get(
        kind, b""
    )


@st.composite
def sse_streams(draw: st.DrawFn) -> bytes:
    lines = draw(st.lists(sse_lines(), max_size=12))
    out = b"".join(line + draw(st.sampled_from([b"\n", b"\r\n"])) for line in lines)
    return out + draw(st.sampled_from([b"", b'data: {"model":"tail"}', b"data: partial"]))


@st.composite
def stream_and_cuts(draw: st.DrawFn, streams: st.SearchStrategy[bytes]) -> tuple[bytes, list[int]]:
    data = draw(streams)
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=20)))
    return data, cuts


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(stream_and_cuts(sse_streams()))
def test_sse_split_invariance(case: tuple[bytes, list[int]]) -> None:
    data, cuts = case
    assert run(SseModelRewriter(PUBLIC), split_at(data, cuts)) == rewrite_stream(data)


@settings(max_examples=200)
@given(stream_and_cuts(st.binary(max_size=200)))
def test_sse_split_invariance_arbitrary_bytes(case: tuple[bytes, list[int]]) -> None:
    data, cuts = case
    assert run(SseModelRewriter(PUBLIC), split_at(data, cuts)) == rewrite_stream(data)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(sse_streams())
def test_sse_lines_semantics(data: bytes) -> None:
    out_lines = rewrite_stream(data).split(b"\n")
    in_lines = data.split(b"\n")
    assert len(out_lines) == len(in_lines)
    for before, after in zip(in_lines, out_lines, strict=True):
        payload = before.removeprefix(b"data:")
        try:
            parsed = json.loads(payload) if payload != before else None
        except ValueError:
            continue  # not JSON: no claim beyond split invariance
        if isinstance(parsed, dict) and "model" in parsed:
            assert_only_model_changed(payload, after.removeprefix(b"data:"))
            assert after.endswith(b"\r") == before.endswith(b"\r")
        else:
            assert after == before


def test_sse_forwards_complete_lines_immediately() -> None:
    r = SseModelRewriter(PUBLIC)
    line = b"data: " + orjson.dumps(chunk("hi"))
    assert r.feed(line[:20]) == b""
    out = r.feed(line[20:] + b"\n\ndata: [DO")
    assert out == line.replace(INTERNAL.encode(), PUBLIC.encode()) + b"\n\n"
    assert r.feed(b"NE]\n") == b"data: [DONE]\n"
    assert r.flush() == b""


def test_sse_multibyte_split() -> None:
    line = b"data: " + orjson.dumps(chunk("你好😀")) + b"\r\n\r\n"
    expected = rewrite_stream(line)
    for i in range(len(line) + 1):
        assert run(SseModelRewriter(PUBLIC), [line[:i], line[i:]]) == expected
    assert b"\xe4\xbd\xa0\xe5\xa5\xbd" in expected and INTERNAL.encode() not in expected


# --- SSE: realistic OpenAI stream ------------------------------------------------------


def test_realistic_openai_stream() -> None:
    tool_delta = {
        "index": 0,
        "id": "call_1",
        "type": "function",
        "function": {"name": "lookup", "arguments": '{"model": "evil", "q": "ü"}'},
    }
    events = [
        chunk(None) | {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]},
        chunk('Here is JSON: {"model":"evil"} and "model": "x"'),
        chunk("ünïcode — 日本語 😀 \\ \n newline"),
        chunk(None) | {"choices": [{"index": 0, "delta": {"tool_calls": [tool_delta]}}]},
        chunk(None) | {"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 12}},
    ]
    lines = [b"data: " + orjson.dumps(e) for e in events]
    stream = b"".join(line + b"\n\n" for line in lines) + b": keep-alive\n\ndata: [DONE]\n\n"
    out = run(SseModelRewriter(PUBLIC), [stream[i : i + 7] for i in range(0, len(stream), 7)])
    assert INTERNAL.encode() not in out
    out_lines = [ln for ln in out.split(b"\n") if ln]
    assert out_lines[-2:] == [b": keep-alive", b"data: [DONE]"]
    for before, after in zip(lines, out_lines, strict=False):
        assert_only_model_changed(before[6:], after[6:])
        # Fast path: only the model value's bytes differ.
        assert after == before.replace(f'"{INTERNAL}"'.encode(), f'"{PUBLIC}"'.encode())


def test_sse_passthrough_lines() -> None:
    data = (
        b"event: message\nid: 7\nretry: 10\n: keep-alive\n\ndata: not json at all\n"
        b'data: {"id":"x","choices":[]}\r\ndata: [DONE]\n'
    )
    assert rewrite_stream(data) == data


def test_sse_whitespace_after_colon_and_no_space_after_data() -> None:
    out = rewrite_stream(b'data:{"id":"a", "model" :  "int"}\r\n')
    assert out == b'data:{"id":"a", "model" :  "preview-a"}\r\n'


# --- JSON bodies -----------------------------------------------------------------------


def test_rewrite_completion_body_nested_model_in_strings_untouched() -> None:
    body = json.dumps(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": INTERNAL,
            "choices": [{"index": 0, "message": {"content": 'say {"model": "x"} \\"model\\"'}}],
            "usage": {"total_tokens": 3},
        },
        indent=2,
    ).encode()
    out = rewrite_model_json(body, PUBLIC)
    assert out == body.replace(INTERNAL.encode(), PUBLIC.encode())
    assert_only_model_changed(body, out)


@pytest.mark.parametrize(
    "body",
    [
        b'{"choices":[{"model":"nested"}],"model":"int"}',  # nested member before model
        b'{"model":"a","model":"int"}',  # duplicate key: last wins
        b'{"mod\\u0065l":"int","x":1}',  # key spelled with an escape
        b'{"id":"a\\"b","model":"int"}',  # escape in the prefix
        b'{"object":"model","model":"int"}',  # "model" as a value first
        b'{"id":"x\\"model\\":\\"y","model":"int"}',
        b'{"model":null,"x":[1,2]}',  # non-string value
        b'{"model":"in\\u0074","x":1}',  # escaped value
        b'{"a":{"model":"keep"},"model":"int","n":123456789012345678901234567890}',
    ],
)
def test_rewrite_fallback_cases(body: bytes) -> None:
    out = rewrite_model_json(body, PUBLIC)
    assert json.loads(out)["model"] == PUBLIC
    expected = json.loads(body)
    expected["model"] = PUBLIC
    assert json.loads(out) == expected
    line = b"data: " + body + b"\n"
    assert rewrite_stream(line) == b"data: " + out + b"\n"


@pytest.mark.parametrize(
    "body",
    [
        b"<html>502 Bad Gateway</html>",
        b"",
        b'{"error":{"message":"model \\"x\\" overloaded","type":"server_error"}}',
        b'[{"model":"int"}]',
        b'"model"',
        b'{"x":[1],"model":"int"',  # truncated, and the fast path cannot prove it: left alone
    ],
)
def test_rewrite_non_json_or_no_model_unchanged(body: bytes) -> None:
    assert rewrite_model_json(body, PUBLIC) is body


def test_truncated_body_with_clean_prefix_is_still_blinded() -> None:
    # Documented choice: the fast path does not validate the tail; blinding errs on rewriting.
    assert rewrite_model_json(b'{"id":"x","model":"int","ch', PUBLIC) == (
        b'{"id":"x","model":"preview-a","ch'
    )


def test_rewrite_keeps_big_ints_and_float_text() -> None:
    body = b'{"id":"x","model":"int","n":123456789012345678901234567890,"f":1.50E+3}'
    assert rewrite_model_json(body, PUBLIC) == body.replace(b'"int"', b'"preview-a"')


JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
    TRICKY_TEXT,
)
KEYS = st.one_of(st.sampled_from(["model", "id", "mod", "content"]), st.text(max_size=6))
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(KEYS.filter(lambda k: k != "model"), JSON_VALUES, max_size=5),
    st.one_of(st.none(), JSON_VALUES),
    st.integers(0, 5),
    st.booleans(),
    st.booleans(),
)
def test_rewrite_property(
    obj: dict[str, Any], model: Any, pos: int, has_model: bool, ascii_: bool
) -> None:
    items = list(obj.items())
    if has_model:
        items.insert(min(pos, len(items)), ("model", model))
    body = json.dumps(dict(items), ensure_ascii=ascii_).encode()
    out = rewrite_model_json(body, PUBLIC)
    if not has_model:
        assert out == body
        return
    expected = dict(items)
    expected["model"] = PUBLIC
    assert json.loads(out) == expected


# --- headers ---------------------------------------------------------------------------


def test_filter_response_headers() -> None:
    headers = [
        ("Content-Type", "text/event-stream"),
        ("X-RateLimit-Remaining-Tokens", "999"),
        ("retry-after", "3"),
        ("x-ratelimit-reset-requests", "1s"),
        ("Server", "uvicorn"),
        ("x-request-id", "req_1"),
        ("openai-organization", "org"),
        ("OpenAI-Model", INTERNAL),
        ("Set-Cookie", "a=b"),
        ("via", "1.1 proxy"),
        ("cf-ray", "abc"),
        ("content-length", "10"),
        ("transfer-encoding", "chunked"),
        ("openai-processing-ms", "12"),
    ]
    assert filter_response_headers(headers) == [
        ("content-type", "text/event-stream"),
        ("x-ratelimit-remaining-tokens", "999"),
        ("retry-after", "3"),
        ("x-ratelimit-reset-requests", "1s"),
    ]
    assert filter_response_headers(iter([])) == []


# --- scrubbing and error bodies --------------------------------------------------------

KEY = "sk-live-AbCdEf0123456789"
BASE = "https://GPU-Pool-7.internal.example.com:8443/v1/"
SECRETS = [INTERNAL, BASE, KEY, ""]


def test_scrub_key_url_host_and_model() -> None:
    text = (
        f"model {INTERNAL} failed at https://gpu-pool-7.internal.example.com:8443/v1 "
        f"(host GPU-POOL-7.INTERNAL.EXAMPLE.COM, netloc gpu-pool-7.internal.example.com:8443) "
        f"with key {KEY}; full {BASE}chat/completions"
    )
    out = scrub_error_text(text, SECRETS)
    for leak in ("gpu-pool", "internal.example", "8443", KEY, INTERNAL, "sk-live"):
        assert leak.lower() not in out.lower()
    assert "[redacted]chat/completions" in out
    assert out.count(REDACTED) == 6


def test_scrub_key_is_exact_and_longest_first() -> None:
    assert scrub_error_text("sk-abc sk-abcdef", ["sk-abc", "sk-abcdef"]) == (
        f"{REDACTED} {REDACTED}"
    )
    assert scrub_error_text("SK-ABC", ["sk-abc"]) == "SK-ABC"
    assert scrub_error_text("nothing here", ["", ""]) == "nothing here"
    assert scrub_error_bytes(f"k={KEY}".encode(), SECRETS) == f"k={REDACTED}".encode()


def test_blind_error_body_openai_shape() -> None:
    upstream = orjson.dumps(
        {
            "error": {
                "message": f"The model `{INTERNAL}` at {BASE} is overloaded",
                "type": "server_error",
                "code": "overloaded",
                "param": None,
                "model": INTERNAL,
            },
            "model": INTERNAL,
        }
    )
    out = json.loads(blind_error_body(upstream, 503, PUBLIC, SECRETS))
    assert out == {
        "error": {
            "message": f"The model `{REDACTED}` at {REDACTED} is overloaded",
            "type": "server_error",
            "code": "overloaded",
            "model": PUBLIC,
        },
        "model": PUBLIC,
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (f"upstream {KEY} exploded".encode(), f"upstream {REDACTED} exploded"),
        (b"<html><body>nginx/1.25 at gpu-pool-7</body></html>", "upstream error"),
        (b"", "upstream error"),
        (b"\xff\xfe broken", "\ufffd\ufffd broken"),
    ],
)
def test_blind_error_body_non_json(body: bytes, message: str) -> None:
    out = json.loads(blind_error_body(body, 502, PUBLIC, SECRETS))
    assert out == {"error": {"message": message, "type": "upstream_error", "code": 502}}


def test_blind_error_body_minimal_error_object() -> None:
    out = json.loads(blind_error_body(b'{"error":{"code":429}}', 429, PUBLIC, SECRETS))
    assert out == {"error": {"message": "upstream error", "type": "upstream_error", "code": 429}}
