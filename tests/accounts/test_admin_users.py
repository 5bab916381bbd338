"""Users and keys over the admin REST API: shown once, effective at once, clear refusals."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from previewgate.accounts.models import ApiKey
from tests.support.experiments import PREVIEW_ID, admin_client, create_preview_model
from tests.support.seed import serve_model
from tests.support.servers import GatewayServer, MockServer

USERS = "/admin/api/users"


def _opt_in(gateway: GatewayServer, key: str) -> int:
    r = httpx.post(
        f"{gateway.base_url}/v1/preview-models/{PREVIEW_ID}/opt-in",
        headers={"authorization": f"Bearer {key}"},
    )
    return r.status_code


def _chat(gateway: GatewayServer, key: str, model: str = "demo/prod") -> httpx.Response:
    return httpx.post(
        f"{gateway.base_url}/v1/chat/completions",
        headers={"authorization": f"Bearer {key}"},
        json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
        timeout=30,
    )


@pytest.fixture
def admin(gateway: GatewayServer) -> httpx.Client:
    return admin_client(gateway)


def test_create_list_and_refuse_bad_users(backend: str, admin: httpx.Client) -> None:
    r = admin.post(USERS, json={"email": "  Dev@Example.COM ", "is_admin": False})
    assert r.status_code == 201, r.text
    user = r.json()
    assert user["email"] == "dev@example.com" and user["is_admin"] is False
    assert user["balance_usd"] == 0 and user["deleted_at"] is None
    assert admin.get(f"{USERS}/{user['id']}").json() == user
    emails = [u["email"] for u in admin.get(USERS).json()]
    assert emails == ["dev@example.com", "ops@example.com"]

    dup = admin.post(USERS, json={"email": "DEV@example.com"})
    assert dup.status_code == 409 and "already exists" in dup.json()["error"]["message"]
    for bad in (
        {"email": "not-an-address"},
        {"email": "two words@example.com"},
        {"email": "a@" + "b" * 400},
        {"email": ""},
        {},
        {"email": "x@example.com", "is_admin": "yes please"},
        {"email": "x@example.com", "role": "admin"},
        {"email": ["x@example.com"]},
    ):
        r = admin.post(USERS, json=bad)
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["error"]["code"] == "invalid_input"
    r = admin.post(USERS, content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422
    for path in (f"{USERS}/not-a-uuid", f"{USERS}/not-a-uuid/keys"):
        assert admin.get(path).status_code == 422
    unknown = "00000000-0000-4000-8000-000000000000"
    for method, path in (
        ("GET", f"{USERS}/{unknown}"),
        ("GET", f"{USERS}/{unknown}/keys"),
        ("POST", f"{USERS}/{unknown}/keys"),
        ("DELETE", f"{USERS}/{unknown}"),
        ("DELETE", f"{USERS}/{unknown}/keys/{unknown}"),
    ):
        r = admin.request(method, path)
        assert r.status_code == 404, (method, path, r.text)
        assert r.json()["error"]["code"] == "not_found"
    r = admin.post(f"{USERS}/{unknown}/credit", json={"amount_usd": 1})
    assert r.status_code == 404


def test_a_key_is_shown_once_works_at_once_and_stops_at_once(
    backend: str, gateway: GatewayServer, admin: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    create_preview_model(admin)
    user = admin.post(USERS, json={"email": "dev@example.com"}).json()
    keys = f"{USERS}/{user['id']}/keys"
    assert admin.get(keys).json() == []

    created = admin.post(keys)
    assert created.status_code == 201, created.text
    body = created.json()
    plaintext = body["key"]
    assert plaintext.startswith(body["prefix"]) and len(plaintext) > len(body["prefix"]) + 20
    assert body["revoked_at"] is None and body["user_id"] == user["id"]
    assert _opt_in(gateway, plaintext) == 200  # no wait: the routing state was reloaded
    second = admin.post(keys).json()

    async def stored_hashes(rt: Any) -> list[str]:
        async with rt.sessions() as session:
            return list(await session.scalars(select(ApiKey.hash)))

    hashes = gateway.call(stored_hashes)
    listed = admin.get(keys)
    assert [k["id"] for k in listed.json()] == [second["id"], body["id"]]  # newest first
    assert set(listed.json()[0]) == {"id", "user_id", "prefix", "created_at", "revoked_at"}
    shown_again = [listed, admin.get(USERS), admin.get(f"{USERS}/{user['id']}")]

    revoked = admin.delete(f"{keys}/{body['id']}")
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"] is not None and "key" not in revoked.json()
    assert _opt_in(gateway, plaintext) == 401  # at once
    assert _opt_in(gateway, second["key"]) == 200  # the user's other key still works
    again = admin.delete(f"{keys}/{body['id']}")
    assert again.status_code == 200 and again.json()["revoked_at"] == revoked.json()["revoked_at"]
    listed = admin.get(keys).json()
    assert {k["id"]: k["revoked_at"] is not None for k in listed} == {
        body["id"]: True,
        second["id"]: False,
    }
    shown_again += [revoked, again, admin.get(keys)]

    other = admin.post(USERS, json={"email": "other@example.com"}).json()
    r = admin.delete(f"{USERS}/{other['id']}/keys/{second['id']}")  # not that user's key
    assert r.status_code == 404
    assert _opt_in(gateway, second["key"]) == 200

    for r in shown_again:
        for secret in (plaintext, second["key"], *hashes):
            assert secret not in r.text
    # The store driver's own DEBUG lines print the hashes it inserts; keys never appear.
    assert plaintext not in caplog.text and second["key"] not in caplog.text


def test_credit_takes_effect_at_once(
    backend: str, gateway: GatewayServer, admin: httpx.Client, mock: MockServer
) -> None:
    serve_model(gateway, mock.base_url, pricing={"input": 1.0, "output": 2.0})
    user = admin.post(USERS, json={"email": "payer@example.com"}).json()
    key = admin.post(f"{USERS}/{user['id']}/keys").json()["key"]
    assert _chat(gateway, key).status_code == 402

    credit = f"{USERS}/{user['id']}/credit"
    r = admin.post(credit, json={"amount_usd": 12.5})
    assert r.status_code == 200, r.text
    assert r.json()["balance_usd"] == 12.5
    assert _chat(gateway, key).status_code == 200
    assert admin.post(credit, json={"amount_usd": -2.25}).json()["balance_usd"] == 10.25
    for bad in (
        {"amount_usd": 0},
        {"amount_usd": 0.0000001},
        {"amount_usd": 1e9},
        {"amount_usd": -1e9},
        {"amount_usd": "ten"},
        {"amount_usd": None},
        {},
        {"amount_usd": 1, "currency": "EUR"},
    ):
        r = admin.post(credit, json=bad)
        assert r.status_code == 422, (bad, r.text)
    for raw in (b'{"amount_usd": NaN}', b'{"amount_usd": Infinity}', b'{"amount_usd": 1e999}'):
        r = admin.post(credit, content=raw, headers={"content-type": "application/json"})
        assert r.status_code == 422, (raw, r.text)
    assert admin.get(f"{USERS}/{user['id']}").json()["balance_usd"] == 10.25


def test_soft_delete_revokes_keys_at_once_and_keeps_the_row(
    backend: str, gateway: GatewayServer, admin: httpx.Client
) -> None:
    create_preview_model(admin)
    r = admin.post(USERS, json={"email": "second-admin@example.com", "is_admin": True})
    second_admin = r.json()
    admin_key = admin.post(f"{USERS}/{second_admin['id']}/keys").json()["key"]
    second = httpx.Client(
        base_url=gateway.base_url, headers={"authorization": f"Bearer {admin_key}"}
    )
    assert second.get(USERS).status_code == 200  # a new admin key is an admin at once

    user = admin.post(USERS, json={"email": "leaver@example.com"}).json()
    keys = [admin.post(f"{USERS}/{user['id']}/keys").json()["key"] for _ in range(2)]
    assert all(_opt_in(gateway, k) == 200 for k in keys)

    deleted = second.delete(f"{USERS}/{user['id']}")
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["deleted_at"] is not None
    assert all(_opt_in(gateway, k) == 401 for k in keys)
    listed = admin.get(f"{USERS}/{user['id']}/keys").json()
    assert len(listed) == 2 and all(k["revoked_at"] for k in listed)
    assert "leaver@example.com" not in [u["email"] for u in admin.get(USERS).json()]
    everyone = admin.get(USERS, params={"include_deleted": "true"}).json()
    assert "leaver@example.com" in [u["email"] for u in everyone]
    again = admin.delete(f"{USERS}/{user['id']}")
    assert again.status_code == 200 and again.json()["deleted_at"] == deleted.json()["deleted_at"]

    # A deleted user gets no new key or credit, and keeps the e-mail (no silent re-use).
    for r in (
        admin.post(f"{USERS}/{user['id']}/keys"),
        admin.post(f"{USERS}/{user['id']}/credit", json={"amount_usd": 5}),
        admin.post(USERS, json={"email": "leaver@example.com"}),
    ):
        assert r.status_code == 409, r.text

    # No admin deletes themselves; another admin can, and that ends the admin's keys too.
    assert second.delete(f"{USERS}/{second_admin['id']}").status_code == 409
    assert admin.delete(f"{USERS}/{second_admin['id']}").status_code == 200
    assert second.get(USERS).status_code == 401
