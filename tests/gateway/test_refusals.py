"""Bad input and refused callers get a 4xx in the OpenAI error shape, never a 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.seed import add_model, create_user, serve_model
from tests.support.servers import GatewayServer, MockServer

URL = "/v1/chat/completions"


def assert_openai_error(r: httpx.Response, status: int, code: str | None = None) -> None:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert isinstance(err["message"], str) and err["message"]
    assert isinstance(err["type"], str) and "code" in err
    if code is not None:
        assert err["code"] == code


@pytest.fixture
def client(gateway: GatewayServer, mock: MockServer) -> httpx.Client:
    serve_model(gateway, mock.base_url, "demo/prod", "internal-prod")
    return httpx.Client(base_url=gateway.base_url)


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"{not json", "invalid_json"),
        (b"", "invalid_json"),
        (b"[1, 2]", "invalid_request"),
        (b'{"messages": [{"role": "user", "content": "x"}]}', "missing_model"),
        (b'{"model": 7, "messages": [{"role": "user", "content": "x"}]}', "missing_model"),
        (b'{"model": "demo/prod"}', "missing_messages"),
        (b'{"model": "demo/prod", "messages": ["x"]}', "invalid_messages"),
        (
            b'{"model": "demo/prod", "messages": [{"role": "user"}], "stream": "yes"}',
            "invalid_request",
        ),
    ],
)
def test_malformed_bodies(client: httpx.Client, content: bytes, code: str) -> None:
    r = client.post(URL, content=content, headers={"content-type": "application/json"})
    assert_openai_error(r, 400, code)


def test_oversized_body_is_413(make_gateway: Any, settings: Any) -> None:
    gw = make_gateway(settings.replace(**{"max_body_bytes": 1024}))
    body = {"model": "demo/prod", "messages": [{"role": "user", "content": "x" * 4096}]}
    r = httpx.post(f"{gw.base_url}{URL}", json=body)
    assert_openai_error(r, 413, "payload_too_large")


def test_unknown_model_without_default_upstream_is_404(client: httpx.Client) -> None:
    r = client.post(
        URL, json={"model": "nobody/knows", "messages": [{"role": "user", "content": "x"}]}
    )
    assert_openai_error(r, 404, "model_not_found")


def test_bad_api_key_is_401(client: httpx.Client) -> None:
    body = {"model": "demo/prod", "messages": [{"role": "user", "content": "x"}]}
    r = client.post(URL, json=body, headers={"authorization": "Bearer pg-not-a-real-key"})
    assert_openai_error(r, 401, "unauthorized")
    r = client.post(URL, json=body, headers={"authorization": "Basic abc"})
    assert_openai_error(r, 401, "unauthorized")


def test_unknown_fields_are_tolerated(client: httpx.Client) -> None:
    body = {
        "model": "demo/prod",
        "messages": [{"role": "user", "content": "x"}],
        "description": "a client-side note",
        "transforms": ["middle-out"],
    }
    assert client.post(URL, json=body).status_code == 200


def test_priced_model_needs_credit(gateway: GatewayServer, mock: MockServer) -> None:
    serve_model(gateway, mock.base_url, "demo/priced", "p", pricing={"input": 2.0, "output": 8.0})
    broke = gateway.call(lambda rt: create_user(rt, "broke@example.com"))
    rich = gateway.call(lambda rt: create_user(rt, "rich@example.com", credit_usd=5))
    body = {"model": "demo/priced", "messages": [{"role": "user", "content": "x"}]}
    with httpx.Client(base_url=gateway.base_url) as c:
        assert_openai_error(c.post(URL, json=body), 401)
        assert_openai_error(
            c.post(URL, json=body, headers={"authorization": f"Bearer {broke}"}),
            402,
            "insufficient_balance",
        )
        r = c.post(URL, json=body, headers={"authorization": f"Bearer {rich}"})
    assert r.status_code == 200
    usage = r.json()["usage"]
    expected_micro = usage["prompt_tokens"] * 2 + usage["completion_tokens"] * 8
    assert usage["cost"] == pytest.approx(expected_micro / 1_000_000)


def test_auto_never_picks_a_preview_model(
    make_gateway: Any, settings: Any, mock: MockServer
) -> None:
    gw = make_gateway(settings.replace(auto_candidates=["acme/preview-x", "demo/prod"]))
    gw.call(
        lambda rt: add_model(
            rt,
            public_id="acme/preview-x",
            kind="preview",
            upstream={"internal_id": "preview-internal", "base_url": mock.base_url},
        )
    )
    serve_model(gw, mock.base_url, "demo/prod", "prod-internal")
    for _ in range(5):
        r = httpx.post(
            f"{gw.base_url}{URL}",
            json={"model": "auto", "messages": [{"role": "user", "content": "x"}]},
        )
        assert r.status_code == 200 and r.json()["model"] == "demo/prod"
    assert {req.body["model"] for req in mock.upstream.requests} == {"prod-internal"}


def test_auto_with_only_preview_candidates_is_unavailable(
    make_gateway: Any, settings: Any, mock: MockServer
) -> None:
    gw = make_gateway(settings.replace(**{"auto_candidates": ["acme/preview-x"]}))
    gw.call(
        lambda rt: add_model(
            rt,
            public_id="acme/preview-x",
            kind="preview",
            upstream={"internal_id": "preview-internal", "base_url": mock.base_url},
        )
    )
    r = httpx.post(
        f"{gw.base_url}{URL}",
        json={"model": "auto", "messages": [{"role": "user", "content": "x"}]},
    )
    assert_openai_error(r, 404, "model_unavailable")
    assert mock.upstream.requests == []


def test_x_forwarded_for_only_from_trusted_proxies(
    make_gateway: Any, settings: Any, mock: MockServer
) -> None:
    from tests.gateway.test_proxy import usage_rows

    untrusted = make_gateway(settings)
    serve_model(untrusted, mock.base_url, "demo/prod", "p")
    body = {"model": "demo/prod", "messages": [{"role": "user", "content": "x"}]}
    httpx.post(f"{untrusted.base_url}{URL}", json=body, headers={"x-forwarded-for": "203.0.113.7"})
    assert [r.client_ip for r in usage_rows(untrusted)] == ["127.0.0.1"]

    trusted = make_gateway(settings.replace(**{"trusted_proxies": ["127.0.0.0/8"]}))
    httpx.post(
        f"{trusted.base_url}{URL}",
        json=body,
        headers={"x-forwarded-for": "198.51.100.9, 203.0.113.7, 127.0.0.2"},
    )
    assert "203.0.113.7" in [r.client_ip for r in usage_rows(trusted)]


@pytest.mark.parametrize("model", ["a\u0000b", "x" * 201, "line\nbreak"])
def test_model_ids_that_cannot_be_stored_are_refused(client: httpx.Client, model: str) -> None:
    r = client.post(URL, json={"model": model, "messages": [{"role": "user", "content": "x"}]})
    assert_openai_error(r, 400, "invalid_model")
