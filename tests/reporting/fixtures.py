"""Seed experiments and experimented requests straight through the store models."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from previewgate.catalog.models import CatalogModel
from previewgate.evidence.models import ABSENT, ExperimentRequest
from previewgate.experiments.models import Experiment, Variant, VariantVersion
from previewgate.feedback.models import Feedback
from previewgate.reporting.queries import load_experiment
from previewgate.usage.models import Usage

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
# Fake ciphertext: none of these strings may ever appear in a report or API response.
SECRET_PARTS = {
    "iv": "IV-SECRET-9f3a",
    "data": "CIPHERTEXT-SECRET-77c1",
    "auth_tag": "TAG-SECRET-51",
}
FORBIDDEN = ("encrypted_api_key", "auth_tag", *SECRET_PARTS.values())


def assert_no_secrets(text: str) -> None:
    for needle in FORBIDDEN:
        assert needle not in text, needle


async def make_experiment(
    session: AsyncSession,
    slots: list[tuple[str, int]],
    *,
    versions: int = 1,
    public_id: str | None = None,
) -> Experiment:
    """An active experiment with one variant per (label, weight), each with ``versions``
    checkpoints effective one day apart from T0 (ids increasing with slot order)."""
    public_id = public_id or f"acme/preview-{uuid.uuid4().hex[:8]}"
    session.add(CatalogModel(public_id=public_id, kind="preview", disclosure_text="kept"))
    experiment = Experiment(public_model_id=public_id, name="exp", status="active")
    session.add(experiment)
    await session.flush()
    ids = sorted(uuid.uuid4() for _ in slots)  # control = first by id = first given
    for (label, weight), variant_id in zip(slots, ids, strict=True):
        session.add(Variant(id=variant_id, experiment_id=experiment.id, label=label, weight=weight))
        await session.flush()
        for n in range(versions):
            session.add(
                VariantVersion(
                    variant_id=variant_id,
                    upstream={
                        "internal_id": f"{label}-rc{n + 1}",
                        "base_url": f"https://{label}.example/v1",
                    },
                    encrypted_api_key=dict(SECRET_PARTS),
                    effective_at=T0 + timedelta(days=n),
                )
            )
    await session.flush()
    experiment_id = experiment.id
    session.expunge_all()
    return await load_experiment(session, experiment_id)


def request_rows(
    version_id: uuid.UUID,
    *,
    at: datetime,
    subject: str = "user",
    user_id: uuid.UUID | None = None,
    machine_id: str | None = None,
    client_ip: str | None = None,
    crid: str | None = None,
    error: bool = False,
    ttfb: int | None = None,
    total: int = 100,
    tokens: tuple[int | None, int | None] = (None, None),
    hashes: tuple[str, str, str] = (ABSENT, ABSENT, ABSENT),
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A (usage, attribution) pair of row dicts for a bulk insert."""
    usage_id = uuid.uuid4()
    usage = {
        "id": usage_id,
        "created_at": at,
        "user_id": user_id,
        "public_model_id": "acme/preview",
        "request_kind": "chat",
        "status_code": 500 if error else 200,
        "has_error": error,
        "error_kind": "upstream_5xx" if error else None,
        "input_tokens": tokens[0],
        "output_tokens": tokens[1],
        "cached_tokens": None,
        "cost_microusd": 0,
        "ttfb_ms": ttfb,
        "total_ms": total,
        "session_id": None,
        "machine_id": machine_id,
        "client_ip": client_ip,
        "streamed": True,
        "client_meta": None,
    }
    attribution = {
        "usage_id": usage_id,
        "variant_version_id": version_id,
        "allocation_subject": subject,
        "client_request_id": crid,
        "system_prompt_sha256": hashes[0],
        "request_body_sha256": hashes[1],
        "response_sha256": hashes[2],
        "was_truncated": False,
        "created_at": at,
    }
    return usage, attribution


async def insert_requests(
    session: AsyncSession, pairs: list[tuple[dict[str, Any], dict[str, Any]]]
) -> None:
    if pairs:
        await session.execute(insert(Usage), [u for u, _ in pairs])
        await session.execute(insert(ExperimentRequest), [a for _, a in pairs])


async def add_feedback(
    session: AsyncSession,
    crid: str,
    rating: str,
    at: datetime = T0,
    *,
    user_id: uuid.UUID | None = None,
    machine_id: str | None = None,
) -> None:
    """A rating by a user (``user_id``) or, for anonymous requests, by a machine."""
    session.add(
        Feedback(
            client_request_id=crid,
            rating=rating,
            user_id=user_id,
            machine_id=machine_id,
            created_at=at,
            updated_at=at,
        )
    )
    await session.flush()
