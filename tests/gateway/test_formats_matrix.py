"""Client API x upstream API format, through the official SDKs (docs/formats.md).

Three production models on one fake upstream that speaks each format by hand
(demo/mock_formats.py): every client format (chat and responses with ``openai``, messages
with ``anthropic``) has a text turn and a tool round trip with each, streamed and not.
Combinations a format cannot carry answer 400 ``unsupported_for_this_model`` and never reach
the upstream.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.support.experiments import admin_client
from tests.support.formats_sdk import CLIENTS, conversation, turn_problems
from tests.support.seed import create_user
from tests.support.servers import GatewayServer, MockServer

UPSTREAM_FORMATS = ("openai-chat", "openai-responses", "anthropic-messages")
PATHS = {
    "openai-chat": "/v1/chat/completions",
    "openai-responses": "/v1/responses",
    "anthropic-messages": "/v1/messages",
}
CLIENT_PATHS = {
    "chat": "/v1/chat/completions",
    "responses": "/v1/responses",
    "messages": "/v1/messages",
}


def model_id(api_format: str) -> str:
    return f"acme/served-{api_format}"


def partner_key(api_format: str) -> str:
    return f"sk-upstream-{api_format}-key"


@pytest.fixture
def key(backend: str, gateway: GatewayServer, mock: MockServer) -> str:
    admin = admin_client(gateway)
    for api_format in UPSTREAM_FORMATS:
        r = admin.post(
            "/admin/api/models",
            json={
                "public_id": model_id(api_format),
                "kind": "production",
                "upstream": {
                    "internal_id": f"internal-{api_format}",
                    "base_url": mock.base_url,
                    "api_format": api_format,
                },
                "api_key": partner_key(api_format),
                "pricing": {"input": 1.0, "output": 2.0},
            },
        )
        assert r.status_code == 201, r.text
    return gateway.call(lambda rt: create_user(rt, "matrix@example.com", credit_usd=10))  # type: ignore[no-any-return]


def _upstream_problems(api_format: str, requests: list[Any]) -> list[str]:
    problems = []
    for seen in requests:
        headers = {k.lower(): v for k, v in seen.headers.items()}
        if seen.path != PATHS[api_format]:
            problems.append(f"upstream path {seen.path}")
        if seen.body.get("model") != f"internal-{api_format}":
            problems.append(f"upstream model {seen.body.get('model')!r}")
        if api_format == "anthropic-messages":
            auth_ok = headers.get("x-api-key") == partner_key(api_format)
            auth_ok = auth_ok and headers.get("anthropic-version") == "2023-06-01"
        else:
            auth_ok = headers.get("authorization") == f"Bearer {partner_key(api_format)}"
        if not auth_ok:
            problems.append(f"upstream auth headers {sorted(headers)}")
    return problems


@pytest.mark.parametrize("client", CLIENTS)
def test_each_client_api_with_each_upstream_format(
    client: str, gateway: GatewayServer, mock: MockServer, key: str
) -> None:
    problems: list[str] = []
    for api_format in UPSTREAM_FORMATS:
        for stream in (False, True):
            before = len(mock.upstream.requests)
            model = model_id(api_format)
            try:
                turns = conversation(gateway, client, key, model, stream)
            except Exception as exc:  # one broken cell must not hide the others
                problems.append(f"{api_format} stream={stream}: {type(exc).__name__}: {exc}")
                continue
            found = turn_problems(client, model, turns)
            found += _upstream_problems(api_format, mock.upstream.requests[before:])
            problems += [f"{api_format} stream={stream}: {p}" for p in found]
    assert not problems, "\n".join(problems)
    gateway.flush()

    async def rows(rt: Any) -> list[Any]:
        query = "select request_kind, status_code, input_tokens, cost_microusd from usage"
        async with rt.engine.connect() as conn:
            return list((await conn.execute(text(query))).all())

    stored = gateway.call(rows)
    assert len(stored) == 3 * 2 * 3
    assert {row[0] for row in stored} == {client}
    assert all(row[1] == 200 and row[2] > 0 and row[3] > 0 for row in stored), stored


# (client, upstream format, request fields added, what is refused)
REFUSED: list[tuple[str, str, dict[str, Any]]] = [
    ("messages", "openai-chat", {"top_k": 5}),
    ("messages", "openai-responses", {"stop_sequences": ["END"]}),
    ("messages", "openai-chat", {"tools": [{"type": "web_search_20250305", "name": "web"}]}),
    ("chat", "anthropic-messages", {"n": 2}),
    ("chat", "anthropic-messages", {"logprobs": True}),
    ("chat", "openai-responses", {"stop": ["END"]}),
    ("chat", "anthropic-messages", {"response_format": {"type": "json_object"}}),
    ("responses", "openai-chat", {"previous_response_id": "resp_1"}),
    ("responses", "anthropic-messages", {"tools": [{"type": "web_search"}]}),
    ("responses", "anthropic-messages", {"text": {"format": {"type": "json_object"}}}),
]


def _body(client: str, model: str) -> dict[str, Any]:
    if client == "chat":
        return {"model": model, "messages": [{"role": "user", "content": "Hi"}]}
    if client == "responses":
        return {"model": model, "input": "Hi"}
    return {"model": model, "max_tokens": 16, "messages": [{"role": "user", "content": "Hi"}]}


def _post(gateway: GatewayServer, client: str, body: dict[str, Any], key: str) -> httpx.Response:
    headers = {"authorization": f"Bearer {key}"}
    if client == "messages":
        headers = {"x-api-key": key, "anthropic-version": "2023-06-01"}
    return httpx.post(f"{gateway.base_url}{CLIENT_PATHS[client]}", json=body, headers=headers)


def test_what_a_format_cannot_carry_is_refused(
    gateway: GatewayServer, mock: MockServer, key: str
) -> None:
    problems = []
    for client, api_format, extra in REFUSED:
        body = {**_body(client, model_id(api_format)), **extra}
        r = _post(gateway, client, body, key)
        error = r.json().get("error") or {}
        if r.status_code != 400 or error.get("code") != "unsupported_for_this_model":
            problems.append(f"{client} -> {api_format} {extra}: {r.status_code} {r.text[:200]}")
        elif client == "messages" and (
            r.json().get("type") != "error" or error.get("type") != "invalid_request_error"
        ):
            problems.append(f"{client}: not Anthropic's error shape: {r.text[:200]}")
    assert not problems, "\n".join(problems)
    assert mock.upstream.requests == []  # refused before anything was sent


def test_each_client_gets_errors_in_its_own_shape(
    gateway: GatewayServer, mock: MockServer, key: str
) -> None:
    unknown = {
        client: _post(gateway, client, _body(client, "acme/none"), key) for client in CLIENTS
    }
    for client, r in unknown.items():
        assert r.status_code == 404, (client, r.text)
    assert set(unknown["chat"].json()["error"]) == {"message", "type", "code"}
    assert unknown["responses"].json()["error"]["code"] == "model_not_found"
    assert unknown["messages"].json()["type"] == "error"
    assert unknown["messages"].json()["error"]["type"] == "not_found_error"
    # Anthropic's API requires its version header; x-api-key is our key.
    body = _body("messages", model_id("openai-chat"))
    r = httpx.post(f"{gateway.base_url}/v1/messages", json=body, headers={"x-api-key": key})
    assert r.status_code == 400 and "anthropic-version" in r.json()["error"]["message"]
    r = httpx.post(
        f"{gateway.base_url}/v1/messages",
        json=body,
        headers={"x-api-key": "sk-wrong", "anthropic-version": "2023-06-01"},
    )
    assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
    # An upstream's error in the client's shape: a 429 of an Anthropic checkpoint to a chat
    # client, a 500 of a chat checkpoint to a Messages client.
    busy = _body("chat", model_id("anthropic-messages"))
    busy["messages"][0]["content"] = "#mock:429"
    r = _post(gateway, "chat", busy, key)
    assert r.status_code == 429 and set(r.json()["error"]) >= {"message", "type", "code"}
    failing = _body("messages", model_id("openai-chat"))
    failing["messages"][0]["content"] = "#mock:500"
    r = _post(gateway, "messages", failing, key)
    assert r.status_code == 500 and r.json()["type"] == "error", r.text
    assert "internal-openai-chat" not in r.text  # scrubbed, as every production error


@pytest.mark.parametrize("prefix", ["/api/openrouter", "/api/openrouter/v1"])
def test_openrouter_mounts(gateway: GatewayServer, key: str, prefix: str) -> None:
    for client, path in (("responses", "/responses"), ("messages", "/messages")):
        body = _body(client, model_id("openai-chat"))
        headers = {"authorization": f"Bearer {key}", "anthropic-version": "2023-06-01"}
        r = httpx.post(f"{gateway.base_url}{prefix}{path}", json=body, headers=headers)
        assert r.status_code == 200, (prefix, path, r.text)


def _strip_ours(doc: Any, gateway_doc: Any) -> None:
    """Our values out of a gateway document, the upstream's out of the direct one."""
    for d in (doc, gateway_doc):
        for name in ("id", "model", "created_at"):
            d.pop(name, None)
    gateway_doc.get("usage", {}).pop("cost", None)


@pytest.mark.parametrize(
    ("client", "api_format"),
    [("messages", "anthropic-messages"), ("responses", "openai-responses")],
)
def test_matching_formats_pass_through(
    gateway: GatewayServer, mock: MockServer, key: str, client: str, api_format: str
) -> None:
    """Production and the same format on both sides: the upstream's answer, but for our id,
    the public model id and usage.cost (events the gateway would not write, such as ping,
    survive)."""
    body = _body(client, model_id(api_format))
    r = _post(gateway, client, body, key)
    assert r.status_code == 200, r.text
    ours = r.json()
    assert ours["id"].startswith("gen-") and ours["model"] == model_id(api_format)
    assert ours["usage"]["cost"] > 0
    upstream_headers = {
        "authorization": f"Bearer {partner_key(api_format)}",
        "x-api-key": partner_key(api_format),
        "anthropic-version": "2023-06-01",
    }
    direct = httpx.post(
        f"{mock.base_url}{CLIENT_PATHS[client][3:]}",
        json={**body, "model": f"internal-{api_format}"},
        headers=upstream_headers,
    ).json()
    _strip_ours(direct, ours)
    assert ours == direct

    r = _post(gateway, client, {**body, "stream": True}, key)
    assert r.status_code == 200 and "internal-" not in r.text
    envelope = "message" if client == "messages" else "response"
    envelopes = [
        json.loads(line[6:]).get(envelope)
        for line in r.text.splitlines()
        if line.startswith("data: ")
    ]
    envelopes = [e for e in envelopes if e]
    assert envelopes and all(e["id"].startswith("gen-") for e in envelopes)
    assert all(e["model"] == model_id(api_format) for e in envelopes)
    if client == "messages":
        assert "event: ping" in r.text
    else:
        assert envelopes[-1]["usage"]["cost"] > 0 and '"item_id":"msg_mock"' in r.text


def test_the_default_upstream_is_asked_in_the_clients_format(
    backend: str, make_gateway: Any, settings: Any, mock: MockServer
) -> None:
    """An OpenRouter-style default upstream serves every format: no translation, its key as
    a Bearer token, the path of the client's API."""
    gateway = make_gateway(
        settings.replace(default_upstream_url=mock.base_url, default_upstream_key="sk-default")
    )
    for client in CLIENTS:
        for stream in (False, True):
            body = {**_body(client, "vendor/unlisted"), "stream": stream}
            r = _post(gateway, client, body, "anonymous")
            assert r.status_code == 200 and "vendor/unlisted" in r.text, (client, r.text)
            seen = mock.upstream.requests[-1]
            assert seen.path == CLIENT_PATHS[client], seen.path
            headers = {k.lower(): v for k, v in seen.headers.items()}
            assert headers.get("authorization") == "Bearer sk-default"
            assert seen.body["model"] == "vendor/unlisted"


def test_anthropic_beta_reaches_only_anthropic_checkpoints(
    gateway: GatewayServer, mock: MockServer, key: str
) -> None:
    headers = {
        "x-api-key": key,
        "anthropic-version": "2023-06-01",
        "anthropic-beta": "interleaved-thinking-2025-05-14",
    }
    for api_format, forwarded in (("anthropic-messages", True), ("openai-chat", False)):
        body = _body("messages", model_id(api_format))
        r = httpx.post(f"{gateway.base_url}/v1/messages", json=body, headers=headers)
        assert r.status_code == 200, r.text
        seen = {k.lower(): v for k, v in mock.upstream.requests[-1].headers.items()}
        assert ("anthropic-beta" in seen) is forwarded, seen
    bad = {**headers, "anthropic-beta": 'beta; evil="1"'}
    body = _body("messages", model_id("anthropic-messages"))
    r = httpx.post(f"{gateway.base_url}/v1/messages", json=body, headers=bad)
    assert r.status_code == 200 and "anthropic-beta" not in {
        k.lower() for k in mock.upstream.requests[-1].headers
    }
