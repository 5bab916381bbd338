"""Partners over the admin REST API: CRUD, members, slot ownership; clear refusals; the
partner's secret never appears anywhere."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from previewgate.partners.models import Partner
from tests.support.experiments import admin_client, create_preview_model, start_experiment
from tests.support.servers import GatewayServer, MockServer

PARTNERS = "/admin/api/partners"


@pytest.fixture
def admin(gateway: GatewayServer) -> httpx.Client:
    return admin_client(gateway)


def test_partner_lifecycle_members_and_slots(
    gateway: GatewayServer, admin: httpx.Client, mock: MockServer
) -> None:
    r = admin.post(PARTNERS, json={"slug": "acme", "name": "Acme Labs"})
    assert r.status_code == 201, r.text
    acme = r.json()
    assert set(acme) == {"id", "slug", "name", "created_at"}
    assert admin.post(PARTNERS, json={"slug": "acme", "name": "again"}).status_code == 409
    for bad in ({"slug": "Not A Slug", "name": "x"}, {"slug": "ok"}, {"slug": "a", "name": ""}):
        r = admin.post(PARTNERS, json=bad)
        assert r.status_code == 422 and r.json()["error"]["type"], r.text
    assert admin.patch(f"{PARTNERS}/{acme['id']}", json={"name": "Acme"}).json()["name"] == "Acme"
    assert [p["slug"] for p in admin.get(PARTNERS).json()] == ["acme"]

    user = admin.post("/admin/api/users", json={"email": "eng@acme.test"}).json()
    r = admin.put(
        f"{PARTNERS}/{acme['id']}/members", json={"user_id": user["id"], "role": "viewer"}
    )
    assert r.status_code == 200 and r.json()["role"] == "viewer", r.text
    r = admin.put(f"{PARTNERS}/{acme['id']}/members", json={"user_id": user["id"], "role": "admin"})
    assert r.json()["role"] == "admin"
    assert [m["role"] for m in admin.get(f"{PARTNERS}/{acme['id']}/members").json()] == ["admin"]
    missing = "00000000-0000-4000-8000-000000000000"
    assert (
        admin.put(
            f"{PARTNERS}/{acme['id']}/members", json={"user_id": missing, "role": "viewer"}
        ).status_code
        == 404
    )
    assert (
        admin.put(
            f"{PARTNERS}/{acme['id']}/members", json={"user_id": user["id"], "role": "owner"}
        ).status_code
        == 422
    )

    create_preview_model(admin)
    experiment = start_experiment(admin, [mock, mock])
    slot = experiment.slots[0]
    path = f"/admin/api/experiments/{experiment.id}/variants/{slot.variant_id}/partner"
    r = admin.put(path, json={"partner_id": acme["id"]})
    assert r.status_code == 200 and r.json()["partner_id"] == acme["id"], r.text
    shown = admin.get(f"/admin/api/experiments/{experiment.id}").json()
    owners = {v["id"]: v["partner_id"] for v in shown["variants"]}
    assert owners == {slot.variant_id: acme["id"], experiment.slots[1].variant_id: None}
    assert admin.put(path, json={"partner_id": missing}).status_code == 404
    assert admin.get(f"{PARTNERS}/{missing}").status_code == 404

    # The secret is stored sealed and never shown.
    sealed = gateway.call(_sealed_secret)
    assert set(sealed) == {"iv", "data", "auth_tag"}
    for response in (admin.get(PARTNERS), admin.get(f"{PARTNERS}/{acme['id']}")):
        assert sealed["data"] not in response.text

    r = admin.delete(f"{PARTNERS}/{acme['id']}")
    assert r.status_code == 200
    shown = admin.get(f"/admin/api/experiments/{experiment.id}").json()
    assert all(v["partner_id"] is None for v in shown["variants"])
    assert admin.get(f"{PARTNERS}/{acme['id']}/members").status_code == 404


def test_partner_routes_are_for_operators(gateway: GatewayServer, admin: httpx.Client) -> None:
    key = admin.post("/admin/api/users", json={"email": "dev@example.com"}).json()["id"]
    issued = admin.post(f"/admin/api/users/{key}/keys").json()["key"]
    as_user = {"authorization": f"Bearer {issued}"}
    assert httpx.get(f"{gateway.base_url}{PARTNERS}", headers=as_user).status_code == 403
    assert httpx.get(f"{gateway.base_url}{PARTNERS}").status_code == 401


async def _sealed_secret(runtime: object) -> dict[str, str]:
    from previewgate.runtime import Runtime

    assert isinstance(runtime, Runtime)
    async with runtime.sessions() as session:
        partner = await session.scalar(select(Partner))
        assert partner is not None
        return dict(partner.encrypted_secret)
