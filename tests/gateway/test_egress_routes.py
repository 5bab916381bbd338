"""Production and experimented requests through a real egress proxy (tinyproxy), end to end:
answers, usage rows, and a clear 502 with its own error kind when the proxy is down,
refuses, or is not configured."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme

from previewgate.config import Settings
from tests.reliability.helpers import usage_rows
from tests.support.egress_proxy import Tinyproxy, closed_port
from tests.support.experiments import (
    PREVIEW_ID,
    admin_client,
    create_preview_model,
    start_experiment,
)
from tests.support.seed import serve_model
from tests.support.servers import GatewayServer, MockServer, start_mock

URL = "/v1/chat/completions"
CREDENTIALS = ("gateway", "proxy-pw-e2e-5d81")


@pytest.fixture
def trusted_ca(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> trustme.CA:
    """A test CA the gateway trusts as an operator would make it: SSL_CERT_FILE."""
    ca = trustme.CA()
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    monkeypatch.setenv("SSL_CERT_FILE", str(path))
    return ca


@pytest.fixture
def tls_mocks(trusted_ca: trustme.CA) -> Iterator[list[MockServer]]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trusted_ca.issue_cert("127.0.0.1").configure_cert(context)
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
def open_proxy(tmp_path: Path) -> Iterator[Tinyproxy]:
    """A second proxy, asking for credentials the gateway is not given (it refuses)."""
    server = Tinyproxy(tmp_path / "strict", ("someone", "else"))
    yield server
    server.stop()


def post(gateway: GatewayServer, model: str, machine: str = "m-1", **extra: Any) -> httpx.Response:
    return httpx.post(
        f"{gateway.base_url}{URL}",
        headers={"x-kilocode-machineid": machine},
        json={"model": model, "messages": [{"role": "user", "content": "Hi"}], **extra},
        timeout=30,
    )


def test_requests_go_through_the_proxy(
    make_gateway: Any, settings: Settings, proxy: Tinyproxy, tls_mocks: list[MockServer]
) -> None:
    gateway: GatewayServer = make_gateway(
        settings.replace(
            https_proxy=proxy.url(CREDENTIALS), egress_proxies=f"corp={proxy.url(CREDENTIALS)}"
        )
    )
    serve_model(gateway, tls_mocks[2].base_url, "demo/prod", "internal-prod", api_key="sk-p-1")
    admin = admin_client(gateway)
    create_preview_model(admin)
    # The experiment's slots pick the named proxy in their upstream JSON.
    exp = start_experiment(admin, tls_mocks[:2], proxy="corp")
    for model in ("demo/prod", PREVIEW_ID):
        for stream in (False, True):
            r = post(gateway, model, stream=stream)
            assert r.status_code == 200, r.text
            assert model in r.text
    gateway.flush()
    assert {(row.status_code, row.error_kind) for row in usage_rows(gateway)} == {(200, None)}
    tunnels = set(proxy.requests())
    assert f"CONNECT 127.0.0.1:{tls_mocks[2].port} HTTP/1.1" in tunnels
    slot = exp.slot_for("machine", "m-1")
    assert f"CONNECT 127.0.0.1:{slot.mock.port} HTTP/1.1" in tunnels


def test_proxy_failures_are_clear_502s_with_their_error_kind(
    make_gateway: Any,
    settings: Settings,
    proxy: Tinyproxy,
    open_proxy: Tinyproxy,
    tls_mocks: list[MockServer],
) -> None:
    down = f"http://127.0.0.1:{closed_port()}"
    gateway: GatewayServer = make_gateway(
        settings.replace(
            https_proxy=down,  # production goes through the environment's proxy: down
            egress_proxies=f"strict={open_proxy.url(CREDENTIALS)}",
        )
    )
    serve_model(gateway, tls_mocks[2].base_url, "demo/prod", "internal-prod", api_key="sk-p-1")
    serve_model(gateway, tls_mocks[2].base_url, "demo/nowhere", "internal-2", proxy="nowhere")
    admin = admin_client(gateway)
    create_preview_model(admin)
    start_experiment(admin, tls_mocks[:2], proxy="strict")  # a proxy that refuses
    cases = {
        "demo/prod": ("proxy_unreachable", "cannot reach its egress proxy"),
        PREVIEW_ID: ("proxy_refused", "egress proxy refused"),
        "demo/nowhere": ("proxy_unknown", "is not configured"),
    }
    for model, (_, message) in cases.items():
        for stream in (False, True):
            r = post(gateway, model, stream=stream)
            assert r.status_code == 502, r.text
            assert r.json()["error"]["code"] == "upstream_error"
            assert message in r.json()["error"]["message"]
            assert "127.0.0.1" not in r.text and CREDENTIALS[1] not in r.text
    gateway.flush()
    kinds = {(row.public_model_id, row.status_code, row.error_kind) for row in usage_rows(gateway)}
    assert kinds == {(model, 502, kind) for model, (kind, _) in cases.items()}
    assert all(m.upstream.requests == [] for m in tls_mocks)
    assert proxy.requests() == []  # only the named one was asked, and it refused
    assert len(open_proxy.requests()) == 2
