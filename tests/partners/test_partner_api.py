"""The partner API by its callers: partner A's viewer and admin on A's and B's ids, admin
actions as a viewer, no key, a revoked key, and an operator who is not a member. Anything
that is not A's answers 404; the test counts its cells."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from previewgate.config import Settings
from tests.support.experiments import admin_client
from tests.support.servers import GatewayServer


@pytest.fixture
def gateway(make_gateway: Callable[[Settings], GatewayServer], settings: Settings) -> GatewayServer:
    return make_gateway(settings.model_copy(update={"webhook_allowed_networks": ["127.0.0.0/8"]}))


def _member(admin: httpx.Client, partner_id: str, role: str) -> tuple[str, str, str]:
    user = admin.post("/admin/api/users", json={"email": f"{uuid.uuid4().hex}@p.example"}).json()
    key = admin.post(f"/admin/api/users/{user['id']}/keys").json()
    r = admin.put(
        f"/admin/api/partners/{partner_id}/members", json={"user_id": user["id"], "role": role}
    )
    assert r.status_code == 200, r.text
    return user["id"], key["id"], key["key"]


def _partner_with_hook(admin: httpx.Client, slug: str) -> tuple[dict[str, Any], dict[str, Any]]:
    partner = admin.post("/admin/api/partners", json={"slug": slug, "name": slug.title()}).json()
    hook = admin.post(
        f"/admin/api/partners/{partner['id']}/webhooks",
        json={"url": "http://127.0.0.1:9/hook", "event_types": ["export.ready"]},
    ).json()
    assert admin.post(f"/admin/api/webhooks/{hook['id']}/test").status_code == 202
    return partner, hook


def test_partner_api_authorization_matrix(gateway: GatewayServer) -> None:
    admin = admin_client(gateway)
    a, a_hook = _partner_with_hook(admin, "alpha")
    b, b_hook = _partner_with_hook(admin, "beta")
    a_delivery = admin.get(f"/admin/api/webhooks/{a_hook['id']}/deliveries").json()[0]["id"]
    b_delivery = admin.get(f"/admin/api/webhooks/{b_hook['id']}/deliveries").json()[0]["id"]
    _, _, viewer = _member(admin, a["id"], "viewer")
    _, _, a_admin = _member(admin, a["id"], "admin")
    revoked_user_id, revoked_key_id, revoked = _member(admin, a["id"], "admin")
    operator_key = admin.headers["authorization"].split(" ", 1)[1]

    def call(key: str | None, method: str, path: str, body: Any = None) -> int:
        headers = {"authorization": f"Bearer {key}"} if key else {}
        r = httpx.request(
            method, f"{gateway.base_url}/partner/api{path}", headers=headers, json=body
        )
        return r.status_code

    # (method, path for A's id, path for B's id, body, admin only)
    routes = [
        (
            "GET",
            f"/webhooks/{a_hook['id']}/deliveries",
            f"/webhooks/{b_hook['id']}/deliveries",
            None,
            False,
        ),
        ("POST", f"/webhooks/{a_hook['id']}/test", f"/webhooks/{b_hook['id']}/test", None, True),
        ("POST", f"/webhooks/{a_hook['id']}/rotate", f"/webhooks/{b_hook['id']}/rotate", {}, True),
        (
            "POST",
            f"/webhooks/{a_hook['id']}/replay-dead?since=2000-01-01T00:00:00Z",
            f"/webhooks/{b_hook['id']}/replay-dead?since=2000-01-01T00:00:00Z",
            None,
            True,
        ),
        (
            "GET",
            f"/webhook-deliveries/{a_delivery}/attempts",
            f"/webhook-deliveries/{b_delivery}/attempts",
            None,
            False,
        ),
        (
            "POST",
            f"/webhook-deliveries/{a_delivery}/replay",
            f"/webhook-deliveries/{b_delivery}/replay",
            None,
            True,
        ),
    ]
    cells = 0
    for method, own, other, body, admin_only in routes:
        assert call(a_admin, method, own, body) in (200, 202), own
        assert call(viewer, method, own, body) == (403 if admin_only else 200), own
        for key in (a_admin, viewer):
            assert call(key, method, other, body) == 404, (other, key == viewer)
        assert call(None, method, own, body) == 401
        assert call(operator_key, method, own, body) == 404  # an operator is not a partner
        cells += 6
    # Listings show only A's.
    for key in (a_admin, viewer):
        r = httpx.get(
            f"{gateway.base_url}/partner/api/webhooks", headers={"authorization": f"Bearer {key}"}
        )
        assert [e["id"] for e in r.json()] == [a_hook["id"]]
        me = httpx.get(
            f"{gateway.base_url}/partner/api/me", headers={"authorization": f"Bearer {key}"}
        ).json()
        assert me["partner"]["slug"] == "alpha"
        cells += 2
    # Creating an endpoint is for the partner's admins.
    hook = {"url": "http://127.0.0.1:9/other", "event_types": ["feedback.created"]}
    assert call(viewer, "POST", "/webhooks", hook) == 403
    assert call(a_admin, "POST", "/webhooks", hook) == 201
    assert call(a_admin, "GET", "/exports") == 200
    cells += 3
    # A revoked key is refused.
    r = admin.delete(f"/admin/api/users/{revoked_user_id}/keys/{revoked_key_id}")
    assert r.status_code == 200, r.text
    assert call(revoked, "GET", "/webhooks") == 401
    cells += 1
    print(f"partner API matrix: {cells} cells")
    assert cells == 6 * len(routes) + 8
    # B's secret and URL never appear in A's answers.
    answers = httpx.get(
        f"{gateway.base_url}/partner/api/webhooks", headers={"authorization": f"Bearer {a_admin}"}
    ).text
    assert b_hook["id"] not in answers and b["id"] not in answers
