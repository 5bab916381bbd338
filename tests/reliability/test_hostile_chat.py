"""Hostile input to ``POST /v1/chat/completions``: never a 500, always the OpenAI error shape.

Hand-picked cases (non-JSON, deep nesting, huge strings, wrong types, unicode edge
cases, header injection, SQL-looking values) and hypothesis-generated bodies. After the
barrage the store is intact and a normal request still works.
"""

from __future__ import annotations

import json
import socket
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from previewgate.config import Settings
from tests.reliability.helpers import (
    PROD_ID,
    URL,
    add_production_model,
    chat,
    row_counts,
    usage_rows,
)
from tests.support.faults import metric
from tests.support.servers import GatewayServer, MockServer

DROPPED = "previewgate_writer_dropped_total"

SQL = "x'); DROP TABLE usage; --"
FUZZ = settings(
    max_examples=120,
    deadline=None,
    database=None,  # no .hypothesis folder in the work tree
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def assert_clean(r: httpx.Response, *, upstream_may_fail: bool = False) -> None:
    """No server error of the gateway's own; every refusal in the OpenAI error shape."""
    allowed = (502,) if upstream_may_fail else ()
    assert r.status_code < 500 or r.status_code in allowed, (r.status_code, r.text[:300])
    if r.status_code >= 400:
        err = r.json()["error"]
        assert {"message", "type", "code"} <= set(err), err


@pytest.fixture
def plain(make_gateway: Any, settings: Settings, mock: MockServer) -> GatewayServer:
    """No default upstream: fuzzed model ids are refused locally, never sent anywhere."""
    gw: GatewayServer = make_gateway(settings)
    add_production_model(gw, mock.base_url)
    return gw


@pytest.fixture
def hostile(make_gateway: Any, settings: Settings, mock: MockServer) -> GatewayServer:
    # Unknown model ids go to the default upstream, so odd ids reach the usage table too.
    gw: GatewayServer = make_gateway(settings.replace(default_upstream_url=mock.base_url))
    add_production_model(gw, mock.base_url)
    return gw


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def in_content(raw_content: bytes) -> bytes:
    head = b'{"model":"' + PROD_ID.encode() + b'","messages":[{"role":"user","content":'
    return head + raw_content + b"}]}"


BAD_BODIES: dict[str, bytes] = {
    "empty": b"",
    "not json": b"hello there",
    "binary": bytes(range(256)),
    "bom": b"\xef\xbb\xbf{}",
    "array": b"[]",
    "nested 100k": nested(100_000),
    "nested 100k in content": in_content(nested(100_000)),
    "lone surrogate": in_content(b'"\\ud800"'),
    "lone low surrogate in model": b'{"model":"\\udc00","messages":[{"role":"user"}]}',
    "invalid utf-8": in_content(b'"\xff\xfe"'),
    "nan": in_content(b"NaN"),
    "huge number": in_content(b"1" * 5000),
    "model int": b'{"model":1,"messages":[{"role":"user","content":"x"}]}',
    "model empty": b'{"model":"  ","messages":[{"role":"user","content":"x"}]}',
    "messages str": b'{"model":"m","messages":"x"}',
    "messages empty": b'{"model":"m","messages":[]}',
    "message int": b'{"model":"m","messages":[1]}',
    "role int": b'{"model":"m","messages":[{"role":5}]}',
    "stream str": b'{"model":"m","messages":[{"role":"user"}],"stream":"yes"}',
    "duplicate keys": b'{"model":"a","model":"b","messages":[{"role":"user"}]}',
}


def test_hand_picked_bodies(plain: GatewayServer) -> None:
    with httpx.Client(base_url=plain.base_url, timeout=30) as c:
        for name, raw in BAD_BODIES.items():
            r = c.post(URL, content=raw, headers={"content-type": "application/json"})
            assert r.status_code < 500, (name, r.status_code, r.text[:200])
            assert_clean(r)
        too_big = b'{"model":"m","messages":[{"role":"user","content":"' + b"x" * (33 << 20)
        r = c.post(URL, content=too_big + b'"}]}')
        assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
        huge = c.post(URL, json=chat(PROD_ID, "y" * (8 << 20)))
        assert huge.status_code == 200
        for text in ("\u0000nul", "\U0010ffff", "\u202eright-to-left", "e\u0301", SQL):
            assert_clean(c.post(URL, json=chat(PROD_ID, text)))


@pytest.mark.parametrize("depth", [300, 1000])
def test_nesting_the_encoder_refuses_is_a_4xx(plain: GatewayServer, depth: int) -> None:
    r = httpx.post(plain.base_url + URL, content=in_content(nested(depth)), timeout=30)
    plain.stop()  # see quiesce() in test_fuzz_openapi: no traceback logging during the assert
    assert_clean(r)


def test_odd_model_ids_are_stored_verbatim_or_refused(hostile: GatewayServer) -> None:
    """Unknown ids go to the default upstream; each leaves a row or a counted drop, never a jam.

    Ids that are not printable or longer than the usage column (200) are refused with a
    400 up front; anything the store still refused would be dropped and counted by the
    writer (see test_writer_poison.py), and the rows behind it still land.
    """
    ids = [SQL, "a/" + "b" * 180, "ünïcødé/模型", "m\u0000odel", "m" * 5000, "../../etc/passwd"]
    dropped_before = metric(hostile.base_url, DROPPED)
    with httpx.Client(base_url=hostile.base_url, timeout=30) as c:
        answers = {model: c.post(URL, json=chat(model)) for model in ids}
        for model, r in answers.items():
            # The mock upstream cannot echo every id in a header; its failure is a clean 502.
            assert r.status_code in (200, 502, 400, 404), (model, r.status_code)
            assert_clean(r, upstream_may_fail=True)
        assert c.post(URL, json=chat(PROD_ID, "after")).status_code == 200
    hostile.flush()
    routed = [m for m, r in answers.items() if r.status_code in (200, 502)]
    stored = [u.public_model_id for u in usage_rows(hostile)]
    dropped = metric(hostile.base_url, DROPPED) - dropped_before
    assert SQL in stored and PROD_ID in stored  # stored verbatim, and the writer moved on
    assert sum(m in stored for m in routed) + dropped == len(routed), (stored, dropped)
    print(f"odd model ids: {len(routed)} routed, {dropped:.0f} refused by the store and counted")


def _raw_post(port: int, header_lines: list[bytes], body: bytes) -> int:
    """Send exact header bytes (httpx refuses CR/LF and non-ASCII); return the status."""
    head = [
        b"POST " + URL.encode() + b" HTTP/1.1",
        b"host: 127.0.0.1",
        b"content-type: application/json",
        b"content-length: " + str(len(body)).encode(),
        b"connection: close",
        *header_lines,
    ]
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(b"\r\n".join(head) + b"\r\n\r\n" + body)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return int(data.split(b" ", 2)[1])


IDENTITY_VALUES = [
    b"evil\r\nx-kilocode-taskid: injected",
    b"bell\x07and\x01ctrl\x7fdel",
    b"tab\there",
    b"caf\xc3\xa9-\xe2\x98\x83",
    b"latin1-\xe9\xff",
    b"long-" + b"A" * 9000,
    SQL.encode(),
    b"bare\nlf",
    b"bare\rcr",
]


def test_identity_header_injection_is_sanitized(hostile: GatewayServer) -> None:
    body = orjson.dumps(chat(PROD_ID, "identity"))
    statuses = []
    for value in IDENTITY_VALUES:
        lines = [
            b"x-kilocode-machineid: " + value,
            b"x-kilo-session: " + value,
            b"x-kilo-request: " + value,
            b"user-agent: " + value,
            b"x-forwarded-for: " + value,
        ]
        statuses.append(_raw_post(hostile.port, lines, body))
    # The HTTP parser may refuse a malformed header block (400); it never crashes.
    assert all(s in (200, 400) for s in statuses), statuses
    assert statuses.count(200) >= 6, statuses
    hostile.flush()
    rows = usage_rows(hostile)
    assert len(rows) == statuses.count(200)
    for row in rows:
        meta = row.client_meta or {}
        for kept in (row.machine_id, row.session_id, meta.get("user_agent")):
            assert kept is None or (kept.isprintable() and len(kept) <= 200), repr(kept)
        assert row.client_ip == "127.0.0.1"  # X-Forwarded-For from an untrusted peer is ignored
    assert SQL in {row.machine_id for row in rows}  # stored verbatim, as data
    assert all(row.session_id != "injected" or row.machine_id == "evil" for row in rows)


json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
roles = st.sampled_from(["user", "system", "assistant", "tool"]) | st.text() | json_values
chat_bodies = st.fixed_dictionaries(
    {
        "model": st.sampled_from([PROD_ID, "auto", "unknown/x"]) | st.text() | json_values,
        "messages": st.lists(
            st.fixed_dictionaries({"role": roles}, optional={"content": json_values}),
            max_size=3,
        )
        | json_values,
    },
    optional={"stream": json_values, "provider": json_values, "usage": json_values},
)


def test_fuzzed_bodies_never_500(plain: GatewayServer) -> None:
    with httpx.Client(base_url=plain.base_url, timeout=30) as c:

        @FUZZ
        @given(raw=st.binary(max_size=2048))
        def raw_bytes(raw: bytes) -> None:
            assert_clean(c.post(URL, content=raw))

        @FUZZ
        @given(value=json_values)
        def any_json(value: Any) -> None:
            # stdlib json: big ints, NaN and Infinity tokens, \u escapes all reach the parser.
            assert_clean(c.post(URL, content=json.dumps(value)))

        @FUZZ
        @given(body=chat_bodies)
        def chat_shaped(body: dict[str, Any]) -> None:
            assert_clean(c.post(URL, content=json.dumps(body)))

        raw_bytes()
        any_json()
        chat_shaped()
        # After the barrage the store still takes rows and a normal request works.
        assert c.post(URL, json=chat(PROD_ID, "still fine")).status_code == 200
    plain.flush()
    assert row_counts(plain)[0] >= 1
