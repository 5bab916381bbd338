"""Every read the experiment service makes, in one place."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from previewgate.catalog.partner_key import open_partner_key
from previewgate.catalog.upstream import UpstreamSpec
from previewgate.crypto import KeyCipher
from previewgate.errors import NotFound
from previewgate.experiments.models import ROUTING_STATUSES, Experiment, Variant, VariantVersion
from previewgate.routing.snapshot import ExperimentEntry, SlotEntry, VersionEntry

log = logging.getLogger(__name__)

STATUSES = ("draft", "active", "paused", "completed")


async def load_experiment(session: AsyncSession, experiment_id: uuid.UUID) -> Experiment:
    """The experiment with its variants and versions freshly loaded (not from the identity map)."""
    experiment = await session.scalar(
        select(Experiment)
        .where(Experiment.id == experiment_id)
        .execution_options(populate_existing=True)
    )
    if experiment is None:
        raise NotFound(f"experiment {experiment_id} does not exist")
    return experiment


async def list_experiments(
    session: AsyncSession, archived: bool | None, status: str | None
) -> list[Experiment]:
    query = select(Experiment).order_by(Experiment.created_at.desc(), Experiment.id)
    if archived is not None:
        query = query.where(Experiment.is_archived.is_(archived))
    if status is not None:
        query = query.where(Experiment.status == status)
    return list(await session.scalars(query))


async def routing_rival(session: AsyncSession, experiment: Experiment) -> Experiment | None:
    """Another active or paused experiment on the same public id, if any."""
    rival: Experiment | None = await session.scalar(
        select(Experiment).where(
            Experiment.public_model_id == experiment.public_model_id,
            Experiment.status.in_(ROUTING_STATUSES),
            Experiment.id != experiment.id,
        )
    )
    return rival


async def label_taken(
    session: AsyncSession, experiment_id: uuid.UUID, label: str, exclude: uuid.UUID | None
) -> bool:
    query = select(Variant.id).where(Variant.experiment_id == experiment_id, Variant.label == label)
    if exclude is not None:
        query = query.where(Variant.id != exclude)
    return await session.scalar(query) is not None


async def current_version(
    session: AsyncSession, variant_id: uuid.UUID, now: datetime
) -> VariantVersion | None:
    """Latest version with ``effective_at <= now``; a tie on effective_at goes to the greater id."""
    version: VariantVersion | None = await session.scalar(
        select(VariantVersion)
        .where(VariantVersion.variant_id == variant_id, VariantVersion.effective_at <= now)
        .order_by(VariantVersion.effective_at.desc(), VariantVersion.id.desc())
        .limit(1)
    )
    return version


async def effective_variant_ids(
    session: AsyncSession, variant_ids: Sequence[uuid.UUID], now: datetime
) -> set[uuid.UUID]:
    """The subset of ``variant_ids`` that have at least one version effective at ``now``."""
    if not variant_ids:
        return set()
    rows = await session.scalars(
        select(VariantVersion.variant_id)
        .where(VariantVersion.variant_id.in_(variant_ids), VariantVersion.effective_at <= now)
        .distinct()
    )
    return set(rows)


def pick_current(versions: Sequence[VariantVersion], now: datetime) -> VariantVersion | None:
    """The in-memory twin of ``current_version`` over already loaded versions."""
    effective = [v for v in versions if v.effective_at <= now]
    return max(effective, key=lambda v: (v.effective_at, v.id), default=None)


async def routing_experiments(
    session: AsyncSession, cipher: KeyCipher
) -> dict[str, ExperimentEntry]:
    """Active and paused experiments by public id: slots in assignment order (by variant id),
    each slot's versions by (effective_at, id). An experiment with a key that cannot be used
    is ``unroutable`` (fails closed) rather than routed to the slots that remain."""
    experiments: dict[str, ExperimentEntry] = {}
    rows = await session.scalars(select(Experiment).where(Experiment.status.in_(ROUTING_STATUSES)))
    for exp in rows:
        unroutable = False
        slots = []
        for variant in sorted(exp.variants, key=lambda v: v.id):
            versions = []
            for version in sorted(variant.versions, key=lambda v: (v.effective_at, v.id)):
                key, key_error = open_partner_key(cipher, version.encrypted_api_key)
                if key is None or key_error:
                    unroutable = True
                    continue
                upstream = UpstreamSpec.model_validate(version.upstream)
                versions.append(VersionEntry(version.id, version.effective_at, upstream, key))
            slots.append(SlotEntry(variant.id, variant.label, variant.weight, tuple(versions)))
        if unroutable:
            log.error("experiment %s has keys that cannot be decrypted; failing closed", exp.id)
        experiments[exp.public_model_id] = ExperimentEntry(
            id=exp.id,
            id_str=str(exp.id),
            public_id=exp.public_model_id,
            status=exp.status,
            require_opt_in=exp.require_opt_in,
            allow_anonymous=exp.allow_anonymous,
            slots=tuple(slots),
            weights=tuple(s.weight for s in slots),
            unroutable=unroutable or not slots,
        )
    return experiments
