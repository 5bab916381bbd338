"""Faithful relay (issue 11): production and default-upstream answers reach the client byte for
byte, except the values of the top-level ``model`` (catalog routes: the public id) and ``id``
(the gateway's ``gen-...`` id, the same in every event of a stream).

The upstream bytes are built here from members serialised by hand (whitespace, escapes, huge
integers, odd number forms, unknown and nested ``model``/``id`` members, SSE comments and
fields, CR/LF/CRLF line ends, arbitrary write boundaries), so the exact bytes the client must
get are known; ``usage`` is left out (the gateway adds ``usage.cost``) and tested apart.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from previewgate.config import Settings
from tests.support.leaky_answers import Reply, escape_u
from tests.support.leaky_upstream import LeakyUpstream, split_body
from tests.support.seed import serve_model
from tests.support.servers import GatewayServer

URL = "/v1/chat/completions"
PROD, PROD_INTERNAL = "demo/prod", "internal-prod-xq"
DEFAULT = "vendor/default-model"  # not in the catalog: the default upstream serves it
GEN_ID = r"gen-[A-Za-z0-9_.\-]+"
BIG = "123456789012345678901234567890"
NUMBERS = [
    BIG,
    "-" + BIG,
    "0",
    "-0",
    "1E+2",
    "1.5e-7",
    "-0.0",
    "3.14159265358979323846264338327950",
]
RESERVED = {"id", "model", "usage", "error"}


@dataclass
class Rig:
    gateway: GatewayServer
    upstream: LeakyUpstream
    client: httpx.Client

    def send(self, model: str, reply: Reply, *, stream: bool) -> httpx.Response:
        name = uuid.uuid4().hex
        self.upstream.script(name, reply)
        body = {
            "model": model,
            "stream": stream,
            "messages": [{"role": "user", "content": f"#script:{name}"}],
        }
        return self.client.post(URL, json=body)


@pytest.fixture
def rig(make_gateway, settings: Settings) -> Iterator[Rig]:  # type: ignore[no-untyped-def]
    upstream = LeakyUpstream(piece_pause_s=0.001).start()
    try:
        gateway = make_gateway(settings.replace(default_upstream_url=upstream.base_url))
        serve_model(gateway, upstream.base_url, PROD, PROD_INTERNAL)
        with httpx.Client(base_url=gateway.base_url, timeout=30) as client:
            yield Rig(gateway, upstream, client)
    finally:
        upstream.stop()


# -- JSON text, token by token ------------------------------------------------------------------


def _string(draw: st.DrawFn, text: str) -> str:
    style = draw(st.sampled_from(["utf8", "ascii", "escaped"]))
    if style == "escaped":
        return f'"{escape_u(text)}"'
    return json.dumps(text, ensure_ascii=style == "ascii")


@st.composite
def strings(draw: st.DrawFn, text: st.SearchStrategy[str] | None = None) -> str:
    return _string(draw, draw(text if text is not None else st.text(max_size=12)))


def _ws(draw: st.DrawFn, sse: bool) -> str:
    return draw(st.sampled_from(["", " ", "\t", "  "] if sse else ["", " ", "\n", "\t", "\r\n  "]))


@st.composite
def values(draw: st.DrawFn, sse: bool, depth: int = 0) -> str:
    kinds = ["string", "number", "literal"] + (["array", "object"] if depth < 3 else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "string":
        return draw(strings())
    if kind == "number":
        return draw(st.one_of(st.sampled_from(NUMBERS), st.integers(-(10**40), 10**40).map(str)))
    if kind == "literal":
        return draw(st.sampled_from(["true", "false", "null"]))
    if kind == "array":
        items = draw(st.lists(values(sse, depth + 1), max_size=3))
        sep = "," + _ws(draw, sse)
        return "[" + _ws(draw, sse) + sep.join(items) + _ws(draw, sse) + "]"
    keys = draw(
        st.lists(
            st.sampled_from(["model", "id", "x", "é"]) | st.text(max_size=5),
            max_size=3,
            unique=True,
        )
    )
    members = [
        draw(strings(st.just(k)))
        + _ws(draw, sse)
        + ":"
        + _ws(draw, sse)
        + draw(values(sse, depth + 1))
        for k in keys
    ]
    return "{" + _ws(draw, sse) + ("," + _ws(draw, sse)).join(members) + _ws(draw, sse) + "}"


@dataclass
class Doc:
    """One top-level object as text, with the ``id`` and ``model`` values cut out."""

    parts: list[str]  # text, id value, text, model value, text (or model first)
    id_index: int
    model_index: int

    def upstream(self) -> str:
        return "".join(self.parts)

    def pattern(self, new_model: str | None, id_group: str) -> str:
        out = []
        for n, part in enumerate(self.parts):
            if n == self.id_index:
                out.append(id_group)
            elif n == self.model_index and new_model is not None:
                out.append(re.escape(json.dumps(new_model)))
            else:
                out.append(re.escape(part))
        return "".join(out)


@st.composite
def docs(draw: st.DrawFn, model_value: str, sse: bool = False, line_break: str = "") -> Doc:
    """``line_break`` (e.g. ``"\\ndata: "``) may replace the whitespace after a comma: the same
    document as a multi-line SSE data field."""
    keys = draw(
        st.lists(st.text(max_size=6).filter(lambda k: k not in RESERVED), max_size=5, unique=True)
    )
    members: list[list[str]] = [
        [draw(strings(st.just(k))) + _ws(draw, sse) + ":" + _ws(draw, sse) + draw(values(sse))]
        for k in keys
    ]
    for name, value in (
        ("id", draw(strings(st.text(min_size=1, max_size=20)))),
        ("model", draw(strings(st.just(model_value)))),
    ):
        key = json.dumps(name) + _ws(draw, sse) + ":" + _ws(draw, sse)
        members.insert(draw(st.integers(0, len(members))), [key, value, name])
    parts: list[str] = ["{" + _ws(draw, sse)]
    id_index = model_index = -1
    for n, member in enumerate(members):
        if n:
            gap = line_break if line_break and draw(st.booleans()) else _ws(draw, sse)
            parts[-1] += "," + gap
        if len(member) == 3:
            parts[-1] += member[0]
            parts.append(member[1])
            if member[2] == "id":
                id_index = len(parts) - 1
            else:
                model_index = len(parts) - 1
            parts.append("")
        else:
            parts[-1] += member[0]
    parts[-1] += _ws(draw, sse) + "}"
    return Doc(parts, id_index, model_index)


def _routes() -> st.SearchStrategy[tuple[str, str, str | None]]:
    """(client model, model value the upstream answers with, expected model value or None)."""
    return st.sampled_from([(PROD, PROD_INTERNAL, PROD), (DEFAULT, DEFAULT + "-2024", None)])


def _cuts(body: bytes, cuts: list[int]) -> list[bytes]:
    return split_body(body, ",".join(map(str, cuts)))


SETTINGS = settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@SETTINGS
@given(data=st.data(), route=_routes(), cuts=st.lists(st.integers(1, 4000), max_size=6))
def test_json_answers_are_byte_faithful(
    rig: Rig, data: st.DataObject, route: tuple[str, str, str | None], cuts: list[int]
) -> None:
    model, answered, expected_model = route
    doc = data.draw(docs(answered))
    raw = doc.upstream().encode()
    reply = Reply(headers=[("content-type", "application/json")], pieces=_cuts(raw, cuts))
    r = rig.send(model, reply, stream=False)
    assert r.status_code == 200, r.text
    pattern = doc.pattern(expected_model, f'"{GEN_ID}"')
    assert re.fullmatch(pattern.encode(), r.content, re.S), (raw, r.content)


@st.composite
def sse_streams(draw: st.DrawFn, answered: str) -> tuple[list[tuple[str, Doc | None]], str]:
    """[(literal lines text before the data, the data document)], eol."""
    eol = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    events: list[tuple[str, Doc | None]] = []
    for _ in range(draw(st.integers(1, 4))):
        extras = draw(
            st.lists(
                st.sampled_from(
                    [
                        ": keep-alive",
                        ":",
                        "event: message",
                        "id: 7",
                        "retry: 100",
                        ": OPENROUTER PROCESSING",
                    ]
                ),
                max_size=3,
            )
        )
        prefix = draw(st.sampled_from(["data: ", "data:"]))
        doc = draw(docs(answered, sse=True, line_break=eol + "data: "))
        events.append(("".join(line + eol for line in extras) + prefix, doc))
    return events, eol


@SETTINGS
@given(data=st.data(), route=_routes(), cuts=st.lists(st.integers(1, 6000), max_size=8))
def test_sse_answers_are_byte_faithful(
    rig: Rig, data: st.DataObject, route: tuple[str, str, str | None], cuts: list[int]
) -> None:
    model, answered, expected_model = route
    events, eol = data.draw(sse_streams(answered))
    upstream, pattern = "", ""
    for n, (head, doc) in enumerate(events):
        assert doc is not None
        upstream += head + doc.upstream() + eol + eol
        group = f'"(?P<gid>{GEN_ID})"' if n == 0 else '"(?P=gid)"'
        pattern += re.escape(head) + doc.pattern(expected_model, group) + re.escape(eol + eol)
    upstream += f": done{eol}data: [DONE]{eol}{eol}"
    pattern += re.escape(f": done{eol}data: [DONE]{eol}{eol}")
    raw = upstream.encode()
    reply = Reply(
        headers=[("content-type", "text/event-stream")], pieces=_cuts(raw, cuts), framing="chunked"
    )
    r = rig.send(model, reply, stream=True)
    assert r.status_code == 200, r.text
    assert re.fullmatch(pattern.encode(), r.content, re.S), (raw, r.content)


def test_usage_gets_the_gateways_cost_and_nothing_else_changes(rig: Rig) -> None:
    head = f'{{"id":"chatcmpl-1", "big": {BIG},"model" :"{PROD_INTERNAL}","choices":[]'
    usage = '"usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}'
    body = f"{head}, {usage}}}".encode()
    r = rig.send(
        PROD, Reply(headers=[("content-type", "application/json")], pieces=[body]), stream=False
    )
    assert r.status_code == 200, r.text
    assert f'"big": {BIG},"model" :"{PROD}"'.encode() in r.content  # untouched around usage
    got = json.loads(r.content)
    assert isinstance(got["usage"].pop("cost"), int | float)
    assert got["usage"] == {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    assert re.fullmatch(GEN_ID, got["id"]) and got["model"] == PROD and got["big"] == int(BIG)

    events = [
        f"data: {head}}}",
        f"data: {head.replace('[]', '[{}]')}}}",
        f"data: {head}, {usage}}}",
        "data: [DONE]",
    ]
    stream = "".join(e + "\n\n" for e in events).encode()
    reply = Reply(
        headers=[("content-type", "text/event-stream")], pieces=[stream], framing="chunked"
    )
    name = uuid.uuid4().hex
    rig.upstream.script(name, reply)
    request = {
        "model": PROD,
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": f"#script:{name}"}],
    }
    r = rig.client.post(URL, json=request)
    assert r.status_code == 200, r.text
    lines = [line for line in r.content.split(b"\n") if line.startswith(b"data: {")]
    assert len(lines) == 3 and all(
        f'"big": {BIG},"model" :"{PROD}"'.encode() in line for line in lines
    )
    last = json.loads(lines[-1][6:])
    assert isinstance(last["usage"].pop("cost"), int | float)
    assert last["usage"] == {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    assert len({json.loads(line[6:])["id"] for line in lines}) == 1


def test_scripted_upstream_sends_exactly_the_scripted_bytes() -> None:
    """The harness: whatever the cuts and framing, the bytes on the wire are the script's."""
    upstream = LeakyUpstream().start()
    try:
        body = b'data: {"model":"x",\r\ndata: "id":"1"}\r\n\r\n: c\rdata: [DONE]\n\n'
        client = httpx.Client(timeout=10)
        for framing in ("chunked", "length", "close"):
            for cut in range(1, len(body), 2):
                name = uuid.uuid4().hex
                pieces = split_body(body, f"{cut},{cut + 3}")
                upstream.script(name, Reply(pieces=pieces, framing=framing))
                request = {
                    "model": "m",
                    "messages": [{"role": "user", "content": f"#script:{name}"}],
                }
                r = client.post(upstream.base_url + URL, json=request)
                assert r.content == body, (framing, cut)
        client.close()
    finally:
        upstream.stop()
