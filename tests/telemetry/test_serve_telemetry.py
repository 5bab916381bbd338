"""`previewgate serve` as operators run it: JSON logs, spans exported over OTLP to a receiver,
upstreams reached through an egress proxy with credentials — and a scan of every log line
and every exported span for partner keys, the proxy password and experiments' upstreams."""

from __future__ import annotations

import base64
import json
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme

from previewgate.config import Settings
from tests.support.egress_proxy import Tinyproxy
from tests.support.experiments import (
    PREVIEW_ID,
    admin_client,
    create_preview_model,
    start_experiment,
)
from tests.support.faults import GatewayProcess, gateway_env
from tests.support.otlp_receiver import OtlpReceiver
from tests.support.seed import serve_model
from tests.support.servers import GatewayServer, MockServer, start_mock

URL = "/v1/chat/completions"
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"
PROD_KEY = "sk-prod-partner-key-e2e-40aa"
CREDENTIALS = ("gateway", "proxy-pw-serve-93be")
PROMPT = "a prompt that stays out of logs"


@pytest.fixture
def ca(tmp_path: Path) -> tuple[trustme.CA, Path]:
    authority = trustme.CA()
    path = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(path))
    return authority, path


@pytest.fixture
def tls_mocks(ca: tuple[trustme.CA, Path]) -> Iterator[list[MockServer]]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca[0].issue_cert("127.0.0.1").configure_cert(context)
    servers = [start_mock(ssl_context=context) for _ in range(3)]
    yield servers
    for server in servers:
        server.stop()


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[Tinyproxy]:
    server = Tinyproxy(tmp_path / "proxy", CREDENTIALS)
    yield server
    server.stop()


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    server = OtlpReceiver()
    yield server
    server.stop()


def requests(base_url: str) -> list[httpx.Response]:
    out = []
    with httpx.Client(base_url=base_url, timeout=30) as c:
        for model in ("demo/prod", PREVIEW_ID):
            for content in (PROMPT, "#mock:500"):  # the mock echoes the key in its errors
                for stream in (False, True):
                    out.append(
                        c.post(
                            URL,
                            headers={"traceparent": TRACEPARENT, "x-kilocode-machineid": "m-7"},
                            json={
                                "model": model,
                                "stream": stream,
                                "messages": [{"role": "user", "content": content}],
                            },
                        )
                    )
        out.append(c.post(URL, content=b"{broken", headers={"traceparent": TRACEPARENT}))
    return out


def test_serve_json_logs_otlp_spans_and_egress_leak_nothing(
    gateway: GatewayServer,
    settings: Settings,
    tmp_path: Path,
    ca: tuple[trustme.CA, Path],
    tls_mocks: list[MockServer],
    proxy: Tinyproxy,
    receiver: OtlpReceiver,
) -> None:
    serve_model(gateway, tls_mocks[2].base_url, "demo/prod", "internal-prod", api_key=PROD_KEY)
    admin = admin_client(gateway)
    create_preview_model(admin)
    exp = start_experiment(admin, tls_mocks[:2])
    env = gateway_env(
        settings,
        PREVIEWGATE_LOG_FORMAT="json",
        PREVIEWGATE_LOG_LEVEL="INFO",
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
        HTTPS_PROXY=proxy.url(CREDENTIALS),
        SSL_CERT_FILE=str(ca[1]),
    )
    child = GatewayProcess(env, tmp_path / "serve.log")
    try:
        responses = requests(child.base_url)
        child.terminate()  # shutdown flushes the last spans to the receiver
        child.wait(60)
    finally:
        child.stop()
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 4 and statuses.count(500) == 4 and statuses[-1] == 400, statuses
    served = [tls_mocks[2], exp.slot_for("machine", "m-7").mock]
    assert set(proxy.requests()) == {f"CONNECT 127.0.0.1:{m.port} HTTP/1.1" for m in served}

    # Logs: every line one JSON object; one access line per request.
    log_text = child.log()
    lines = [json.loads(line) for line in log_text.splitlines() if line.strip()]
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    assert any(line["logger"].startswith("uvicorn") for line in lines)
    access = [line for line in lines if line["logger"] == "previewgate.access"]
    assert len(access) == len(responses)
    ids = {r.headers["x-request-id"] for r in responses if "x-request-id" in r.headers}
    assert {line["request_id"] for line in access if "request_id" in line} == ids
    assert {line["route"] for line in access if "route" in line} == {"catalog", "experiment"}
    assert all(isinstance(line["latency_ms"], int) and line["status"] for line in access)
    failed = [line for line in access if line["status"] == 500]
    assert {line["error_kind"] for line in failed} == {"upstream_500"}
    traced = [line for line in access if "trace_id" in line]
    assert len(traced) == 9 and {line["trace_id"] for line in traced} == {TRACE_ID}

    # Spans, as the collector received them.
    spans = receiver.spans
    assert receiver.paths and set(receiver.paths) == {"/v1/traces"}
    assert {s.service for s in spans} == {"previewgate"}
    names = [s.name for s in spans]
    assert names.count("chat demo/prod") == 4 and names.count(f"chat {PREVIEW_ID}") == 4
    assert names.count("upstream") == 8 and names.count("chat") == 1
    assert {s.trace_id for s in spans} == {TRACE_ID}

    # The scan: nothing secret in any log line or span.
    everything = log_text + "\n".join(s.raw for s in spans)
    secrets: list[str] = [PROD_KEY, CREDENTIALS[1], PROMPT]
    secrets.append(base64.b64encode(":".join(CREDENTIALS).encode()).decode())
    for slot in exp.slots:
        secrets += [slot.api_key, slot.internal_id, slot.mock.base_url, slot.label]
        secrets.append(f"127.0.0.1:{slot.mock.port}")
    leaks = [s for s in secrets if s in everything]
    assert leaks == [], leaks


def test_json_lines_carry_request_fields_and_exceptions() -> None:
    import logging

    from previewgate.telemetry.logs import JsonFormatter

    formatter = JsonFormatter()
    record = logging.LogRecord(
        "previewgate.access", logging.INFO, __file__, 1, "a\nb %s", ("c",), None
    )
    record.__dict__.update({"request_id": "gen-1", "status": 200, "latency_ms": 5, "other": "x"})
    line = formatter.format(record)
    assert "\n" not in line
    doc: dict[str, Any] = json.loads(line)
    assert doc["message"] == "a\nb c" and doc["level"] == "INFO"
    assert doc["time"].endswith("Z")
    assert (doc["request_id"], doc["status"], doc["latency_ms"]) == ("gen-1", 200, 5)
    assert "other" not in doc  # only the known request fields
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        failing = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    assert "ValueError: boom" in json.loads(formatter.format(failing))["exception"]
