"""Prompt capture tests: split rules, canonical bytes, byte-limit truncation properties."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from previewgate.evidence.capture import (
    DEFAULT_LIMIT_BYTES,
    canonical_json,
    capture_prompt,
    message_text_slot,
)

KIB = 1024
TRICKY = [
    "a",
    "é",
    "中",
    "😀",
    "\u200d",
    "\U0001f469",
    '"',
    "\\",
    "\n",
    "\x00",
    "\x1f",
    "\x7f",
    "\u2028",
    "\x01",
]
chars = st.one_of(st.characters(), st.sampled_from(TRICKY))
# Hypothesis never generates lone surrogates, but JSON can carry them ("\ud800"): map one in.
texts = st.text(alphabet=chars, max_size=400).map(lambda s: s.replace("\x01", "\ud800"))
big_texts = st.builds(lambda t, n: (t or "x") * n, texts, st.integers(1, 300))
parts = st.lists(
    st.one_of(
        st.fixed_dictionaries({"type": st.just("text"), "text": big_texts}),
        st.fixed_dictionaries(
            {"type": st.just("image_url"), "image_url": st.fixed_dictionaries({"url": texts})}
        ),
    ),
    max_size=3,
)
messages = st.fixed_dictionaries(
    {
        "role": st.sampled_from(["system", "developer", "user", "assistant", "tool"]),
        "content": st.one_of(st.none(), big_texts, parts),
    },
    optional={"name": texts, "tool_call_id": texts},
)
# Bodies are parsed JSON, so normalise through JSON (adjacent lone surrogates pair up).
bodies = st.fixed_dictionaries(
    {"model": texts, "messages": st.lists(messages, max_size=6)},
    optional={
        "temperature": st.floats(0, 2),
        "stream": st.booleans(),
        "max_tokens": st.integers(1, 2**70),
        "tools": st.lists(st.fixed_dictionaries({"description": big_texts}), max_size=2),
    },
).map(lambda body: json.loads(json.dumps(body)))
limits = st.one_of(st.integers(150, 3000), st.sampled_from([KIB, 4 * KIB, 64, 2]))


def _split(body: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    msgs = body["messages"]
    if msgs and msgs[0]["role"] == "system":
        return msgs[0], {**body, "messages": msgs[1:]}
    return None, body


def _is_cut_of(out: Any, orig: Any) -> bool:
    """Same structure, every string a (possibly empty) prefix of the original one."""
    if isinstance(orig, dict):
        return (
            isinstance(out, dict)
            and out.keys() == orig.keys()
            and all(_is_cut_of(out[k], orig[k]) for k in orig)
        )
    if isinstance(orig, list):
        return (
            isinstance(out, list)
            and len(out) == len(orig)
            and all(_is_cut_of(a, b) for a, b in zip(out, orig, strict=True))
        )
    if isinstance(orig, str):
        return isinstance(out, str) and orig.startswith(out)
    return bool(out == orig)


def _text_size(message: Any) -> int:
    return sum(len(canonical_json(c[k])) - 2 for c, k in message_text_slot(message))


def _check_half(data: bytes, orig: Any, limit: int) -> Any:
    assert len(data) <= limit
    doc = json.loads(data.decode("utf-8"))  # strict decode: UTF-8 never broken
    assert doc == {} or _is_cut_of(doc, orig)
    return doc


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies, limit=limits)
def test_capture_properties(body: dict[str, Any], limit: int) -> None:
    snapshot = copy.deepcopy(body)
    result = capture_prompt(body, limit)
    assert body == snapshot  # input untouched
    assert capture_prompt(copy.deepcopy(body), limit) == result  # deterministic
    system, rest = _split(body)
    assert (result.system is None) == (system is None)
    rest_doc = _check_half(result.rest, rest, limit)
    if result.system is not None:
        _check_half(result.system, system, limit)
    if not result.was_truncated:  # untruncated halves round-trip exactly
        assert rest_doc == rest
        assert result.system is None or json.loads(result.system) == system
    changed = result.rest != canonical_json(rest) or (
        system is not None and result.system != canonical_json(system)
    )
    assert changed == result.was_truncated


@settings(max_examples=200, deadline=None)
@given(body=bodies, limit=st.sampled_from([KIB, 4 * KIB]))
def test_longest_messages_are_cut_first(body: dict[str, Any], limit: int) -> None:
    _, rest = _split(body)
    out = json.loads(capture_prompt(body, limit).rest)
    if out == {} or [m.get("name") for m in out["messages"]] != [
        m.get("name") for m in rest["messages"]
    ]:
        return  # the fallback over all strings kicked in; fairness is about message texts
    sizes = [_text_size(m) for m in out["messages"]]
    for i, (new, old) in enumerate(zip(out["messages"], rest["messages"], strict=True)):
        if new != old:  # message i was cut: nobody else may be left clearly longer
            for size in sizes:
                assert size <= sizes[i] + 5, (i, sizes)


def test_split_rules() -> None:
    sys_msg = {"role": "system", "content": "be nice"}
    user = {"role": "user", "content": "hi"}
    body = {"model": "m", "messages": [sys_msg, user], "stream": True}
    result = capture_prompt(body)
    assert result.system == b'{"content":"be nice","role":"system"}'
    assert result.rest == b'{"messages":[{"content":"hi","role":"user"}],"model":"m","stream":true}'
    assert not result.was_truncated
    # Only a leading role=="system" message is split off.
    for msgs in ([user, sys_msg], [{"role": "developer", "content": "x"}, user], []):
        result = capture_prompt({"messages": msgs})
        assert result.system is None
        assert json.loads(result.rest) == {"messages": msgs}
    assert capture_prompt({"model": "m"}).rest == b'{"model":"m"}'
    assert capture_prompt({"messages": "junk"}).rest == b'{"messages":"junk"}'


def test_identical_system_prompts_give_identical_bytes() -> None:
    a = {"messages": [{"content": "S", "role": "system"}, {"role": "user", "content": "1"}]}
    b = {"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "2"}]}
    assert capture_prompt(a).system == capture_prompt(b).system


def test_multibyte_cut_on_code_point_boundary() -> None:
    for char in ("😀", "中", "é"):
        body = {"messages": [{"role": "system", "content": char * 1000}]}
        result = capture_prompt(body, KIB)
        assert result.was_truncated and result.system is not None
        content = json.loads(result.system.decode("utf-8"))["content"]
        assert set(content) == {char}
        width = len(char.encode())
        assert KIB - width < len(result.system) <= KIB  # as long as possible, never over


def test_text_parts_cut_in_order() -> None:
    msg = {
        "role": "user",
        "content": [
            {"type": "text", "text": "A" * 600},
            {"type": "image_url", "image_url": {"url": "http://x/img.png"}},
            {"type": "text", "text": "B" * 600},
        ],
    }
    out = json.loads(capture_prompt({"messages": [msg]}, KIB).rest)
    kept = out["messages"][0]["content"]
    assert kept[0]["text"] == "A" * 600
    assert kept[1] == msg["content"][1]
    assert 0 < len(kept[2]["text"]) < 600 and set(kept[2]["text"]) == {"B"}


def test_non_message_fields_over_limit() -> None:
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "hello"}],
        "tools": [{"description": "D" * 5000}],
    }
    result = capture_prompt(body, KIB)
    out = json.loads(result.rest)
    assert result.was_truncated and len(result.rest) <= KIB
    assert out["messages"][0]["content"] == ""  # message texts go first
    assert out["model"] == "m"  # short strings survive, the longest is cut
    assert 0 < len(out["tools"][0]["description"]) < 5000
    # Structure alone too big: last resort is an empty object.
    huge = {"messages": [{"role": "user", "content": None}] * 200}
    assert capture_prompt(huge, 256).rest == b"{}"
    with pytest.raises(ValueError):
        capture_prompt(body, 1)


def test_real_limit_over_4_mib() -> None:
    system = "系统提示 😀 system prompt " * 250_000  # ~5.5 MB of UTF-8
    msgs = [{"role": "user", "content": "x" * 3_000_000}, {"role": "assistant", "content": "ok"}]
    msgs.append({"role": "user", "content": "é" * 1_500_000})
    body = {"model": "m", "messages": [{"role": "system", "content": system}, *msgs]}
    start = time.monotonic()
    result = capture_prompt(body)
    elapsed = time.monotonic() - start
    assert result.was_truncated and result.system is not None
    for half in (result.system, result.rest):
        assert DEFAULT_LIMIT_BYTES - 16 < len(half) <= DEFAULT_LIMIT_BYTES
        half.decode("utf-8")
    out = json.loads(result.rest)["messages"]
    assert out[1]["content"] == "ok"  # short message untouched
    assert (
        json.loads(result.system)["content"] == system[: len(json.loads(result.system)["content"])]
    )
    assert elapsed < 10
