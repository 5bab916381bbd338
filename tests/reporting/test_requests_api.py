"""Admin reporting API over real HTTP: stats, the request browser and prompt lookup."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from previewgate.evidence.blobs import BlobStore
from previewgate.runtime import Runtime
from tests.reporting.fixtures import (
    T0,
    assert_no_secrets,
    insert_requests,
    make_experiment,
    request_rows,
)
from tests.support.seed import create_user
from tests.support.servers import GatewayServer

SHA = "ab" * 32


async def seed(runtime: Runtime) -> dict[str, Any]:
    """Two slots; 23 requests (ties on created_at, every 4th an error) plus another experiment."""
    async with runtime.sessions() as session:
        experiment = await make_experiment(session, [("a", 1), ("b", 1)])
        other = await make_experiment(session, [("x", 1)])
        a1 = experiment.variants[0].versions[0].id
        b1 = experiment.variants[1].versions[0].id
        pairs = [
            request_rows(
                a1 if i % 3 else b1,
                at=T0 + timedelta(minutes=i // 2),  # pairs share a timestamp
                client_ip=f"ip{i}",
                crid=f"m{i}",
                error=i % 4 == 0,
                ttfb=100 + i,
                total=1000 + i,
                hashes=(SHA, SHA, "__absent__"),
            )
            for i in range(23)
        ]
        pairs.append(request_rows(other.variants[0].versions[0].id, at=T0, client_ip="z"))
        await insert_requests(session, pairs)
        await session.commit()
    keys = [
        (a["created_at"], a["usage_id"], a["variant_version_id"], u["has_error"])
        for u, a in pairs[:-1]
    ]
    return {
        "experiment": str(experiment.id),
        "a1": str(a1),
        "b1": str(b1),
        "expected": sorted(keys, reverse=True),
    }


@pytest.fixture
def admin(gateway: GatewayServer) -> Iterator[httpx.Client]:
    key = gateway.call(lambda rt: create_user(rt, "ops@example.com", admin=True))
    with httpx.Client(
        base_url=gateway.base_url, headers={"authorization": f"Bearer {key}"}, timeout=30
    ) as client:
        yield client


def walk(client: httpx.Client, path: str, **params: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = client.get(path, params=query)
        assert response.status_code == 200, response.text
        assert_no_secrets(response.text)
        body = response.json()
        assert len(body["data"]) <= params["limit"]
        rows += body["data"]
        cursor = body["next_cursor"]
        if cursor is None:
            return rows


def test_request_browser_pages_newest_first(gateway: GatewayServer, admin: httpx.Client) -> None:
    seeded = gateway.call(seed)
    path = f"/admin/api/experiments/{seeded['experiment']}/requests"
    expected = seeded["expected"]

    rows = walk(admin, path, limit=5)
    assert [r["usage_id"] for r in rows] == [str(e[1]) for e in expected]
    assert rows[0]["internal_id"] in ("a-rc1", "b-rc1") and rows[0]["base_url"].startswith("https")
    assert rows[0]["system_prompt_sha256"] == SHA and "total_ms" in rows[0]

    errors = walk(admin, path, limit=2, has_error="true")
    assert [r["usage_id"] for r in errors] == [str(e[1]) for e in expected if e[3]]
    only_b = walk(admin, path, limit=3, variant_version_id=seeded["b1"], has_error="false")
    assert [r["usage_id"] for r in only_b] == [
        str(e[1]) for e in expected if str(e[2]) == seeded["b1"] and not e[3]
    ]

    for params, status in [
        ({"limit": 0}, 422),
        ({"limit": 201}, 422),
        ({"cursor": "not-a-cursor"}, 422),
        ({"variant_version_id": str(uuid.uuid4())}, 404),
    ]:
        response = admin.get(path, params=params)
        assert response.status_code == status, response.text
        assert set(response.json()["error"]) == {"message", "type", "code"}
    missing = admin.get(f"/admin/api/experiments/{uuid.uuid4()}/requests")
    assert missing.status_code == 404


def test_stats_endpoint(gateway: GatewayServer, admin: httpx.Client) -> None:
    seeded = gateway.call(seed)
    path = f"/admin/api/experiments/{seeded['experiment']}/stats"
    response = admin.get(path, params={"mode": "fixed_horizon"})
    assert response.status_code == 200, response.text
    assert_no_secrets(response.text)
    report = response.json()
    assert report["inference"]["mode"] == "fixed_horizon"
    assert sum(row["requests"] for row in report["versions"]) == 23
    assert sum(row["errors"] for row in report["versions"]) == 6
    later = admin.get(path, params={"since": (T0 + timedelta(minutes=6)).isoformat()}).json()
    assert sum(row["requests"] for row in later["versions"]) == 11
    naive = admin.get(path, params={"since": "2025-03-01T12:06:00"}).json()
    assert naive["versions"] == later["versions"]
    assert admin.get(path, params={"allocation_subject": "robot"}).status_code == 422
    assert admin.get(path, params={"since": "2026-01-01", "until": "2025-01-01"}).status_code == 422
    assert admin.get(f"/admin/api/experiments/{uuid.uuid4()}/stats").status_code == 404
    user_key = gateway.call(lambda rt: create_user(rt, "dev@example.com"))
    forbidden = httpx.get(
        gateway.base_url + path, headers={"authorization": f"Bearer {user_key}"}, timeout=30
    )
    assert forbidden.status_code == 403
    assert httpx.get(gateway.base_url + path, timeout=30).status_code == 401


class SpyStore:
    """Wraps the real store and records every key asked for."""

    def __init__(self, inner: BlobStore) -> None:
        self.inner = inner
        self.asked: list[str] = []

    async def get(self, sha256: str) -> bytes | None:
        self.asked.append(sha256)
        return await self.inner.get(sha256)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_prompt_lookup(gateway: GatewayServer, admin: httpx.Client) -> None:
    body = b'{"messages":[{"role":"user","content":"hi"}]}'
    key = gateway.call(lambda rt: rt.blobs.put_if_absent(body))
    spy = SpyStore(gateway.runtime.blobs)
    gateway.runtime.blobs = spy  # type: ignore[assignment]

    found = admin.get(f"/admin/api/prompts/{key}")
    assert found.status_code == 200 and found.content == body
    assert found.headers["content-type"].startswith("application/json")
    unknown = admin.get(f"/admin/api/prompts/{'0' * 64}")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
    assert spy.asked == [key, "0" * 64]

    for bad in [
        "__absent__",
        "__deleted__",
        key.upper(),
        key[:63],
        key + "0",
        "..%2F..%2Fetc%2Fpasswd",
    ]:
        response = admin.get(f"/admin/api/prompts/{bad}")
        assert response.status_code == 422, (bad, response.text)
        assert response.json()["error"]["code"] == "invalid_input"
    traversal = admin.get("/admin/api/prompts/../../etc/passwd")
    assert 400 <= traversal.status_code < 500
    assert spy.asked == [key, "0" * 64]  # no invalid key ever reached the store
    assert httpx.get(f"{gateway.base_url}/admin/api/prompts/{key}").status_code == 401
