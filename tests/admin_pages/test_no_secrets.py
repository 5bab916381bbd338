"""No admin page ever contains a partner key or its ciphertext (both store backends)."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select

from previewgate.experiments.models import VariantVersion
from previewgate.runtime import Runtime
from tests.admin_pages.helpers import admin_api, chat, csrf_of, signed_in_client
from tests.support.experiments import PREVIEW_ID, create_preview_model, start_experiment
from tests.support.servers import GatewayServer, MockServer

LINK = re.compile(r'href="(/admin/[^"#]*)"')


async def _ciphertexts(rt: Runtime) -> list[str]:
    async with rt.sessions() as session:
        sealed = await session.scalars(select(VariantVersion.encrypted_api_key))
        return [value for item in sealed for value in item.values()]


def _crawl(client: httpx.Client, start: list[str]) -> dict[str, str]:
    """Every admin page reachable by links from ``start`` (GET only; sign-out is a form)."""
    seen: dict[str, str] = {}
    queue = list(start)
    while queue:
        path = queue.pop().replace("&amp;", "&")
        if path in seen or path.startswith("/admin/static/"):
            continue
        r = client.get(path)
        assert r.status_code == 200, (path, r.status_code)
        seen[path] = r.text
        queue += LINK.findall(r.text)
    return seen


def test_pages_never_show_keys_or_ciphertext(
    backend: str, pages: GatewayServer, admin_key: str, mock: MockServer
) -> None:
    admin = admin_api(pages, admin_key)
    create_preview_model(admin)
    exp = start_experiment(admin, [mock, mock])
    keys = [slot.api_key for slot in exp.slots]
    rotated = "sk-rotated-over-rest-5d1e"
    r = exp.post(f"/variants/{exp.slots[1].variant_id}/rotate-key", json={"api_key": rotated})
    assert r.status_code == 200, r.text
    keys.append(rotated)
    for i in range(3):
        assert chat(pages, PREVIEW_ID, f"hello {i}", f"m-{i}") == 200
    pages.flush()

    client = signed_in_client(pages, admin_key)
    detail = f"/admin/experiments/{exp.id}"
    token = csrf_of(client.get(detail).text)
    swapped = "sk-swapped-in-the-page-c0ffee"
    upstream = f'{{"internal_id": "rc-page", "base_url": "{mock.base_url}"}}'
    variant = f"{detail}/variants/{exp.slots[0].variant_id}"
    r = client.post(
        f"{variant}/versions",
        data={"csrf_token": token, "upstream": upstream, "api_key": swapped},
    )
    assert r.status_code == 303, r.text
    # A refused form is re-rendered: the key typed into it must not come back either.
    refused = "sk-refused-form-key-aa11"
    r = client.post(
        f"{variant}/versions",
        data={"csrf_token": token, "upstream": '{"internal_id": 1}', "api_key": refused},
    )
    assert r.status_code == 422 and "internal_id" in r.text
    assert refused not in r.text
    rotated_page = "sk-rotated-in-the-page-beef"
    r = client.post(f"{variant}/rotate-key", data={"csrf_token": token, "api_key": rotated_page})
    assert r.status_code == 303, r.text
    keys += [swapped, rotated_page]

    found = _crawl(
        client,
        [
            "/admin/experiments",
            "/admin/experiments?archived=on",
            "/admin/experiments/new",
            f"{detail}/requests?errors=errors",
        ],
    )
    assert detail in found and f"{detail}/requests" in found
    assert any(path.startswith("/admin/prompts/") for path in found)
    forbidden = [*keys, "encrypted_api_key", "auth_tag", *pages.call(_ciphertexts)]
    assert len(forbidden) > 10
    for path, html in found.items():
        for needle in forbidden:
            assert needle not in html, (path, needle)
    anonymous = httpx.Client(base_url=pages.base_url).get("/admin/sign-in")
    for needle in forbidden:
        assert needle not in anonymous.text
