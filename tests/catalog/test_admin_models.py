"""Admin catalog API: keys encrypted at rest, never returned; disclosure versioning."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text

from tests.support.seed import create_user
from tests.support.servers import GatewayServer

SECRET = "sk-partner-very-secret-9f8e7d"


@pytest.fixture
def admin(gateway: GatewayServer) -> httpx.Client:
    key = gateway.call(lambda rt: create_user(rt, "root@example.com", admin=True))
    return httpx.Client(base_url=gateway.base_url, headers={"authorization": f"Bearer {key}"})


def test_model_crud_never_returns_the_key(gateway: GatewayServer, admin: httpx.Client) -> None:
    upstream = {"internal_id": "acme-rc-7", "base_url": "https://api.example.com/v1"}
    created = admin.post(
        "/admin/api/models",
        json={
            "public_id": "acme/preview-foo",
            "kind": "preview",
            "upstream": upstream,
            "api_key": SECRET,
            "disclosure_text": "Prompts are retained for 30 days.",
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["key_configured"] is True
    assert created.json()["disclosure_version"] == 1
    responses = [
        created,
        admin.get("/admin/api/models"),
        admin.get("/admin/api/models/acme/preview-foo"),
        admin.patch("/admin/api/models/acme/preview-foo", json={"api_key": SECRET + "-2"}),
        admin.patch(
            "/admin/api/models/acme/preview-foo",
            json={"disclosure_text": "Prompts are retained for 90 days."},
        ),
        httpx.get(f"{gateway.base_url}/v1/models"),
        httpx.get(f"{gateway.base_url}/api/openrouter/models"),
    ]
    assert all(r.status_code == 200 for r in responses[1:]), [r.text for r in responses]
    assert responses[-3].json()["disclosure_version"] == 2

    async def stored(rt):  # type: ignore[no-untyped-def]
        async with rt.engine.connect() as conn:
            row = (
                await conn.execute(
                    text("select encrypted_api_key from model where public_id = 'acme/preview-foo'")
                )
            ).one()
            return row[0]

    sealed = gateway.call(stored)
    if isinstance(sealed, str):
        import json

        sealed = json.loads(sealed)
    assert set(sealed) == {"iv", "data", "auth_tag"}
    assert SECRET not in str(sealed)
    for r in responses:
        for needle in (SECRET, "encrypted_api_key", "auth_tag", sealed["data"], sealed["iv"]):
            assert needle not in r.text


def test_invalid_upstream_is_422_in_openai_shape(admin: httpx.Client) -> None:
    r = admin.post(
        "/admin/api/models",
        json={
            "public_id": "x/y",
            "kind": "production",
            "upstream": {"internal_id": "a", "base_url": "ftp://nope", "headers": {"x": "1"}},
        },
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_input"


def test_admin_api_requires_an_admin(gateway: GatewayServer) -> None:
    user_key = gateway.call(lambda rt: create_user(rt, "pleb@example.com"))
    assert httpx.get(f"{gateway.base_url}/admin/api/models").status_code == 401
    r = httpx.get(
        f"{gateway.base_url}/admin/api/models", headers={"authorization": f"Bearer {user_key}"}
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"


def test_openrouter_model_list_shape(gateway: GatewayServer, admin: httpx.Client) -> None:
    admin.post(
        "/admin/api/models",
        json={
            "public_id": "demo/priced",
            "kind": "production",
            "pricing": {"input": 3, "output": 15},
            "upstream": {"internal_id": "p", "base_url": "http://127.0.0.1:9/v1"},
        },
    )
    data = httpx.get(f"{gateway.base_url}/api/openrouter/v1/models").json()["data"]
    [entry] = [m for m in data if m["id"] == "demo/priced"]
    assert {"id", "name", "description", "context_length", "pricing"} <= set(entry)
    assert float(entry["pricing"]["prompt"]) == pytest.approx(3e-6)
    assert float(entry["pricing"]["completion"]) == pytest.approx(15e-6)


def test_ops_endpoints(gateway: GatewayServer) -> None:
    assert httpx.get(f"{gateway.base_url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{gateway.base_url}/readyz").json() == {"status": "ok"}
    metrics = httpx.get(f"{gateway.base_url}/metrics").text
    for name in (
        "previewgate_writer_queue_depth",
        "previewgate_writer_dropped_total",
        "previewgate_cache_invalidations_total",
        "previewgate_request_seconds",
    ):
        assert name in metrics
