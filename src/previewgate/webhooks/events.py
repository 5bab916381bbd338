"""The events partners receive, each written by the change that causes it (``outbox.emit``).

Thin payloads that link rather than embed: ids, labels, counts, object keys.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from previewgate.experiments.models import Experiment, Variant
from previewgate.webhooks.outbox import emit, iso_seconds


async def experiment_status_changed(
    session: AsyncSession, experiment: Experiment, previous: str
) -> None:
    """To every partner owning a slot of the experiment."""
    partners = sorted({v.partner_id for v in experiment.variants if v.partner_id}, key=str)
    for partner_id in partners:
        await emit(
            session,
            partner_id,
            "experiment.status_changed",
            {
                "experiment_id": str(experiment.id),
                "public_model_id": experiment.public_model_id,
                "status": experiment.status,
                "previous_status": previous,
                "at": iso_seconds(experiment.updated_at),
            },
        )


async def checkpoint_swapped(
    session: AsyncSession, variant: Variant, version_id: uuid.UUID, effective_at: datetime
) -> None:
    """To the partner owning the slot."""
    if variant.partner_id is None:
        return
    await emit(
        session,
        variant.partner_id,
        "checkpoint.swapped",
        {
            "experiment_id": str(variant.experiment_id),
            "slot_label": variant.label,
            "version_id": str(version_id),
            "effective_at": iso_seconds(effective_at),
        },
    )


async def export_ready(
    session: AsyncSession,
    partner_id: uuid.UUID,
    day: date,
    manifest_key: str,
    files: Sequence[tuple[str, int, int]],  # (kind, bytes, records)
) -> None:
    await emit(
        session,
        partner_id,
        "export.ready",
        {
            "partner_id": str(partner_id),
            "day": day.isoformat(),
            "manifest_key": manifest_key,
            "files": len(files),
            "bytes": sum(b for _, b, _ in files),
            "records": sum(r for kind, _, r in files if kind == "traces"),
        },
    )


async def feedback_created(
    session: AsyncSession, partner_id: uuid.UUID, turn_ids: Sequence[str], rating: str
) -> None:
    await emit(
        session,
        partner_id,
        "feedback.created",
        {"turn_ids": list(turn_ids), "rating": rating},
    )
