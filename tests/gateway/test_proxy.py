"""The OpenAI-compatible proxy over real HTTP: success, failures, usage rows for each."""

from __future__ import annotations

import socket
import threading
from typing import Any

import httpx
import openai
import pytest
from sqlalchemy import select

from previewgate.usage.models import Usage
from tests.support.seed import add_model, create_user, serve_model
from tests.support.servers import GatewayServer, MockServer


def chat(model: str = "demo/prod", content: str = "Hello there", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": content}], **extra}


@pytest.fixture
def prod(gateway: GatewayServer, mock: MockServer) -> GatewayServer:
    serve_model(
        gateway, mock.base_url, "demo/prod", "internal-prod-1", api_key="sk-upstream-secret-123"
    )
    return gateway


def usage_rows(gateway: GatewayServer) -> list[Usage]:
    gateway.flush()

    async def fetch(rt: Any) -> list[Usage]:
        async with rt.sessions() as session:
            return list(await session.scalars(select(Usage).order_by(Usage.created_at)))

    return gateway.call(fetch)


def test_non_streaming_success_records_usage(prod: GatewayServer, mock: MockServer) -> None:
    r = httpx.post(
        f"{prod.base_url}/v1/chat/completions",
        json=chat(),
        headers={
            "x-kilocode-machineid": "m-1",
            "x-kilocode-taskid": "task-9",
            "user-agent": "Kilo-Code/4.1",
            "x-kilocode-feature": "chat",
        },
    )
    assert r.status_code == 200
    body = r.json()
    assert body["model"] == "demo/prod"
    assert body["choices"][0]["message"]["content"]
    assert body["usage"]["cost"] == 0
    sent = mock.upstream.requests[-1]
    assert sent.body["model"] == "internal-prod-1"
    assert sent.headers["Authorization"] == "Bearer sk-upstream-secret-123"
    [row] = usage_rows(prod)
    assert (row.status_code, row.has_error, row.streamed) == (200, False, False)
    assert row.input_tokens == body["usage"]["prompt_tokens"]
    assert row.output_tokens == body["usage"]["completion_tokens"]
    assert row.machine_id == "m-1" and row.session_id == "task-9"
    assert row.client_ip == "127.0.0.1"
    assert row.client_meta == {"user_agent": "Kilo-Code/4.1", "feature": "chat"}
    assert row.ttfb_ms is not None and row.total_ms >= row.ttfb_ms


def test_streaming_tokens_come_from_final_usage_chunk(
    prod: GatewayServer, mock: MockServer
) -> None:
    with httpx.stream("POST", f"{prod.base_url}/v1/chat/completions", json=chat(stream=True)) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        text = "".join(r.iter_text())
    # We asked upstream for usage; the client did not, so it does not see the usage chunk.
    assert mock.upstream.requests[-1].body["stream_options"] == {"include_usage": True}
    assert '"usage"' not in text
    assert "internal-prod-1" not in text
    assert text.rstrip().endswith("data: [DONE]")
    [row] = usage_rows(prod)
    assert row.streamed and row.status_code == 200
    assert row.output_tokens == len(mock.upstream.reply.split())
    assert row.input_tokens == 2 + 3  # two words + the mock's fixed overhead


def test_streaming_usage_included_when_asked(prod: GatewayServer) -> None:
    with httpx.stream(
        "POST",
        f"{prod.base_url}/api/openrouter/v1/chat/completions",
        json=chat(stream=True, usage={"include": True}),
    ) as r:
        text = "".join(r.iter_text())
    usage_lines = [ln for ln in text.splitlines() if '"usage"' in ln]
    assert len(usage_lines) == 1 and '"cost":0' in usage_lines[0].replace(" ", "")


def test_openai_sdk_round_trip(prod: GatewayServer) -> None:
    client = openai.OpenAI(base_url=f"{prod.base_url}/v1", api_key="unused-anonymous")
    # An unknown key is refused; the SDK always sends one, so use a real user's key.
    key = prod.call(lambda rt: create_user(rt, "sdk@example.com"))
    client = openai.OpenAI(base_url=f"{prod.base_url}/v1", api_key=key)
    completion = client.chat.completions.create(
        model="demo/prod", messages=[{"role": "user", "content": "Hi"}]
    )
    assert completion.model == "demo/prod"
    assert completion.choices[0].message.content
    stream = client.chat.completions.create(
        model="demo/prod", messages=[{"role": "user", "content": "Hi"}], stream=True
    )
    pieces = [c.choices[0].delta.content or "" for c in stream if c.choices]
    assert "".join(pieces) == completion.choices[0].message.content
    rows = usage_rows(prod)
    assert len(rows) == 2 and all(r.user_id is not None for r in rows)


@pytest.mark.parametrize(
    ("behaviour", "status", "kind"),
    [("500", 500, "upstream_500"), ("429", 429, "upstream_429"), ("drop", 502, "stream_cut")],
)
def test_upstream_failures_are_blinded_and_recorded(
    prod: GatewayServer, behaviour: str, status: int, kind: str
) -> None:
    r = httpx.post(f"{prod.base_url}/v1/chat/completions", json=chat(content=f"#mock:{behaviour}"))
    assert r.status_code == status
    err = r.json()["error"]
    assert set(err) >= {"message", "type", "code"}
    for secret in ("internal-prod-1", "sk-upstream-secret-123", "127.0.0.1"):
        assert secret not in r.text
        assert all(secret not in v for v in r.headers.values())
    [row] = usage_rows(prod)
    assert row.has_error and row.error_kind == kind and row.status_code == status


def test_connection_refused_is_502(gateway: GatewayServer) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    gateway.call(
        lambda rt: add_model(
            rt,
            public_id="demo/down",
            kind="production",
            upstream={"internal_id": "x", "base_url": f"http://127.0.0.1:{closed_port}/v1"},
        )
    )
    r = httpx.post(f"{gateway.base_url}/v1/chat/completions", json=chat("demo/down"))
    assert r.status_code == 502 and r.json()["error"]["code"] == "upstream_error"
    [row] = usage_rows(gateway)
    assert row.error_kind == "connect_error"


def test_timeout_is_504(make_gateway: Any, settings: Any, mock: MockServer) -> None:
    gw = make_gateway(settings.replace(**{"upstream_read_timeout_s": 0.3}))
    serve_model(gw, mock.base_url, "demo/slow", "x")
    r = httpx.post(
        f"{gw.base_url}/v1/chat/completions", json=chat("demo/slow", content="#mock:slow=3")
    )
    assert r.status_code == 504 and r.json()["error"]["code"] == "upstream_timeout"
    [row] = usage_rows(gw)
    assert row.error_kind == "timeout" and row.has_error


def test_client_disconnect_mid_stream_cancels_and_records(
    prod: GatewayServer, mock: MockServer
) -> None:
    mock.upstream.chunk_words = 1
    mock.upstream.chunk_delay_s = 0.005  # ~10 s of stream: the disconnect comes mid-way
    mock.upstream.reply = " ".join(["word"] * 2000)
    got_first = threading.Event()
    with httpx.stream(
        "POST",
        f"{prod.base_url}/v1/chat/completions",
        json=chat(stream=True, content="#mock:slow=0"),
    ) as r:
        for _ in r.iter_bytes():
            got_first.set()
            break
    assert got_first.is_set()
    [row] = usage_rows_eventually(prod)
    assert row.has_error and row.error_kind == "client_cancelled" and row.streamed


def usage_rows_eventually(gateway: GatewayServer) -> list[Usage]:
    """The disconnect is noticed asynchronously; wait for the request to finish, not a timer."""
    for _ in range(200):
        rows = usage_rows(gateway)
        if rows:
            return rows
        gateway.call(_yield_loop)
    return usage_rows(gateway)


async def _yield_loop(_: Any) -> None:
    import asyncio

    await asyncio.sleep(0.01)
