"""The demo's production model is priced: answers show a non-zero usage.cost."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from previewgate.accounts.models import User
from previewgate.demo.seed import (
    DEMO_ADMIN,
    DEMO_CREDIT_MICROUSD,
    DEMO_MODEL,
    DEMO_PREVIEW,
    seed_demo,
    seed_demo_experiment,
)
from previewgate.usage.models import Usage
from tests.support.servers import GatewayServer, MockServer


def _seed(gateway: GatewayServer, data_dir: Path, base: str) -> str:
    async def seed(rt: Any) -> str:
        async with rt.sessions() as session, session.begin():
            seeded = await seed_demo(session, rt.cipher, data_dir, base)
            await seed_demo_experiment(session, rt.cipher, [base, base])
        await rt.routing.refresh_now()
        return seeded.admin_key

    return gateway.call(seed)


def _ask(gateway: GatewayServer, model: str, **headers: str) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "Hi"}]}
    return httpx.post(
        f"{gateway.base_url}/v1/chat/completions",
        json=body | {"usage": {"include": True}},
        headers=headers,
        timeout=30,
    )


def test_demo_answers_cost_money_but_preview_traffic_is_free(
    backend: str, gateway: GatewayServer, mock: MockServer, tmp_path: Path
) -> None:
    key = _seed(gateway, tmp_path, mock.base_url)
    assert _seed(gateway, tmp_path, mock.base_url) == key  # re-seeding keeps key and prices
    answer = _ask(gateway, DEMO_MODEL, authorization=f"Bearer {key}")
    assert answer.status_code == 200, answer.text
    cost = answer.json()["usage"]["cost"]
    assert cost > 0
    preview = _ask(gateway, DEMO_PREVIEW, **{"x-machine-id": "demo-laptop"})
    assert preview.status_code == 200 and preview.json()["usage"]["cost"] == 0
    # A priced model needs a key with credit: anonymous callers are told so.
    assert _ask(gateway, DEMO_MODEL).status_code == 401
    listed = httpx.get(f"{gateway.base_url}/api/openrouter/models").json()["data"]
    pricing = {m["id"]: m["pricing"] for m in listed}
    assert float(pricing[DEMO_MODEL]["prompt"]) > 0 and float(pricing[DEMO_MODEL]["completion"]) > 0
    gateway.flush()

    async def rows(rt: Any) -> tuple[dict[str, int], int]:
        async with rt.sessions() as session:
            usage = {
                u.public_model_id: u.cost_microusd for u in await session.scalars(select(Usage))
            }
            admin = await session.scalar(select(User).where(User.email == DEMO_ADMIN))
            return usage, admin.balance_microusd

    usage, balance = gateway.call(rows)
    assert usage[DEMO_MODEL] == round(cost * 1_000_000) > 0 and usage[DEMO_PREVIEW] == 0
    assert balance == DEMO_CREDIT_MICROUSD - usage[DEMO_MODEL]
