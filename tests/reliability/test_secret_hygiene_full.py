"""One full run, then a scan of everything it left behind for every plaintext key.

Extends tests/gateway/test_secret_hygiene.py (responses and logs) to the store and the
blob store: every row of every table outside the ``encrypted_api_key`` columns, and
every blob. Our own API keys are scanned too (only their sha256 may be stored), and the
logs must not carry prompt text either.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import MetaData, select

from tests.reliability.helpers import PROD_ID, URL
from tests.support.experiments import (
    PREVIEW_ID,
    admin_client,
    create_preview_model,
    start_experiment,
)
from tests.support.seed import create_user
from tests.support.servers import GatewayServer, MockServer

ENCRYPTED = "encrypted_api_key"


async def dump_tables(rt: Any) -> tuple[list[str], list[str]]:
    """(every stored value outside encrypted columns, every value inside them), as text."""
    plain: list[str] = []
    sealed: list[str] = []
    metadata = MetaData()
    async with rt.engine.connect() as conn:
        await conn.run_sync(metadata.reflect)
        for table in metadata.sorted_tables:
            for row in (await conn.execute(select(table))).mappings():
                for column, value in row.items():
                    (sealed if column == ENCRYPTED else plain).append(f"{table.name}.{value!r}")
    assert "usage" in metadata.tables and "model_experiment_request" in metadata.tables
    return plain, sealed


async def dump_blobs(rt: Any) -> list[bytes]:
    return [await rt.blobs.get(key) or b"" async for key, _ in rt.blobs.iter_keys()]


def _traffic(gw: GatewayServer, marker: str) -> list[httpx.Response]:
    responses = []
    with httpx.Client(base_url=gw.base_url, timeout=30) as c:
        for i in range(6):
            for content in ("hello", "#mock:500", "#mock:429", "#mock:400", "#mock:cut"):
                for model in (PROD_ID, PREVIEW_ID):
                    body = {
                        "model": model,
                        "stream": i % 2 == 0,
                        "messages": [
                            {"role": "system", "content": f"system {marker}"},
                            {"role": "user", "content": f"{content} {marker}"},
                        ],
                    }
                    headers = {"x-kilocode-machineid": f"m{i}", "x-kilo-request": f"r{i}"}
                    responses.append(c.post(URL, json=body, headers=headers))
    return responses


def test_no_plaintext_key_anywhere(
    gateway: GatewayServer, mocks: list[MockServer], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    admin = admin_client(gateway)
    member_key = gateway.call(lambda rt: create_user(rt, "member@example.com"))
    admin_key = admin.headers["authorization"].removeprefix("Bearer ")
    model_key = "sk-catalog-secret-6d1e0f"
    responses = [
        admin.post(
            "/admin/api/models",
            json={
                "public_id": PROD_ID,
                "kind": "production",
                "api_key": model_key,
                "upstream": {"internal_id": "prod-internal-xq", "base_url": mocks[2].base_url},
            },
        )
    ]
    create_preview_model(admin)
    exp = start_experiment(admin, mocks[:2])
    keys = [admin_key, member_key, model_key, *(s.api_key for s in exp.slots)]
    for n, slot in enumerate(exp.slots):
        swapped, rotated = f"sk-swapped-{n}-a9f1c2", f"sk-rotated-{n}-b7e3d4"
        keys += [swapped, rotated]
        upstream = {"internal_id": f"{slot.internal_id}-v2", "base_url": slot.mock.base_url}
        responses.append(
            exp.post(
                f"/variants/{slot.variant_id}/versions",
                json={"upstream": upstream, "api_key": swapped},
            )
        )
        responses.append(
            exp.post(f"/variants/{slot.variant_id}/rotate-key", json={"api_key": rotated})
        )
    responses.append(
        admin.patch(f"/admin/api/models/{PROD_ID}", json={"api_key": "sk-catalog-rotated-77aa"})
    )
    keys.append("sk-catalog-rotated-77aa")
    assert all(r.status_code < 300 for r in responses), [r.text for r in responses]
    for path in ("/admin/api/experiments", f"/admin/api/experiments/{exp.id}", "/admin/api/models"):
        responses.append(admin.get(path))
    responses.append(admin.get(f"/admin/api/models/{PROD_ID}"))
    responses.append(httpx.get(f"{gateway.base_url}/v1/models"))
    marker = f"PROMPT-MARKER-{uuid.uuid4().hex}"
    responses += _traffic(gateway, marker)
    gateway.flush()
    statuses = {r.status_code for r in responses}
    assert {200, 400, 429, 500} <= statuses, statuses  # successes and errors were both served

    for r in responses:
        seen = r.text + "".join(f"{k}:{v}" for k, v in r.headers.items())
        leaked = [k for k in keys if k in seen]
        assert not leaked, (r.request.url, leaked)
    plain, sealed = gateway.call(dump_tables)
    stored = "\n".join(plain)
    assert "r0" in stored and PREVIEW_ID in stored  # the dump really holds the run's rows
    for key in keys:
        assert key not in stored, f"plaintext key stored outside {ENCRYPTED}"
        assert all(key not in value for value in sealed), "an encrypted column holds plaintext"
    blobs = gateway.call(dump_blobs)
    assert any(marker.encode() in b for b in blobs)  # prompts were captured...
    for key in keys:
        assert all(key.encode() not in b for b in blobs), "a blob holds a key"
    assert caplog.records, "nothing was logged: the scan would prove nothing"
    logged = caplog.text + "\n".join(str(r.args) for r in caplog.records)
    for key in keys:
        assert key not in logged, "a key reached the logs"
    assert marker not in logged, "prompt text reached the logs"
