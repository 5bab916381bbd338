"""Form posts the browser tests do not click through, over HTTP (both store backends)."""

from __future__ import annotations

import httpx

from tests.admin_pages.helpers import admin_api, csrf_of, signed_in_client
from tests.support.experiments import create_preview_model, start_experiment
from tests.support.servers import GatewayServer, MockServer


def _flash_after(client: httpx.Client, r: httpx.Response) -> str:
    assert r.status_code == 303, r.text
    return client.get(r.headers["location"]).text


def test_settings_refusals_wipe_confirmation_and_draft_deletion(
    backend: str, pages: GatewayServer, admin_key: str, mock: MockServer
) -> None:
    admin = admin_api(pages, admin_key)
    create_preview_model(admin)
    live = start_experiment(admin, [mock])
    client = signed_in_client(pages, admin_key)
    base = f"/admin/experiments/{live.id}"
    token = csrf_of(client.get(base).text)

    r = client.post(
        f"{base}/settings",
        data={"csrf_token": token, "name": "Renamed", "description": "why", "flags": "1"},
    )
    assert "Settings saved." in _flash_after(client, r)
    assert admin.get(f"/admin/api/experiments/{live.id}").json()["name"] == "Renamed"
    r = client.post(f"{base}/settings", data={"csrf_token": token, "name": " "})
    assert r.status_code == 422 and "at least 1 character" in r.text

    # Structural edits outside a draft: the service refuses, the page says why.
    variant = live.slots[0].variant_id
    r = client.post(
        f"{base}/variants/{variant}/edit",
        data={"csrf_token": token, "label": live.slots[0].label, "weight": "5"},
    )
    assert r.status_code == 422
    assert (
        "structural edits (add/remove variant, change weight) are allowed only in draft" in r.text
    )
    r = client.post(f"{base}/variants/{variant}/remove", data={"csrf_token": token})
    assert "allowed only in draft" in _flash_after(client, r)
    r = client.post(f"{base}/transition", data={"csrf_token": token, "action": "delete"})
    assert "Unknown action" in _flash_after(client, r)

    r = client.post(f"{base}/wipe", data={"csrf_token": token})
    assert "Tick the confirmation box" in _flash_after(client, r)
    r = client.post(f"{base}/wipe", data={"csrf_token": token, "confirm": "on"})
    assert "Wiped the prompts and responses of 0 requests" in _flash_after(client, r)

    r = client.post(f"{base}/delete", data={"csrf_token": token})
    assert "only draft experiments can be deleted" in _flash_after(client, r)
    r = client.post(
        "/admin/experiments",
        data={
            "csrf_token": token,
            "name": "To delete",
            "public_model_id": "acme/preview-experiment-foo",
        },
    )
    page = _flash_after(client, r)
    assert "Experiment created." in page and "Delete draft" in page
    created = r.headers["location"]
    r = client.post(f"{created}/delete", data={"csrf_token": token})
    assert r.headers["location"] == "/admin/experiments"
    assert "Draft deleted." in _flash_after(client, r)
    assert client.get(created).status_code == 404


BAD_KEYS = {
    "sk-ключ": "ключ",
    "sk-a\r\nX-Evil: 1": "X-Evil",
    "sk-secret part": "secret part",
    " ": None,
    "": None,
}


def test_bad_partner_keys_are_refused_beside_the_key_field(
    backend: str, pages: GatewayServer, admin_key: str, mock: MockServer
) -> None:
    admin = admin_api(pages, admin_key)
    create_preview_model(admin)
    live = start_experiment(admin, [mock], activate=False)
    client = signed_in_client(pages, admin_key)
    base = f"/admin/experiments/{live.id}"
    token = csrf_of(client.get(base).text)
    variant = f"{base}/variants/{live.slots[0].variant_id}"
    upstream = f'{{"internal_id": "rc-new", "base_url": "{mock.base_url}"}}'
    forms = {
        f"{base}/variants": {"label": "B", "weight": "1", "upstream": upstream},
        f"{variant}/versions": {"upstream": upstream},
        f"{variant}/rotate-key": {},
    }
    for path, fields in forms.items():
        for key, fragment in BAD_KEYS.items():
            r = client.post(path, data={"csrf_token": token, **fields, "api_key": key})
            assert r.status_code == 422, (path, key, r.status_code)
            assert "field-error" in r.text and "the partner key " in r.text, (path, key)
            if fragment:
                assert fragment not in r.text, (path, key)
    shown = admin.get(f"/admin/api/experiments/{live.id}").json()
    assert [len(v["versions"]) for v in shown["variants"]] == [1], "a refused key was stored"
