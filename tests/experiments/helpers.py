"""Helpers for the experiments tests: an admin client and experiments built over HTTP."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import text

from tests.support.experiments import admin_client as shared_admin_client
from tests.support.servers import GatewayServer

PREVIEW_ID = "acme/preview-exp-lifecycle"
API = "/admin/api/experiments"


# One admin client builder for every test package.
admin_client = shared_admin_client


def upstream(
    internal_id: str = "acme-rc-1", base_url: str = "http://127.0.0.1:9/v1"
) -> dict[str, Any]:
    return {"internal_id": internal_id, "base_url": base_url}


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def expect(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json() if response.content else {}


def refused(response: httpx.Response, status: int, *rule_fragments: str) -> str:
    """Assert an OpenAI-shaped refusal whose message names the rule; return the message."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "code"}
    for fragment in rule_fragments:
        assert fragment in error["message"], error["message"]
    return str(error["message"])


def preview_model(
    admin: httpx.Client, public_id: str = PREVIEW_ID, disclosure: str = "Kept 30 days."
) -> str:
    expect(
        admin.post(
            "/admin/api/models",
            json={"public_id": public_id, "kind": "preview", "disclosure_text": disclosure},
        ),
        201,
    )
    return public_id


def draft(
    admin: httpx.Client, public_id: str = PREVIEW_ID, name: str = "rc bake-off", **extra: Any
) -> dict[str, Any]:
    body = {"public_model_id": public_id, "name": name, **extra}
    return expect(admin.post(API, json=body), 201)


def add_variant(
    admin: httpx.Client,
    experiment_id: str,
    label: str = "A",
    weight: int = 1,
    key: str = "sk-partner-secret-a1",
    internal_id: str = "acme-rc-1",
) -> dict[str, Any]:
    body = {"label": label, "weight": weight, "upstream": upstream(internal_id), "api_key": key}
    return expect(admin.post(f"{API}/{experiment_id}/variants", json=body), 201)


def act(admin: httpx.Client, experiment_id: str, action: str) -> httpx.Response:
    return admin.post(f"{API}/{experiment_id}/{action}")


def in_status(admin: httpx.Client, status: str, public_id: str = PREVIEW_ID) -> dict[str, Any]:
    """A one-variant experiment brought to ``status`` through the allowed transitions."""
    exp = draft(admin, public_id, name=f"{status} one")
    add_variant(admin, exp["id"])
    path = {"draft": [], "active": ["activate"], "paused": ["activate", "pause"]}
    steps = path.get(status, ["activate", "complete"])
    for step in steps:
        exp = expect(act(admin, exp["id"], step), 200)
    assert exp["status"] == status
    return exp


def stored_ciphertexts(gateway: GatewayServer) -> list[dict[str, str]]:
    """Every encrypted key stored for experiment versions, as the DB holds it."""

    async def fetch(rt: Any) -> list[dict[str, str]]:
        async with rt.engine.connect() as conn:
            rows = await conn.execute(
                text("select encrypted_api_key from model_experiment_variant_version")
            )
            return [json.loads(v) if isinstance(v, str) else v for (v,) in rows]

    return gateway.call(fetch)
