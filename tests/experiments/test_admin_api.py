"""The experiments admin API over real HTTP: no key material out, auth, errors, routing effect."""

from __future__ import annotations

from typing import Any

import httpx

from previewgate.config import Settings
from tests.experiments.helpers import (
    API,
    PREVIEW_ID,
    act,
    add_variant,
    admin_client,
    draft,
    expect,
    refused,
    stored_ciphertexts,
    upstream,
)
from tests.support.seed import create_user
from tests.support.servers import GatewayServer, MockServer

KEYS = [f"sk-partner-plaintext-{n}-c0ffee{n}" for n in range(7)]


def test_no_response_ever_carries_key_material(gateway: GatewayServer, admin: httpx.Client) -> None:
    seen: list[httpx.Response] = []

    def call(method: str, path: str, status: int, **kwargs: Any) -> dict[str, Any]:
        response = admin.request(method, path, **kwargs)
        seen.append(response)
        return expect(response, status)

    exp = call("POST", API, 201, json={"public_model_id": PREVIEW_ID, "name": "leak hunt"})
    base = f"{API}/{exp['id']}"
    a = call("POST", f"{base}/variants", 201, json=_variant("A", KEYS[0], "acme-rc-a"))
    b = call("POST", f"{base}/variants", 201, json=_variant("B", KEYS[1], "acme-rc-b"))
    assert a["versions"][0]["key_configured"] is True and a["versions"][0]["current"] is True
    call("PATCH", base, 200, json={"description": "RC 7 vs RC 8"})
    call("PATCH", f"{base}/variants/{b['id']}", 200, json={"label": "B2", "weight": 2})
    call("POST", f"{base}/activate", 200)
    swap = {"upstream": upstream("acme-rc-a2"), "api_key": KEYS[2]}
    swapped = call("POST", f"{base}/variants/{a['id']}/versions", 201, json=swap)
    assert [v["internal_id"] for v in swapped["versions"]] == ["acme-rc-a", "acme-rc-a2"]
    rotated = call("POST", f"{base}/variants/{a['id']}/rotate-key", 200, json={"api_key": KEYS[3]})
    # Rotation = a new version on the current upstream.
    assert [v["internal_id"] for v in rotated["versions"]] == ["acme-rc-a"] + ["acme-rc-a2"] * 2
    assert [v["current"] for v in rotated["versions"]] == [False, False, True]
    call("POST", f"{base}/pause", 200)
    call("POST", f"{base}/archive", 200, json={"archived": True})
    call("POST", f"{base}/archive", 200, json={"archived": False})
    call("GET", API, 200)
    call("GET", API, 200, params={"archived": "false", "status": "paused"})
    call("GET", base, 200)
    # Refusals and validation errors must not echo the key they were sent either.
    refused_add = admin.post(f"{base}/variants", json=_variant("C", KEYS[4], "acme-rc-c"))
    invalid = admin.post(
        f"{base}/variants/{a['id']}/versions",
        json={"upstream": {"internal_id": "x", "base_url": "ftp://no"}, "api_key": KEYS[5]},
    )
    seen += [refused_add, invalid]
    assert (refused_add.status_code, invalid.status_code) == (409, 422)
    other = call("POST", API, 201, json={"public_model_id": PREVIEW_ID, "name": "scratch"})
    c = call("POST", f"{API}/{other['id']}/variants", 201, json=_variant("C", KEYS[6], "c"))
    call("DELETE", f"{API}/{other['id']}/variants/{c['id']}", 200)
    call("POST", f"{base}/complete", 200)
    call("DELETE", f"{API}/{other['id']}", 204)
    seen.append(admin.get("/openapi.json"))

    sealed = stored_ciphertexts(gateway)
    assert len(sealed) == 4  # A, B, the swap and the rotation; C went with its draft
    assert all(set(s) == {"iv", "data", "auth_tag"} for s in sealed)
    needles = [*KEYS, "encrypted_api_key", "auth_tag"]
    needles += [s[part] for s in sealed for part in ("iv", "data", "auth_tag")]
    for response in seen:
        for needle in needles:
            assert needle not in response.text, (response.request.url, needle)


def _variant(label: str, key: str, internal_id: str) -> dict[str, Any]:
    return {"label": label, "weight": 1, "upstream": upstream(internal_id), "api_key": key}


def test_key_taking_calls_fail_clearly_without_an_encryption_key(
    gateway: GatewayServer, admin: httpx.Client, make_gateway: Any, settings: Settings
) -> None:
    exp = draft(admin)
    variant = add_variant(admin, exp["id"])
    keyless: GatewayServer = make_gateway(settings.replace(encryption_key=None))
    assert keyless.runtime.cipher.available is False
    client = admin_client(keyless, "keyless@example.com")
    base = f"{API}/{exp['id']}/variants"
    attempts = [
        client.post(base, json=_variant("B", "sk-new-1", "acme-rc-2")),
        client.post(
            f"{base}/{variant['id']}/versions",
            json={"upstream": upstream("acme-rc-3"), "api_key": "sk-new-2"},
        ),
        client.post(f"{base}/{variant['id']}/rotate-key", json={"api_key": "sk-new-3"}),
    ]
    for response in attempts:
        message = refused(response, 503, "PREVIEWGATE_ENCRYPTION_KEY is not configured")
        assert response.json()["error"]["code"] == "encryption_key_missing"
        assert "internal error" not in message and "sk-new" not in response.text
    # Nothing was written: still one slot with its one version.
    view = expect(admin.get(f"{API}/{exp['id']}"), 200)
    assert [len(v["versions"]) for v in view["variants"]] == [1]


def test_admin_key_required(gateway: GatewayServer, admin: httpx.Client) -> None:
    exp = draft(admin)
    user_key = gateway.call(lambda rt: create_user(rt, "pleb@example.com"))
    targets = [("GET", API), ("POST", API), ("POST", f"{API}/{exp['id']}/activate")]
    for method, path in targets:
        anonymous = httpx.request(method, f"{gateway.base_url}{path}", json={})
        assert anonymous.status_code == 401
        assert anonymous.json()["error"]["code"] == "unauthorized"
        user = httpx.request(
            method,
            f"{gateway.base_url}{path}",
            json={},
            headers={"authorization": f"Bearer {user_key}"},
        )
        assert user.status_code == 403 and user.json()["error"]["code"] == "forbidden"
    assert expect(admin.get(f"{API}/{exp['id']}"), 200)["status"] == "draft"


def test_bad_ids_and_inputs_are_refused_in_the_openai_shape(admin: httpx.Client) -> None:
    exp = draft(admin)
    other = draft(admin, name="other")
    foreign = add_variant(admin, other["id"])
    refused(admin.get(f"{API}/not-a-uuid"), 422, "experiment_id")
    refused(admin.get(f"{API}/00000000-0000-4000-8000-000000000000"), 404, "does not exist")
    refused(admin.patch(f"{API}/{exp['id']}/variants/{foreign['id']}", json={"label": "x"}), 404)
    bad_bodies: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", API, {"public_model_id": PREVIEW_ID, "name": "x", "colour": "red"}),
        ("POST", API, {"public_model_id": PREVIEW_ID}),
        ("PATCH", f"{API}/{exp['id']}", {"name": None}),
        ("POST", f"{API}/{exp['id']}/archive", {}),
        ("POST", f"{API}/{exp['id']}/variants", {**_variant("A", "k", "m"), "weight": 0}),
        ("POST", f"{API}/{exp['id']}/variants", {**_variant(" A", "k", "m")}),
        ("POST", f"{API}/{exp['id']}/variants", {**_variant("A", "", "m")}),
        (
            "POST",
            f"{API}/{exp['id']}/variants",
            {
                **_variant("A", "k", "m"),
                "upstream": {**upstream(), "headers": {"x-api-key": "sneaky"}},
            },
        ),
    ]
    for method, path, body in bad_bodies:
        response = admin.request(method, path, json=body)
        refused(response, 422)
        assert response.json()["error"]["code"] == "invalid_input"
    refused(admin.get(API, params={"status": "running"}), 422)
    assert expect(admin.get(f"{API}/{exp['id']}"), 200)["variants"] == []


def test_openapi_documents_the_experiments_api(gateway: GatewayServer) -> None:
    paths = httpx.get(f"{gateway.base_url}/openapi.json").json()["paths"]
    expected = {
        API: {"get", "post"},
        f"{API}/{{experiment_id}}": {"get", "patch", "delete"},
        f"{API}/{{experiment_id}}/activate": {"post"},
        f"{API}/{{experiment_id}}/pause": {"post"},
        f"{API}/{{experiment_id}}/complete": {"post"},
        f"{API}/{{experiment_id}}/archive": {"post"},
        f"{API}/{{experiment_id}}/variants": {"post"},
        f"{API}/{{experiment_id}}/variants/{{variant_id}}": {"patch", "delete"},
        f"{API}/{{experiment_id}}/variants/{{variant_id}}/versions": {"post"},
        f"{API}/{{experiment_id}}/variants/{{variant_id}}/rotate-key": {"post"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path


def test_mutations_change_routing_at_once(
    gateway: GatewayServer, admin: httpx.Client, mock: MockServer
) -> None:
    exp = draft(admin, require_opt_in=False, allow_anonymous=True)
    body = {"label": "A", "weight": 1, "api_key": KEYS[0]}
    variant = expect(
        admin.post(
            f"{API}/{exp['id']}/variants",
            json={**body, "upstream": upstream("acme-rc-live", mock.base_url)},
        ),
        201,
    )

    def chat() -> httpx.Response:
        return httpx.post(
            f"{gateway.base_url}/v1/chat/completions",
            json={"model": PREVIEW_ID, "messages": [{"role": "user", "content": "hi"}]},
            headers={"x-kilocode-machineid": "machine-1"},
        )

    assert chat().status_code != 200  # a draft does not route
    expect(act(admin, exp["id"], "activate"), 200)
    assert chat().status_code == 200
    assert mock.upstream.requests[-1].body["model"] == "acme-rc-live"
    assert mock.upstream.requests[-1].headers["Authorization"] == f"Bearer {KEYS[0]}"
    expect(
        admin.post(
            f"{API}/{exp['id']}/variants/{variant['id']}/versions",
            json={"upstream": upstream("acme-rc-next", mock.base_url), "api_key": KEYS[1]},
        ),
        201,
    )
    assert chat().status_code == 200
    assert mock.upstream.requests[-1].body["model"] == "acme-rc-next"
    assert mock.upstream.requests[-1].headers["Authorization"] == f"Bearer {KEYS[1]}"
    expect(act(admin, exp["id"], "pause"), 200)
    sent = len(mock.upstream.requests)
    paused = chat()
    assert paused.status_code == 404 and paused.json()["error"]["code"] == "model_unavailable"
    expect(act(admin, exp["id"], "complete"), 200)
    assert chat().status_code != 200 and len(mock.upstream.requests) == sent
