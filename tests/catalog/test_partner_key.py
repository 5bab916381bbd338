"""Partner keys: one rule (printable ASCII, 1-2048 characters) on every REST input path.

The page forms and the CLI are tested with their own packages (tests/admin_pages/test_forms.py,
tests/experiments/test_cli.py, tests/cli/test_cli.py); the service-level check they all
reach is the one exercised here through the admin API.
"""

from __future__ import annotations

import httpx
import pytest

from previewgate.catalog.partner_key import PARTNER_KEY_MAX_LENGTH, partner_key_problem
from tests.experiments.helpers import API, admin_client, expect, preview_model, upstream
from tests.support.servers import GatewayServer

GOOD_KEY = "sk-partner-good-0a1b"
# Each with the fragment of it that must never appear in an error message.
BAD_KEYS = {
    "non-Latin-1": ("sk-ключ", "ключ"),
    "CR/LF": ("sk-a\r\nX-Evil: 1", "X-Evil"),
    "interior space": ("sk-secret part", "secret part"),
    "a space": (" ", None),
    "empty": ("", None),
    "tab": ("sk-\tsecret-tab", "secret-tab"),
    "NUL": ("sk-\x00secret-nul", "secret-nul"),
    "Latin-1 letter": ("sk-cl\u00e9-secret", "cl\u00e9"),
    "too long": ("k" * (PARTNER_KEY_MAX_LENGTH + 1), "k" * 20),
}


@pytest.mark.parametrize("name", sorted(BAD_KEYS))
def test_the_rule_refuses_each_bad_key_without_quoting_it(name: str) -> None:
    key, fragment = BAD_KEYS[name]
    problem = partner_key_problem(key)
    assert problem is not None and problem.startswith("the partner key ")
    if fragment:
        assert fragment not in problem


def test_the_rule_accepts_real_key_shapes() -> None:
    for key in (
        "sk-proj-" + "A1b2_C3-" * 20,
        "sk-ant-api03-abcDEF123_-xyz",
        "AIzaSyA-1234567890abcdefghijklmnopqrstu",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
        "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
        "x",
        "k" * PARTNER_KEY_MAX_LENGTH,
    ):
        assert partner_key_problem(key) is None, key


def _refused(r: httpx.Response, fragment: str | None) -> None:
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert set(error) == {"message", "type", "code"}
    assert error["code"] == "invalid_input" and error["type"] == "invalid_request_error"
    assert "partner key" in error["message"], error["message"]
    if fragment:
        assert fragment not in r.text


def test_admin_api_refuses_bad_partner_keys_on_every_path(
    backend: str, gateway: GatewayServer
) -> None:
    admin = admin_client(gateway)
    public_id = preview_model(admin)
    exp = expect(admin.post(API, json={"public_model_id": public_id, "name": "keys"}), 201)
    base = f"{API}/{exp['id']}/variants"
    slot = expect(
        admin.post(
            base, json={"label": "A", "weight": 1, "upstream": upstream(), "api_key": GOOD_KEY}
        ),
        201,
    )
    variant = f"{base}/{slot['id']}"
    for key, fragment in BAD_KEYS.values():
        _refused(
            admin.post(
                base, json={"label": "B", "weight": 1, "upstream": upstream(), "api_key": key}
            ),
            fragment,
        )
        _refused(
            admin.post(f"{variant}/versions", json={"upstream": upstream(), "api_key": key}),
            fragment,
        )
        _refused(admin.post(f"{variant}/rotate-key", json={"api_key": key}), fragment)
        _refused(
            admin.post(
                "/admin/api/models",
                json={"public_id": "acme/prod-key", "kind": "production", "api_key": key},
            ),
            fragment,
        )
        _refused(admin.patch(f"/admin/api/models/{public_id}", json={"api_key": key}), fragment)

    # Nothing was written: one slot with its one version, no new model.
    shown = expect(admin.get(f"{API}/{exp['id']}"), 200)
    assert [len(v["versions"]) for v in shown["variants"]] == [1]
    assert admin.get("/admin/api/models/acme/prod-key").status_code == 404
    # A good key still goes through every path.
    expect(admin.post(f"{variant}/rotate-key", json={"api_key": GOOD_KEY + "-2"}), 200)
    expect(admin.patch(f"/admin/api/models/{public_id}", json={"api_key": GOOD_KEY}), 200)
