"""Spans of real requests through a real gateway, read from the SDK's in-memory exporter:
names, GenAI attributes, the client's traceparent continued, and nothing of an experiment's
upstream anywhere on an experimented request's span tree."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from previewgate.config import Settings
from tests.support.experiments import (
    PREVIEW_ID,
    LiveExperiment,
    admin_client,
    create_preview_model,
    start_experiment,
)
from tests.support.seed import serve_model
from tests.support.servers import GatewayServer, MockServer, start_mock

URL = "/v1/chat/completions"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"
PROMPT = "Tell me about lighthouses"
PROD_KEY = "sk-prod-partner-key-91c2"


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def mocks() -> Iterator[list[MockServer]]:
    servers = [start_mock(), start_mock()]
    yield servers
    for server in servers:
        server.stop()


def tree(spans: tuple[ReadableSpan, ...], trace_id: int) -> dict[str, ReadableSpan]:
    found = {s.name: s for s in spans if s.context.trace_id == trace_id}
    assert len(found) == len([s for s in spans if s.context.trace_id == trace_id])
    return found


def dump(spans: list[ReadableSpan]) -> str:
    return "\n".join(s.to_json() for s in spans)


def check_shape(spans: dict[str, ReadableSpan], model: str) -> None:
    root, upstream, first = spans[f"chat {model}"], spans["upstream"], spans["first token"]
    assert root.kind is SpanKind.SERVER and upstream.kind is SpanKind.CLIENT
    assert upstream.parent is not None and upstream.parent.span_id == root.context.span_id
    assert first.parent is not None and first.parent.span_id == upstream.context.span_id
    assert root.start_time <= upstream.start_time <= first.end_time <= upstream.end_time
    assert upstream.end_time <= root.end_time
    assert root.attributes is not None and upstream.attributes is not None
    for span in (root, upstream):
        assert span.attributes["gen_ai.operation.name"] == "chat"
        assert span.attributes["gen_ai.request.model"] == model
        assert span.attributes["gen_ai.provider.name"] == model.split("/")[0]


def test_production_request_span_tree_continues_the_clients_trace(
    settings: Settings, exporter: InMemorySpanExporter, mocks: list[MockServer]
) -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    gateway = GatewayServer(settings, provider)
    try:
        serve_model(gateway, mocks[0].base_url, "demo/prod", "internal-prod-1", api_key=PROD_KEY)
        with httpx.Client(base_url=gateway.base_url) as c:
            r = c.post(
                URL,
                headers={"traceparent": TRACEPARENT},
                json={
                    "model": "demo/prod",
                    "max_tokens": 50,
                    "temperature": 0.2,
                    "messages": [{"role": "user", "content": PROMPT}],
                },
            )
            assert r.status_code == 200
            failed = c.post(
                URL,
                json={"model": "demo/prod", "messages": [{"role": "user", "content": "#mock:500"}]},
            )
            assert failed.status_code == 500
            refused = c.post(URL, content=b"{not json")
            assert refused.status_code == 400
    finally:
        gateway.stop()
    spans = exporter.get_finished_spans()
    ours = tree(spans, int(TRACE_ID, 16))
    assert sorted(ours) == ["chat demo/prod", "first token", "upstream"]
    check_shape(ours, "demo/prod")
    root = ours["chat demo/prod"]
    assert root.parent is not None and root.parent.span_id == int(PARENT_ID, 16)
    assert root.parent.is_remote
    attrs = dict(root.attributes or {})
    usage = r.json()["usage"]
    assert attrs["gen_ai.usage.input_tokens"] == usage["prompt_tokens"]
    assert attrs["gen_ai.usage.output_tokens"] == usage["completion_tokens"]
    assert attrs["gen_ai.response.id"] == r.headers["x-request-id"] == r.json()["id"]
    assert attrs["gen_ai.request.max_tokens"] == 50
    assert attrs["gen_ai.request.temperature"] == 0.2
    assert attrs["http.response.status_code"] == 200
    assert attrs["previewgate.route"] == "catalog"
    assert "error.type" not in attrs and root.status.status_code is StatusCode.UNSET
    upstream = dict(ours["upstream"].attributes or {})
    assert upstream["server.address"] == "127.0.0.1"
    assert upstream["server.port"] == mocks[0].port
    # Content is off unless asked for; keys never.
    text = dump(list(spans))
    assert PROMPT not in text and PROD_KEY not in text

    # A failed request: its own trace (no traceparent), marked failed with its error kind.
    others = [s for s in spans if s.context.trace_id != int(TRACE_ID, 16)]
    failed_root = next(s for s in others if s.name == "chat demo/prod")
    assert failed_root.parent is None
    assert failed_root.status.status_code is StatusCode.ERROR
    assert (failed_root.attributes or {})["error.type"] == "upstream_500"
    assert (failed_root.attributes or {})["http.response.status_code"] == 500
    # A refused request: one span, the error code as its type.
    [bad] = [s for s in others if s.name == "chat"]
    assert (bad.attributes or {})["error.type"] == "invalid_json"
    assert (bad.attributes or {})["http.response.status_code"] == 400


def start(gateway: GatewayServer, mocks: list[MockServer]) -> LiveExperiment:
    admin = admin_client(gateway)
    create_preview_model(admin)
    return start_experiment(admin, mocks)


@pytest.mark.parametrize("stream", [False, True])
def test_experimented_span_tree_shows_only_the_public_id(
    settings: Settings, exporter: InMemorySpanExporter, mocks: list[MockServer], stream: bool
) -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    # Content capture on: still never for an experimented id.
    gateway = GatewayServer(settings.replace(otel_capture_message_content=True), provider)
    try:
        exp = start(gateway, mocks)
        public = PREVIEW_ID
        with httpx.Client(base_url=gateway.base_url) as c:
            for machine in ("m-1", "m-2", "m-3", "m-4"):
                for content in (PROMPT, "#mock:500"):
                    r = c.post(
                        URL,
                        headers={"traceparent": TRACEPARENT, "x-kilocode-machineid": machine},
                        json={
                            "model": public,
                            "stream": stream,
                            "messages": [{"role": "user", "content": content}],
                        },
                    )
                    assert r.status_code in (200, 500)
    finally:
        gateway.stop()
    spans = list(exporter.get_finished_spans())
    roots = [s for s in spans if s.name == f"chat {public}"]
    assert len(roots) == 8
    assert all(s.context.trace_id == int(TRACE_ID, 16) for s in spans)
    ok = [s for s in roots if (s.attributes or {})["http.response.status_code"] == 200]
    assert ok and all((s.attributes or {})["previewgate.route"] == "experiment" for s in roots)
    one = ok[0]
    family = {s.name: s for s in spans if s is one or _descends(s, one, spans)}
    check_shape(family, public)
    assert "server.address" not in (family["upstream"].attributes or {})
    # Nothing of the slots' upstreams, anywhere on any span of the trace.
    text = dump(spans)
    for slot in exp.slots:
        for secret in (slot.internal_id, slot.api_key, slot.mock.base_url, str(slot.mock.port)):
            assert secret not in text, secret
        assert slot.label not in text and slot.variant_id not in text
    assert PROMPT not in text
    assert json.loads(one.to_json())["attributes"]["gen_ai.request.model"] == public


def _descends(span: ReadableSpan, ancestor: ReadableSpan, spans: list[ReadableSpan]) -> bool:
    by_id = {s.context.span_id: s for s in spans}
    parent = span.parent
    while parent is not None:
        if parent.span_id == ancestor.context.span_id:
            return True
        found = by_id.get(parent.span_id)
        parent = found.parent if found is not None else None
    return False


def test_message_content_only_when_enabled(
    settings: Settings, exporter: InMemorySpanExporter, mocks: list[MockServer]
) -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    gateway = GatewayServer(settings.replace(otel_capture_message_content=True), provider)
    try:
        serve_model(gateway, mocks[0].base_url, "demo/prod", "internal-prod-1", api_key=PROD_KEY)
        r = httpx.post(
            f"{gateway.base_url}{URL}",
            json={"model": "demo/prod", "messages": [{"role": "user", "content": PROMPT}]},
        )
        assert r.status_code == 200
    finally:
        gateway.stop()
    [root] = [s for s in exporter.get_finished_spans() if s.name == "chat demo/prod"]
    messages = json.loads(str((root.attributes or {})["gen_ai.input.messages"]))
    assert messages == [{"role": "user", "parts": [{"type": "text", "content": PROMPT}]}]
