"""Unit tests for previewgate.gateway.json_splice: depth-1 member spans and byte splicing.

The faithful relay writes our ``id`` and ``model`` over the upstream's bytes; every other byte
(30-digit integers, escapes, key order, whitespace, unknown fields) must come out unchanged.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from previewgate.gateway.json_splice import splice, top_level_spans

NAMES = frozenset({"id", "model"})
NEW = {"id": b'"gen-ours"', "model": b'"preview-a"'}


def spans_of(doc: bytes, names: frozenset[str] = NAMES) -> list[tuple[str, bytes]]:
    """(name, value bytes) of each span, in document order."""
    found = top_level_spans(doc, 0, len(doc), names)
    return [(name, doc[a:b]) for name, a, b in sorted(found, key=lambda s: s[1])]


def replace(doc: bytes, names: frozenset[str] = NAMES) -> bytes:
    return splice(doc, top_level_spans(doc, 0, len(doc), names), lambda name, _old: NEW[name])


# --- top_level_spans -------------------------------------------------------------------


def test_simple_chunk() -> None:
    doc = b'{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"ckpt-7"}'
    assert spans_of(doc) == [("id", b'"chatcmpl-1"'), ("model", b'"ckpt-7"')]
    assert replace(doc) == (
        b'{"id":"gen-ours","object":"chat.completion.chunk","created":1,"model":"preview-a"}'
    )


def test_only_depth_one_members() -> None:
    doc = (
        b'{"choices":[{"index":0,"model":"nested","id":"call_1",'
        b'"delta":{"tool_calls":[{"id":"call_2"}]}}],"usage":{"id":1},"model":"int","id":"x"}'
    )
    assert spans_of(doc) == [("model", b'"int"'), ("id", b'"x"')]
    out = replace(doc)
    assert out == doc.replace(b'"model":"int"', b'"model":"preview-a"').replace(
        b'"id":"x"', b'"id":"gen-ours"'
    )
    assert json.loads(out)["choices"][0]["model"] == "nested"
    assert json.loads(out)["choices"][0]["delta"]["tool_calls"][0]["id"] == "call_2"


@pytest.mark.parametrize(
    "content",
    [
        '{"model": "evil"}',
        '"model":"evil","id":"x"',
        "}{][,:",
        '\\"model\\":\\"x\\"',
        "back\\slash \\\\",
        "日本語 😀 é",
        '{"a":"}',
    ],
)
def test_strings_holding_braces_quotes_and_escapes(content: str) -> None:
    obj = {"choices": [{"message": {"content": content}}], "note": content, "model": "int"}
    for ascii_ in (True, False):
        doc = json.dumps(obj, ensure_ascii=ascii_).encode()
        assert spans_of(doc) == [("model", b'"int"')]
        assert json.loads(replace(doc)) == obj | {"model": "preview-a"}


@pytest.mark.parametrize(
    "doc",
    [
        b'{"\\u006dodel":"int","x":1}',
        b'{"mod\\u0065l":"int","x":1}',
        b'{"x":{"a":"\\""},"\\u006d\\u006f\\u0064\\u0065\\u006c" : "int"}',
    ],
)
def test_escaped_key_names(doc: bytes) -> None:
    assert spans_of(doc) == [("model", b'"int"')]
    assert json.loads(replace(doc))["model"] == "preview-a"


def test_escaped_value_is_replaced_whole() -> None:
    doc = b'{"id":"a\\"b\\\\","model":"in\\u0074"}'
    assert spans_of(doc) == [("id", b'"a\\"b\\\\"'), ("model", b'"in\\u0074"')]
    assert replace(doc) == b'{"id":"gen-ours","model":"preview-a"}'


def test_duplicated_keys_are_all_replaced() -> None:
    doc = b'{"model":"a","x":[1],"model":"b","id":"1","id":{"k":"v"}}'
    assert spans_of(doc) == [
        ("model", b'"a"'),
        ("model", b'"b"'),
        ("id", b'"1"'),
        ("id", b'{"k":"v"}'),
    ]
    assert replace(doc) == (
        b'{"model":"preview-a","x":[1],"model":"preview-a","id":"gen-ours","id":"gen-ours"}'
    )


@pytest.mark.parametrize(
    ("doc", "value"),
    [
        (b'{"model" :  null  ,"x":1}', b"null"),
        (b'{ "model":\n\t123456789012345678901234567890\r\n}', b"123456789012345678901234567890"),
        (b'{"x":"\\\\","model": -1.5e+3 }', b"-1.5e+3"),
        (b'{"x":[{}],"model":true}', b"true"),
        (b'{"x":"\\"","model" : false , "y":2}', b"false"),
        (b'{"model":[1,{"a":[]},"]"]}', b'[1,{"a":[]},"]"]'),
        (b'{"model" : { "id" : "x" } , "y":2}', b'{ "id" : "x" }'),
        (b'{"a":"\\\\","model" : [ ] }', b"[ ]"),
    ],
)
def test_values_of_every_kind_with_surrounding_whitespace(doc: bytes, value: bytes) -> None:
    assert spans_of(doc, frozenset({"model"})) == [("model", value)]
    out = replace(doc, frozenset({"model"}))
    assert out == doc.replace(value, b'"preview-a"', 1)
    json.loads(out)


def test_object_as_a_value_is_one_span_and_keys_inside_are_ignored() -> None:
    doc = b'{"usage":{"model":"x","id":"y","cost":1},"id":"z"}'
    assert spans_of(doc, frozenset({"usage", "id"})) == [
        ("usage", b'{"model":"x","id":"y","cost":1}'),
        ("id", b'"z"'),
    ]


def test_model_as_a_value_is_not_a_key() -> None:
    doc = b'{"object":"model","x":["model","id"],"model":"int"}'
    assert spans_of(doc) == [("model", b'"int"')]


@pytest.mark.parametrize(
    "doc",
    [
        b"",
        b"   ",
        b'[{"model":"int"}]',
        b'"model"',
        b"null",
        b"<html>502</html>",
        b'data: {"model":"int"}',
    ],
)
def test_not_an_object(doc: bytes) -> None:
    assert top_level_spans(doc, 0, len(doc), NAMES) == []
    assert replace(doc) is doc  # nothing to splice: the very same bytes


@pytest.mark.parametrize(
    "doc", [b"{}", b"{ }", b'{"x":1}', b'{"ids":"a","models":"b","Model":"c","i d":1}']
)
def test_object_without_the_names(doc: bytes) -> None:
    assert top_level_spans(doc, 0, len(doc), NAMES) == []
    assert replace(doc) is doc


def test_range_inside_a_longer_buffer() -> None:
    line = b'data: {"id":"x","model":"int"}\r\n'
    start, end = len(b"data: "), len(line) - 2
    found = top_level_spans(line, start, end, NAMES)
    assert [(n, line[a:b]) for n, a, b in found] == [("id", b'"x"'), ("model", b'"int"')]
    out = splice(line, found, lambda name, _old: NEW[name])
    assert out == b'data: {"id":"gen-ours","model":"preview-a"}\r\n'


def test_range_with_surrounding_whitespace() -> None:
    doc = b'  \t{"model":"int"}\n '
    assert spans_of(doc) == [("model", b'"int"')]


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (b'{"id":"x","model":"int","ch', [("id", b'"x"'), ("model", b'"int"')]),
        (b'{"id":"x","choices":[{"a":1', [("id", b'"x"')]),
        (b'{"choices":[1,2],"model":"int"', [("model", b'"int"')]),
        (b'{"model": 12', [("model", b"12")]),
        (b'{"model":"in', []),
        (b'{"a":"}', []),
        (b'{"id":"a,}', []),
        (b"{", []),
    ],
)
def test_truncated_object(doc: bytes, expected: list[tuple[str, bytes]]) -> None:
    """Not a validator: the members complete before the cut are found, nothing raises, and no
    span is ever cut inside a value. (The ``closed`` flag of d4a47b4 is gone since 010fe51.)"""
    assert spans_of(doc) == expected


# The cases of the old rewrite_model_json tests (tests/gateway/test_blinding.py at 766db0f).
@pytest.mark.parametrize(
    "body",
    [
        b'{"choices":[{"model":"nested"}],"model":"int"}',  # nested member before model
        b'{"model":"a","model":"int"}',  # duplicate key
        b'{"mod\\u0065l":"int","x":1}',  # key spelled with an escape
        b'{"id":"a\\"b","model":"int"}',  # escape in the prefix
        b'{"object":"model","model":"int"}',  # "model" as a value first
        b'{"id":"x\\"model\\":\\"y","model":"int"}',
        b'{"model":null,"x":[1,2]}',  # non-string value
        b'{"model":"in\\u0074","x":1}',  # escaped value
        b'{"a":{"model":"keep"},"model":"int","n":123456789012345678901234567890}',
    ],
)
def test_old_rewrite_cases(body: bytes) -> None:
    model = frozenset({"model"})
    out = replace(body, model)
    expected = json.loads(body)
    expected["model"] = "preview-a"
    assert json.loads(out) == expected
    assert b"123456789012345678901234567890" in out or b"1234567890123" not in body


def test_splice_keeps_old_bytes_when_value_returns_none() -> None:
    doc = b'{"id":"x","model":"int"}'
    found = top_level_spans(doc, 0, len(doc), NAMES)
    seen: list[tuple[str, bytes]] = []

    def value(name: str, old: bytes) -> bytes | None:
        seen.append((name, old))
        return b'"m"' if name == "model" else None

    assert splice(doc, found, value) == b'{"id":"x","model":"m"}'
    assert seen == [("id", b'"x"'), ("model", b'"int"')]
    assert splice(doc, found, lambda _n, _o: None) is doc
    assert splice(doc, [], lambda _n, _o: b"!") is doc


def test_splice_accepts_spans_in_any_order() -> None:
    doc = b'{"id":"x","model":"int"}'
    found = top_level_spans(doc, 0, len(doc), NAMES)
    out = splice(doc, list(reversed(found)), lambda name, _old: NEW[name])
    assert out == b'{"id":"gen-ours","model":"preview-a"}'


def test_large_integers_and_float_text_survive() -> None:
    doc = b'{"id":"x","model":"int","n":123456789012345678901234567890,"f":1.50E+3,"e":"\\u00e9"}'
    assert replace(doc) == doc.replace(b'"x"', b'"gen-ours"').replace(b'"int"', b'"preview-a"')


# --- property: random documents, random formatting -------------------------------------

TRICKY = st.sampled_from(
    ['"model":"evil"', '{"id": "x"}', "\\", '\\"model\\"', "日本語 😀", "}", "]", ",", ":", '"']
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10)
    | TRICKY
)
KEYS = st.sampled_from(["id", "model", "object", "content", "mod", "ids", ""]) | st.text(max_size=5)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=8,
)
SPACE = [b"", b"", b" ", b"\n", b"\t", b"\r\n ", b"  "]


def dump_str(text: str, rng: random.Random) -> bytes:
    style = rng.randrange(3)
    if style == 0:
        return json.dumps(text, ensure_ascii=True).encode()
    if style == 1:
        return json.dumps(text, ensure_ascii=False).encode("utf-8", "surrogatepass")
    # every character escaped (surrogate pairs for astral ones)
    escaped = text.encode("utf-16-be", "surrogatepass")
    units = [escaped[i : i + 2] for i in range(0, len(escaped), 2)]
    return b'"' + b"".join(b"\\u%04x" % int.from_bytes(u, "big") for u in units) + b'"'


def dump(value: Any, rng: random.Random) -> bytes:
    """JSON text with random whitespace and string escaping (random key order via the dict)."""

    def ws() -> bytes:
        return rng.choice(SPACE)

    if isinstance(value, str):
        return dump_str(value, rng)
    if isinstance(value, dict):
        items = [
            ws() + dump_str(k, rng) + ws() + b":" + ws() + dump(v, rng) + ws()
            for k, v in value.items()
        ]
        return b"{" + b",".join(items) + (ws() if not items else b"") + b"}"
    if isinstance(value, list):
        inner = b",".join(ws() + dump(v, rng) + ws() for v in value)
        return b"[" + (inner or ws()) + b"]"
    return json.dumps(value).encode()


@st.composite
def documents(draw: st.DrawFn) -> tuple[dict[str, Any], bytes, dict[str, bytes]]:
    """A dict, its text, and the exact text written for each top-level id/model value."""
    obj = draw(st.dictionaries(KEYS, VALUES, max_size=6))
    for name in ("id", "model"):
        if draw(st.booleans()):
            obj[name] = draw(VALUES)
    items = list(obj.items())
    draw(st.randoms(use_true_random=False)).shuffle(items)
    rng = draw(st.randoms(use_true_random=False))
    written: dict[str, bytes] = {}
    parts = []
    for key, value in items:
        text = dump(value, rng)
        if key in NAMES:
            written[key] = text
        key_text = dump_str(key, rng)
        parts.append(rng.choice(SPACE) + key_text + rng.choice(SPACE) + b":")
        parts[-1] += rng.choice(SPACE) + text + rng.choice(SPACE)
    doc = rng.choice(SPACE) + b"{" + b",".join(parts) + rng.choice(SPACE) + b"}"
    return dict(items), doc + rng.choice(SPACE), written


SPLICE_PROPERTY = settings(
    max_examples=80,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
Document = tuple[dict[str, Any], bytes, dict[str, bytes]]


def check_splice(case: Document, names: frozenset[str]) -> None:
    obj, doc, written = case
    written = {name: text for name, text in written.items() if name in names}
    assert json.loads(doc) == obj  # the generator's own check
    found = sorted(top_level_spans(doc, 0, len(doc), names), key=lambda s: s[1])
    # One span per top-level wanted member, exactly the bytes written for its value.
    assert len(found) == len(written), found
    assert {name: doc[a:b] for name, a, b in found} == written
    out = splice(doc, found, lambda name, _old: NEW[name])
    assert json.loads(out) == obj | {name: json.loads(NEW[name]) for name in written}
    # Every byte outside the spans is unchanged, in place.
    at = 0
    pos = 0
    for name, a, b in found:
        assert out[pos : pos + a - at] == doc[at:a]
        pos += a - at
        assert out[pos : pos + len(NEW[name])] == NEW[name]
        pos += len(NEW[name])
        at = b
    assert out[pos:] == doc[at:]


@SPLICE_PROPERTY
@given(documents(), st.sampled_from(["id", "model"]))
def test_splice_property_one_name(case: Document, name: str) -> None:
    check_splice(case, frozenset({name}))


@SPLICE_PROPERTY
@example(({"model": [], "id": None}, b'{"model":[],"id":null}', {"model": b"[]", "id": b"null"}))
@given(documents())
def test_splice_property_id_and_model(case: Document) -> None:
    check_splice(case, NAMES)


@pytest.mark.parametrize(
    "doc",
    [
        b'{"model":[],"id":null}',
        b'{"choices":[{"index":0}],"model":"m","usage":{"total_tokens":1},"id":"x"}',
    ],
)
def test_last_member_and_walk_do_not_duplicate_spans(doc: bytes) -> None:
    found = top_level_spans(doc, 0, len(doc), NAMES)
    assert len(found) == len({span[1] for span in found}) == 2
    json.loads(replace(doc))
