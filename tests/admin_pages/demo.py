"""A seeded demo with a day of history, for screenshots and the narrow-screen test.

History needs versions effective in the past, which no service creates (a hot-swap is
always effective now), so the rows are written straight through the store models.
"""

from __future__ import annotations

import math
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from previewgate.catalog.models import CatalogModel
from previewgate.evidence.models import ABSENT, ExperimentRequest
from previewgate.experiments.assignment import Subject, pick_slot
from previewgate.experiments.models import Experiment, Variant, VariantVersion
from previewgate.runtime import Runtime
from previewgate.usage.models import Usage

PUBLIC_ID = "acme/preview-experiment-foo"
DISCLOSURE = "Prompts may be retained for 30 days for experiment analysis."
# (label, weight, [(internal id, hours ago, mean latency ms, error rate)])
BAKE_OFF = [
    ("control", 1, [("acme-rc3", 24, 900, 0.02)]),
    ("candidate", 1, [("acme-rc4", 24, 820, 0.06), ("acme-rc4.1", 10, 700, 0.015)]),
]
OTHERS = [
    ("Sequential: tool-use RC", "acme/preview-coder", "paused", [("rc", 1)]),
    ("Q1 latency study", "globex/preview-chat", "completed", [("a", 3), ("b", 1)]),
    ("Long-context RC", "globex/preview-chat", "draft", [("base", 1), ("long", 1)]),
]


def _version(
    variant_id: uuid.UUID, internal: str, at: datetime, rt: Runtime, by: uuid.UUID
) -> VariantVersion:
    return VariantVersion(
        variant_id=variant_id,
        upstream={"internal_id": internal, "base_url": "https://rc.acme.example/v1"},
        encrypted_api_key=rt.cipher.encrypt(f"sk-demo-{internal}"),
        effective_at=at,
        created_by=by,
        created_at=at,
    )


def _pair(
    version_id: uuid.UUID,
    at: datetime,
    rng: random.Random,
    mean: int,
    error_rate: float,
    machine: str,
) -> tuple[dict[str, Any], dict[str, Any]]:
    usage_id = uuid.uuid4()
    error = rng.random() < error_rate
    total = int(rng.lognormvariate(math.log(mean), 0.35))
    usage = {
        "id": usage_id,
        "created_at": at,
        "user_id": None,
        "public_model_id": PUBLIC_ID,
        "request_kind": "chat",
        "status_code": 502 if error else 200,
        "has_error": error,
        "error_kind": "upstream_5xx" if error else None,
        "input_tokens": rng.randint(400, 3000),
        "output_tokens": rng.randint(80, 900),
        "cached_tokens": 0,
        "cost_microusd": 0,
        "ttfb_ms": int(total * 0.3),
        "total_ms": total,
        "session_id": None,
        "machine_id": machine,
        "client_ip": None,
        "streamed": True,
        "client_meta": None,
    }
    attribution = {
        "usage_id": usage_id,
        "variant_version_id": version_id,
        "allocation_subject": "machine",
        "client_request_id": f"demo-{usage_id.hex[:12]}",
        "system_prompt_sha256": ABSENT,
        "request_body_sha256": ABSENT,
        "response_sha256": ABSENT,
        "was_truncated": False,
        "created_at": at,
    }
    return usage, attribution


async def seed_demo(rt: Runtime, admin_id: uuid.UUID, now: datetime | None = None) -> uuid.UUID:
    """Four experiments (active with history, paused, completed, draft); returns the active one."""
    now = now or datetime.now(UTC)
    async with rt.sessions() as session, session.begin():
        for model in (PUBLIC_ID, "acme/preview-coder", "globex/preview-chat"):
            session.add(
                CatalogModel(
                    public_id=model,
                    kind="preview",
                    disclosure_text=DISCLOSURE,
                    disclosure_version=1,
                )
            )
        await session.flush()
        bake_off = Experiment(
            public_model_id=PUBLIC_ID,
            name="Checkpoint bake-off: rc3 vs rc4",
            description="Two release candidates of the acme preview model, split 50/50.",
            status="active",
            created_by=admin_id,
            created_at=now - timedelta(hours=25),
            started_at=now - timedelta(hours=24),
        )
        session.add(bake_off)
        await session.flush()
        periods = await _bake_off_versions(session, rt, bake_off.id, admin_id, now)
        for name, model, status, slots in OTHERS:
            await _other(session, rt, admin_id, now, name, model, status, slots)
        pairs = _history(bake_off.id, periods)
        await session.execute(insert(Usage), [u for u, _ in pairs])
        await session.execute(insert(ExperimentRequest), [a for _, a in pairs])
        bake_off_id = bake_off.id
    await rt.routing.refresh_now()
    return bake_off_id


# (version id, slot index, start, end, mean latency, error rate)
Period = tuple[uuid.UUID, int, datetime, datetime, int, float]


async def _bake_off_versions(
    session: AsyncSession, rt: Runtime, exp_id: uuid.UUID, admin_id: uuid.UUID, now: datetime
) -> list[Period]:
    periods: list[Period] = []
    ids = sorted(uuid.uuid4() for _ in BAKE_OFF)  # slot order is id order
    for slot, (variant_id, (label, weight, versions)) in enumerate(zip(ids, BAKE_OFF, strict=True)):
        session.add(Variant(id=variant_id, experiment_id=exp_id, label=label, weight=weight))
        await session.flush()
        ends = [now - timedelta(hours=v[1]) for v in versions[1:]] + [now]
        for (internal, hours, mean, errors), end in zip(versions, ends, strict=True):
            version = _version(variant_id, internal, now - timedelta(hours=hours), rt, admin_id)
            session.add(version)
            await session.flush()
            periods.append((version.id, slot, version.effective_at, end, mean, errors))
    return periods


async def _other(
    session: AsyncSession,
    rt: Runtime,
    admin_id: uuid.UUID,
    now: datetime,
    name: str,
    model: str,
    status: str,
    slots: list[tuple[str, int]],
) -> None:
    created = now - timedelta(days=3)
    exp = Experiment(
        public_model_id=model,
        name=name,
        status=status,
        created_by=admin_id,
        created_at=created,
        started_at=None if status == "draft" else created,
        ended_at=now - timedelta(days=1) if status == "completed" else None,
    )
    session.add(exp)
    await session.flush()
    for label, weight in slots:
        variant = Variant(experiment_id=exp.id, label=label, weight=weight)
        session.add(variant)
        await session.flush()
        session.add(_version(variant.id, f"{label}-rc1", created, rt, admin_id))
    await session.flush()


def _history(exp_id: uuid.UUID, periods: list[Period]) -> list[Any]:
    """A day of requests with a daily rhythm; each machine always lands in its own slot."""
    rng = random.Random(7)
    weights = [w for _, w, _ in BAKE_OFF]
    machines = [f"machine-{n}" for n in range(400)]
    by_slot: dict[int, list[str]] = {}
    for machine in machines:
        slot = pick_slot(str(exp_id), Subject("machine", machine), weights)
        by_slot.setdefault(slot, []).append(machine)
    pairs = []
    for version_id, slot, start, end, mean, errors in periods:
        at = start
        while True:
            per_hour = 24 + 14 * math.sin((at.hour - 9) / 24 * 2 * math.pi)
            at += timedelta(seconds=3600 / per_hour * rng.uniform(0.5, 1.5))
            if at >= end:
                break
            machine = rng.choice(by_slot[slot])
            pairs.append(_pair(version_id, at, rng, mean, errors, machine))
    return pairs
