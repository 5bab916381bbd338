"""Retention: wipe, blob GC (folder and a real S3 endpoint) and the soft-delete policy."""

from __future__ import annotations

import os
import time
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from previewgate.accounts import service as accounts
from previewgate.errors import NotFound
from previewgate.evidence.blobs import BlobStore, FolderBlobStore
from previewgate.evidence.models import DELETED, ExperimentRequest
from previewgate.evidence.queries import referenced_keys
from previewgate.evidence.retention import gc_blobs, wipe_prompts
from previewgate.runtime import Runtime
from previewgate.store.base import utcnow
from previewgate.usage.models import Usage
from tests.reporting.fixtures import T0, insert_requests, make_experiment, request_rows
from tests.support.seed import create_user
from tests.support.servers import GatewayServer

Sessions = async_sessionmaker[AsyncSession]
HOUR = 3600.0


async def seed(session: AsyncSession, blobs: BlobStore) -> dict[str, object]:
    """Experiment ``wiped`` references blobs w1, w2 and ``shared``; ``kept`` references kept
    and ``shared``; ``orphan`` is referenced by nobody."""
    keys = {name: await blobs.put_if_absent(name.encode() * 10) for name in
            ("w1", "w2", "shared", "kept", "orphan")}  # fmt: skip
    wiped = await make_experiment(session, [("a", 1), ("b", 1)])
    kept = await make_experiment(session, [("c", 1)])
    pairs = [
        request_rows(wiped.variants[0].versions[0].id, at=T0, client_ip="1",
                     hashes=(keys["shared"], keys["w1"], keys["w2"])),
        request_rows(wiped.variants[1].versions[0].id, at=T0, client_ip="2",
                     hashes=("__absent__", keys["w2"], "__failed__")),
        request_rows(kept.variants[0].versions[0].id, at=T0, client_ip="3",
                     hashes=(keys["shared"], keys["kept"], "__absent__")),
    ]  # fmt: skip
    await insert_requests(session, pairs)
    await session.commit()
    return {"keys": keys, "wiped": wiped.id, "kept": kept.id}


async def stored(blobs: BlobStore) -> set[str]:
    return {key async for key, _ in blobs.iter_keys()}


async def test_wipe_then_gc(sessions: Sessions, blob_store: BlobStore) -> None:
    async with sessions() as session:
        seeded = await seed(session, blob_store)
        keys: dict[str, str] = seeded["keys"]  # type: ignore[assignment]
        assert await wipe_prompts(session, seeded["wiped"]) == 2  # type: ignore[arg-type]
        assert await wipe_prompts(session, seeded["wiped"]) == 0  # type: ignore[arg-type]
        await session.commit()
        rows = await session.execute(
            select(
                ExperimentRequest.system_prompt_sha256,
                ExperimentRequest.request_body_sha256,
                ExperimentRequest.response_sha256,
            )
        )
        expected = [(DELETED,) * 3, (DELETED,) * 3, (keys["shared"], keys["kept"], "__absent__")]
        assert sorted(rows.tuples()) == sorted(expected)
        assert await referenced_keys(session, list(keys.values())) == {keys["shared"], keys["kept"]}

        # Everything was just written: young, so nothing goes even though three are orphans.
        young = await gc_blobs(session, blob_store, HOUR)
        assert (young.scanned, young.deleted, young.kept_young) == (5, 0, 5)
        assert await stored(blob_store) == set(keys.values())

        later = utcnow() + timedelta(seconds=HOUR + 60)  # as if an hour had passed
        result = await gc_blobs(session, blob_store, HOUR, now=later)
    assert (result.scanned, result.deleted, result.kept_referenced, result.kept_young) == (
        5,
        3,
        2,
        0,
    )
    assert await stored(blob_store) == {keys["shared"], keys["kept"]}


async def test_gc_grace_by_object_age(sessions: Sessions, tmp_path: Path) -> None:
    """Folder store: objects aged with os.utime, one GC run keeps the young orphan."""
    blobs = FolderBlobStore(tmp_path / "blobs", fsync=False)
    async with sessions() as session:
        seeded = await seed(session, blobs)
        keys: dict[str, str] = seeded["keys"]  # type: ignore[assignment]
        await wipe_prompts(session, seeded["wiped"], drop_rows=True)  # type: ignore[arg-type]
        await session.commit()
        two_hours_ago = time.time() - 2 * HOUR
        for name in ("w1", "shared", "kept", "orphan"):
            path = blobs.root / keys[name][:2] / keys[name][2:4] / keys[name]
            os.utime(path, (two_hours_ago, two_hours_ago))
        result = await gc_blobs(session, blobs, HOUR)
    # w2 is an orphan too, but young; shared and kept are old but referenced.
    assert (result.deleted, result.kept_referenced, result.kept_young) == (2, 2, 1)
    assert await stored(blobs) == {keys["w2"], keys["shared"], keys["kept"]}


async def test_wipe_drop_rows_keeps_usage(sessions: Sessions, tmp_path: Path) -> None:
    blobs = FolderBlobStore(tmp_path / "blobs", fsync=False)
    async with sessions() as session:
        seeded = await seed(session, blobs)
        assert await wipe_prompts(session, seeded["wiped"], drop_rows=True) == 2  # type: ignore[arg-type]
        await session.commit()
        assert await session.scalar(select(func.count()).select_from(ExperimentRequest)) == 1
        assert await session.scalar(select(func.count()).select_from(Usage)) == 3
        with pytest.raises(NotFound):
            await wipe_prompts(session, uuid.uuid4())


async def test_soft_deleted_participant_keeps_rows_and_blobs(
    sessions: Sessions, tmp_path: Path
) -> None:
    blobs = FolderBlobStore(tmp_path / "blobs", fsync=False)
    async with sessions() as session:
        user = await accounts.create_user(session, "participant@example.com")
        experiment = await make_experiment(session, [("a", 1), ("b", 1)])
        key = await blobs.put_if_absent(b'{"messages": ["secret plan"]}')
        pair = request_rows(
            experiment.variants[0].versions[0].id,
            at=T0,
            user_id=user.id,
            hashes=("__absent__", key, "__absent__"),
        )
        await insert_requests(session, [pair])
        await accounts.soft_delete_user(session, user)
        await session.commit()
        assert user.deleted_at is not None
        row = await session.get(ExperimentRequest, pair[1]["usage_id"])
        assert row is not None and row.request_body_sha256 == key
        later = utcnow() + timedelta(days=1)
        result = await gc_blobs(session, blobs, HOUR, now=later)
    assert result.kept_referenced == 1 and result.deleted == 0
    assert await blobs.get(key) is not None


def test_retention_api(gateway: GatewayServer) -> None:
    async def prepare(rt: Runtime) -> dict[str, object]:
        async with rt.sessions() as session:
            return await seed(session, rt.blobs)

    seeded = gateway.call(prepare)
    keys: dict[str, str] = seeded["keys"]  # type: ignore[assignment]
    admin_key = gateway.call(lambda rt: create_user(rt, "ops@example.com", admin=True))
    user_key = gateway.call(lambda rt: create_user(rt, "dev@example.com"))
    admin = httpx.Client(
        base_url=gateway.base_url, headers={"authorization": f"Bearer {admin_key}"}, timeout=30
    )
    with admin:
        path = f"/admin/api/experiments/{seeded['wiped']}/wipe-prompts"
        response = admin.post(path)
        assert response.status_code == 200, response.text
        assert response.json()["rows"] == 2 and response.json()["drop_rows"] is False
        assert admin.post(path, json={"drop_rows": True}).json()["rows"] == 2
        assert admin.post(path, json={"drop_rows": "maybe"}).status_code == 422
        missing = admin.post(f"/admin/api/experiments/{T0.date()}/wipe-prompts")
        assert missing.status_code == 422
        unknown = admin.post(f"/admin/api/experiments/{uuid.uuid4()}/wipe-prompts")
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
        assert admin.post("/admin/api/gc", json={"grace_s": -1}).status_code == 422
        # Found by fuzzing: a grace reaching before year 1 overflowed into a 500.
        assert admin.post("/admin/api/gc", json={"grace_s": 1e300}).status_code == 422

        kept = admin.post("/admin/api/gc").json()  # default grace: 1 h, all young
        assert kept == {"grace_s": HOUR, "scanned": 5, "deleted": 0, "kept_referenced": 0,
                        "kept_young": 5}  # fmt: skip
        swept = admin.post("/admin/api/gc", json={"grace_s": 0})
        assert swept.status_code == 200, swept.text
        assert swept.json()["deleted"] == 3 and swept.json()["kept_referenced"] == 2
    assert gateway.call(lambda rt: stored(rt.blobs)) == {keys["shared"], keys["kept"]}
    forbidden = httpx.post(
        f"{gateway.base_url}/admin/api/gc", headers={"authorization": f"Bearer {user_key}"}
    )
    assert forbidden.status_code == 403
