"""Request browser paging, sentinels and body lookup over HTTP (both store backends)."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import update

from previewgate.evidence.models import FAILED, ExperimentRequest
from previewgate.runtime import Runtime
from tests.admin_pages.helpers import admin_api, chat, signed_in_client
from tests.support.experiments import PREVIEW_ID, create_preview_model, start_experiment
from tests.support.servers import GatewayServer, MockServer

OLDER = re.compile(r'href="([^"]+)" rel="next"')
SHA = re.compile(r'data-sha="([0-9a-f]{64})"')


async def _fail_responses(rt: Runtime) -> None:
    async with rt.sessions() as session, session.begin():
        await session.execute(update(ExperimentRequest).values(response_sha256=FAILED))


def test_pages_of_requests_with_sentinels_and_bodies(
    backend: str, pages: GatewayServer, admin_key: str, mock: MockServer
) -> None:
    admin = admin_api(pages, admin_key)
    create_preview_model(admin)
    exp = start_experiment(admin, [mock])
    for i in range(3):
        assert chat(pages, PREVIEW_ID, f"message number {i}", f"m-{i}") == 200
    pages.flush()
    client = signed_in_client(pages, admin_key)
    base = f"/admin/experiments/{exp.id}/requests"

    first = client.get(base, params={"limit": 2})
    assert first.status_code == 200
    assert first.text.count('<li class="request') == 2
    shas = SHA.findall(first.text)
    assert len(shas) == 6  # system prompt, rest and response of two requests
    body = client.get(f"/admin/prompts/{shas[1]}")
    assert body.status_code == 200 and body.headers["content-type"] == "application/json"
    assert "message number 2" in body.text  # newest first

    older = OLDER.search(first.text)
    assert older, "no link to the older page"
    second = client.get(older.group(1).replace("&amp;", "&"))
    assert second.text.count('<li class="request') == 1
    assert OLDER.search(second.text) is None
    oldest = SHA.findall(second.text)
    assert "message number 0" in client.get(f"/admin/prompts/{oldest[1]}").text

    pages.call(_fail_responses)
    page = client.get(base)
    assert page.text.count(">storage failed<") == 3

    assert client.get("/admin/prompts/__absent__").status_code == 422
    assert client.get("/admin/prompts/" + "0" * 64).status_code == 404
    anonymous = httpx.Client(base_url=pages.base_url)
    assert anonymous.get(f"/admin/prompts/{shas[1]}").status_code == 303
