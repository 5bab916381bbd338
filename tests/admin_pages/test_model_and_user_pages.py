"""Model, user and key pages over HTTP (both store backends): forms, refusals, CSRF."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.admin_pages.helpers import admin_api, csrf_of, signed_in_client
from tests.admin_pages.test_forms import BAD_KEYS
from tests.support.servers import GatewayServer

SECRET = "sk-upstream-secret-5d1c0e"
PREVIEW = "acme/preview-pages-x"


def _flash_after(client: httpx.Client, r: httpx.Response) -> str:
    assert r.status_code == 303, r.text
    return client.get(r.headers["location"]).text


def _opt_in(gateway: GatewayServer, key: str, model: str = PREVIEW) -> int:
    r = httpx.post(
        f"{gateway.base_url}/v1/preview-models/{model}/opt-in",
        headers={"authorization": f"Bearer {key}"},
    )
    return r.status_code


def test_models_are_added_and_edited_from_the_pages(
    backend: str, pages: GatewayServer, admin_key: str
) -> None:
    admin = admin_api(pages, admin_key)
    client = signed_in_client(pages, admin_key)
    token = csrf_of(client.get("/admin/models/new").text)
    assert 'value="preview" checked' in client.get("/admin/models/new").text
    upstream = '{"internal_id": "prod-1", "base_url": "https://api.example.com/v1"}'
    base = {"csrf_token": token, "public_id": "acme/prod", "kind": "production"}

    refusals = {
        "String should match pattern": {**base, "public_id": "has space"},
        "not valid JSON": {**base, "upstream": '{"internal_id": '},
        "headers: unknown field": {
            **base,
            "upstream": '{"internal_id": "a", "base_url": "https://x", "headers": {}}',
        },
        "output: Field required": {**base, "price_input": "1.5"},
        "finite number": {**base, "price_input": "inf", "price_output": "1"},
        "greater than or equal to 0": {**base, "price_input": "-1", "price_output": "1"},
        "preview models only": {**base, "disclosure_text": "a disclosure"},
        "Input should be &#39;production&#39; or &#39;preview&#39;": {**base, "kind": "beta"},
        "greater than 0": {**base, "context_length": "0"},
    }
    for message, data in refusals.items():
        r = client.post("/admin/models", data={**data, "api_key": SECRET})
        assert r.status_code == 422, (message, r.status_code)
        assert "field-error" in r.text and message in r.text, message
        assert SECRET not in r.text  # the key field is never filled back in
    for key, fragment in BAD_KEYS.items():
        if not key:
            continue  # blank is "no key", which a model may have
        r = client.post("/admin/models", data={**base, "api_key": key})
        assert r.status_code == 422 and "the partner key " in r.text, key
        assert fragment is None or fragment not in r.text
    assert admin.get("/admin/api/models").json() == []

    data = {**base, "upstream": upstream, "api_key": SECRET, "display_name": "Prod One"}
    data |= {"price_input": "1.25", "price_output": "5"}
    assert "Model acme/prod added." in _flash_after(client, client.post("/admin/models", data=data))
    r = client.post("/admin/models", data=data)
    assert r.status_code == 422 and "already exists" in r.text
    r = client.post(
        "/admin/models", data={"csrf_token": token, "public_id": PREVIEW, "kind": "preview"}
    )
    listing = _flash_after(client, r)
    assert PREVIEW in listing and "acme/prod" in listing and SECRET not in listing
    prod = admin.get("/admin/api/models/acme/prod").json()
    assert prod["key_configured"] is True and prod["pricing"] == {"input": 1.25, "output": 5.0}
    preview = admin.get(f"/admin/api/models/{PREVIEW}").json()
    assert preview["disclosure_version"] == 1 and "preview model" in preview["disclosure_text"]

    # Editing: a blank key keeps the stored one; a changed disclosure is a new version.
    edit = f"/admin/models/{PREVIEW}/edit"
    form = client.get(edit)
    assert form.status_code == 200 and "disclosure version 1" in form.text
    r = client.post(edit, data={"csrf_token": token, "disclosure_text": " "})
    assert r.status_code == 422 and "needs a disclosure text" in r.text
    r = client.post(
        edit,
        data={
            "csrf_token": token,
            "display_name": "Foo preview",
            "disclosure_text": "Kept 7 days.",
        },
    )
    assert "users opt in again" in _flash_after(client, r)
    preview = admin.get(f"/admin/api/models/{PREVIEW}").json()
    assert preview["disclosure_version"] == 2 and preview["display_name"] == "Foo preview"
    page = client.get("/admin/models/acme/prod/edit").text
    assert "A key is configured" in page and 'name="disclosure_text"' not in page
    assert SECRET not in page and "prod-1" in page
    values = {
        name: re.search(rf'name="{name}"[^>]*value="([^"]*)"', page).group(1)  # type: ignore[union-attr]
        for name in ("display_name", "price_input", "price_output")
    }
    assert values == {"display_name": "Prod One", "price_input": "1.25", "price_output": "5.0"}
    r = client.post(
        "/admin/models/acme/prod/edit",
        data={"csrf_token": token, "display_name": "Prod", "upstream": upstream, "price_input": ""},
    )
    assert "Model acme/prod saved." in _flash_after(client, r)
    prod = admin.get("/admin/api/models/acme/prod").json()
    assert prod["key_configured"] is True and prod["pricing"] is None
    assert client.get("/admin/models/acme/unknown/edit").status_code == 404


def test_users_and_keys_from_the_pages(backend: str, pages: GatewayServer, admin_key: str) -> None:
    admin = admin_api(pages, admin_key)
    admin.post("/admin/api/models", json={"public_id": PREVIEW, "kind": "preview"})
    client = signed_in_client(pages, admin_key)
    token = csrf_of(client.get("/admin/users").text)

    for email, message in (("nope", "String should match pattern"), ("ops@example.com", "exists")):
        r = client.post("/admin/users", data={"csrf_token": token, "email": email})
        assert r.status_code == 422 and message in r.text, email
    r = client.post("/admin/users", data={"csrf_token": token, "email": "Dev@Example.com"})
    assert "User dev@example.com created." in _flash_after(client, r)
    user_url = r.headers["location"]
    user_id = user_url.rsplit("/", 1)[1]
    assert "dev@example.com" in client.get("/admin/users").text

    # The new key is in the answer to the post, and nowhere after.
    r = client.post(f"{user_url}/keys", data={"csrf_token": token})
    assert r.status_code == 200 and "shown only this once" in r.text
    key = re.search(r'id="new-key-value"[^>]*value="([^"]+)"', r.text).group(1)  # type: ignore[union-attr]
    assert "no-store" in r.headers["cache-control"]
    assert all(key not in v for v in r.headers.values())
    assert _opt_in(pages, key) == 200
    again = client.get(user_url)
    assert key not in again.text and "shown only this once" not in again.text
    assert key[:10] in again.text  # the prefix is listed
    (listed,) = admin.get(f"/admin/api/users/{user_id}/keys").json()
    r = client.post(f"{user_url}/keys/{listed['id']}/revoke", data={"csrf_token": token})
    assert "Key revoked" in _flash_after(client, r)
    assert _opt_in(pages, key) == 401

    for amount, message in (("", "valid number"), ("abc", "valid number"), ("0", "0.000001")):
        r = client.post(f"{user_url}/credit", data={"csrf_token": token, "amount_usd": amount})
        assert r.status_code == 422 and message in r.text, amount
    r = client.post(f"{user_url}/credit", data={"csrf_token": token, "amount_usd": "12.5"})
    assert "Balance is now 12.500000 USD." in _flash_after(client, r)
    assert admin.get(f"/admin/api/users/{user_id}").json()["balance_usd"] == 12.5

    second = client.post(f"{user_url}/keys", data={"csrf_token": token}).text
    second_key = re.search(r'id="new-key-value"[^>]*value="([^"]+)"', second).group(1)  # type: ignore[union-attr]
    r = client.post(f"{user_url}/delete", data={"csrf_token": token})
    page = _flash_after(client, r)
    assert "User deleted" in page and "Create API key" not in page
    assert _opt_in(pages, second_key) == 401
    assert "dev@example.com" not in client.get("/admin/users").text
    assert "dev@example.com" in client.get("/admin/users?deleted=on").text
    r = client.post(f"{user_url}/keys", data={"csrf_token": token})
    assert "is deleted" in _flash_after(client, r)

    me = next(u for u in admin.get("/admin/api/users").json() if u["email"] == "ops@example.com")
    assert "Delete user" not in client.get(f"/admin/users/{me['id']}").text
    r = client.post(f"/admin/users/{me['id']}/delete", data={"csrf_token": token})
    assert "cannot delete your own user" in _flash_after(client, r)
    assert client.get("/admin/users/00000000-0000-4000-8000-000000000000").status_code == 404
    assert client.get("/admin/users/not-a-uuid").status_code == 422


@pytest.fixture
def targets(pages: GatewayServer, admin_key: str) -> dict[str, dict[str, str]]:
    """Every state-changing form of these pages with valid fields, keyed by its path."""
    admin = admin_api(pages, admin_key)
    admin.post("/admin/api/models", json={"public_id": PREVIEW, "kind": "preview"})
    user = admin.post("/admin/api/users", json={"email": "dev@example.com"}).json()
    key = admin.post(f"/admin/api/users/{user['id']}/keys").json()
    base = f"/admin/users/{user['id']}"
    return {
        "/admin/models": {"public_id": "acme/csrf", "kind": "preview"},
        f"/admin/models/{PREVIEW}/edit": {"disclosure_text": "changed"},
        "/admin/users": {"email": "sneaky@example.com", "is_admin": "on"},
        f"{base}/credit": {"amount_usd": "1000"},
        f"{base}/keys": {},
        f"{base}/keys/{key['id']}/revoke": {},
        f"{base}/delete": {},
    }


def test_every_new_form_needs_this_sessions_csrf_token(
    backend: str, pages: GatewayServer, admin_key: str, targets: dict[str, dict[str, str]]
) -> None:
    admin = admin_api(pages, admin_key)
    before = (admin.get("/admin/api/models").json(), admin.get("/admin/api/users").json())
    client = signed_in_client(pages, admin_key)
    token = csrf_of(client.get("/admin/users").text)
    other_token = csrf_of(signed_in_client(pages, admin_key).get("/admin/users").text)
    for path, fields in targets.items():
        for bad in (
            {},
            {"csrf_token": ""},
            {"csrf_token": token[:-2] + "xx"},
            {"csrf_token": other_token},
        ):
            r = client.post(path, data={**fields, **bad})
            assert r.status_code == 403, (path, bad, r.status_code)
            assert "did not come from this site" in r.text
    assert (admin.get("/admin/api/models").json(), admin.get("/admin/api/users").json()) == before
    keys = admin.get(f"/admin/api/users/{before[1][0]['id']}/keys").json()
    assert all(k["revoked_at"] is None for k in keys)
