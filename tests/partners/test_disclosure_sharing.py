"""Sharing with the checkpoint's provider is part of what a caller accepts: a flag on the
disclosure version, visible to callers, and a change of it needs fresh consent."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from previewgate.catalog.models import ModelDisclosure
from previewgate.runtime import Runtime
from tests.support.experiments import PREVIEW_ID, admin_client
from tests.support.servers import GatewayServer

MODELS = "/admin/api/models"


def test_the_sharing_flag_is_a_disclosure_version(gateway: GatewayServer) -> None:
    admin = admin_client(gateway)
    r = admin.post(MODELS, json={"public_id": PREVIEW_ID, "kind": "preview"})
    assert r.status_code == 201 and r.json()["disclosure_shares_with_partner"] is False
    shown = httpx.get(f"{gateway.base_url}/v1/preview-models/{PREVIEW_ID}").json()
    assert shown["shares_with_provider"] is False and shown["disclosure_version"] == 1

    r = admin.patch(f"{MODELS}/{PREVIEW_ID}", json={"disclosure_shares_with_partner": True})
    assert r.json()["disclosure_version"] == 2 and r.json()["disclosure_shares_with_partner"]
    same = admin.patch(f"{MODELS}/{PREVIEW_ID}", json={"disclosure_shares_with_partner": True})
    assert same.json()["disclosure_version"] == 2  # nothing changed: no new consent needed
    shown = httpx.get(f"{gateway.base_url}/v1/preview-models/{PREVIEW_ID}").json()
    assert shown["shares_with_provider"] is True and shown["disclosure_version"] == 2
    listed = httpx.get(f"{gateway.base_url}/v1/models").json()["data"]
    preview = next(m["preview"] for m in listed if m["id"] == PREVIEW_ID)
    assert preview["shares_with_provider"] is True

    assert (
        admin.patch(
            f"{MODELS}/{PREVIEW_ID}", json={"disclosure_shares_with_partner": None}
        ).status_code
        == 422
    )
    r = admin.post(
        MODELS,
        json={
            "public_id": "demo/prod",
            "kind": "production",
            "disclosure_shares_with_partner": True,
        },
    )
    assert r.status_code == 422, r.text
    assert gateway.call(_history) == [(1, False), (2, True)]


async def _history(runtime: Runtime) -> list[tuple[int, bool]]:
    async with runtime.sessions() as session:
        rows = await session.execute(
            select(ModelDisclosure.version, ModelDisclosure.shares_with_partner).order_by(
                ModelDisclosure.version
            )
        )
        return [(v, s) for v, s in rows]
