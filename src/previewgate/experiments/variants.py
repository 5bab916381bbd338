"""Slots (variants) and their insert-only checkpoint versions.

A version row is only ever inserted: a hot-swap or a key rotation adds a new one
with ``effective_at = now`` and the old one stays, so attribution rows keep
pointing at the checkpoint that actually served them. (Removing a *draft* slot
drops its versions through the foreign-key cascade; a draft never served traffic.)
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from previewgate.catalog.partner_key import require_partner_key
from previewgate.catalog.service import parse_upstream
from previewgate.crypto import EncryptionKeyMissing, KeyCipher
from previewgate.errors import Conflict, NotFound
from previewgate.experiments import lifecycle, queries
from previewgate.experiments.models import Experiment, Variant, VariantVersion
from previewgate.experiments.schemas import VariantCreate, VariantUpdate
from previewgate.store.base import utcnow
from previewgate.webhooks import events

LABEL_RULE = "variant labels are unique within an experiment"


def find_variant(experiment: Experiment, ref: uuid.UUID | str) -> Variant:
    """The experiment's variant with this id, or (for the CLI) this label; 404 otherwise."""
    for variant in experiment.variants:
        if str(variant.id) == str(ref):
            return variant
    for variant in experiment.variants:
        if variant.label == ref:
            return variant
    raise NotFound(f"experiment {experiment.id} has no variant {ref}")


async def current_version(
    session: AsyncSession, variant_id: uuid.UUID, now: datetime | None = None
) -> VariantVersion | None:
    """The version serving the slot at ``now``: latest ``effective_at <= now``, ties → greater id.

    Deterministic for versions sharing an ``effective_at``; the gateway's snapshot
    applies the same order. None when no version is effective yet.
    """
    return await queries.current_version(session, variant_id, now or utcnow())


async def add_variant(
    session: AsyncSession,
    cipher: KeyCipher,
    experiment_id: uuid.UUID,
    data: VariantCreate,
    created_by: uuid.UUID | None = None,
) -> Variant:
    """Create a slot and its first version (effective now). Draft only."""
    experiment = await queries.load_experiment(session, experiment_id)
    lifecycle.check_structural_edit(experiment)
    await _check_label_free(session, experiment, data.label, None)
    upstream = parse_upstream(data.upstream).stored()
    sealed = _seal(cipher, data.api_key)
    now = utcnow()
    variant = Variant(
        experiment_id=experiment.id,
        label=data.label,
        weight=data.weight,
        created_at=now,
        updated_at=now,
    )
    session.add(variant)
    await _flush_label(session, data.label)
    _insert_version(session, variant.id, upstream, sealed, now, created_by)
    experiment.updated_at = now
    await session.flush()
    return await _reloaded(session, experiment_id, variant.id)


async def update_variant(
    session: AsyncSession, experiment_id: uuid.UUID, variant_id: uuid.UUID, data: VariantUpdate
) -> Variant:
    """Relabel (any status but completed) and/or reweight (draft only; same weight is a no-op)."""
    experiment = await queries.load_experiment(session, experiment_id)
    variant = find_variant(experiment, variant_id)
    if data.weight is not None and data.weight != variant.weight:
        lifecycle.check_structural_edit(experiment)
        variant.weight = data.weight
    if data.label is not None and data.label != variant.label:
        lifecycle.check_label_edit(experiment)
        await _check_label_free(session, experiment, data.label, variant.id)
        variant.label = data.label
    now = utcnow()
    variant.updated_at = experiment.updated_at = now
    await _flush_label(session, variant.label)
    return await _reloaded(session, experiment_id, variant.id)


async def set_variant_partner(
    session: AsyncSession,
    experiment_id: uuid.UUID,
    variant_ref: uuid.UUID | str,
    partner_id: uuid.UUID | None,
) -> Variant:
    """The partner owning the slot's checkpoints, past and future (any status)."""
    experiment = await queries.load_experiment(session, experiment_id)
    variant = find_variant(experiment, variant_ref)
    variant.partner_id = partner_id
    variant.updated_at = utcnow()
    await session.flush()
    return await _reloaded(session, experiment_id, variant.id)


async def remove_variant(
    session: AsyncSession, experiment_id: uuid.UUID, variant_id: uuid.UUID
) -> Experiment:
    """Remove a slot from a draft; returns the experiment without it."""
    experiment = await queries.load_experiment(session, experiment_id)
    variant = find_variant(experiment, variant_id)
    lifecycle.check_structural_edit(experiment)
    await session.delete(variant)
    experiment.updated_at = utcnow()
    await session.flush()
    return await queries.load_experiment(session, experiment_id)


async def swap_variant_version(
    session: AsyncSession,
    cipher: KeyCipher,
    experiment_id: uuid.UUID,
    variant_id: uuid.UUID,
    upstream: object,
    api_key: str,
    created_by: uuid.UUID | None = None,
) -> Variant:
    """Hot-swap: insert a version effective now (draft, active or paused).

    The upstream is validated strictly (422) and the key encrypted before anything
    is written. The slot, and so every subject's bucket, stays the same.
    """
    experiment = await queries.load_experiment(session, experiment_id)
    variant = find_variant(experiment, variant_id)
    lifecycle.check_new_version(experiment)
    spec = parse_upstream(upstream).stored()
    sealed = _seal(cipher, api_key)
    now = utcnow()
    version_id = _insert_version(session, variant.id, spec, sealed, now, created_by)
    experiment.updated_at = now
    await session.flush()
    await events.checkpoint_swapped(session, variant, version_id, now)
    return await _reloaded(session, experiment_id, variant.id)


async def rotate_api_key(
    session: AsyncSession,
    cipher: KeyCipher,
    experiment_id: uuid.UUID,
    variant_id: uuid.UUID,
    api_key: str,
    created_by: uuid.UUID | None = None,
) -> Variant:
    """A hot-swap to the current version's upstream with a new key."""
    experiment = await queries.load_experiment(session, experiment_id)
    variant = find_variant(experiment, variant_id)
    lifecycle.check_new_version(experiment)
    current = await current_version(session, variant.id)
    if current is None:
        raise Conflict(
            "a key can be rotated only on a variant with a version effective now; "
            "post a new version instead"
        )
    return await swap_variant_version(
        session, cipher, experiment_id, variant.id, current.upstream, api_key, created_by
    )


def _seal(cipher: KeyCipher, api_key: str) -> dict[str, str]:
    require_partner_key(api_key)  # every path (REST, pages, CLI, demo) comes through here
    try:
        return cipher.encrypt(api_key)
    except EncryptionKeyMissing as exc:
        raise lifecycle.encryption_unavailable() from exc


def _insert_version(
    session: AsyncSession,
    variant_id: uuid.UUID,
    upstream: dict[str, object],
    sealed: dict[str, str],
    now: datetime,
    created_by: uuid.UUID | None,
) -> uuid.UUID:
    version_id = uuid.uuid4()
    session.add(
        VariantVersion(
            id=version_id,
            variant_id=variant_id,
            upstream=upstream,
            encrypted_api_key=sealed,
            effective_at=now,
            created_by=created_by,
            created_at=now,
        )
    )
    return version_id


async def _check_label_free(
    session: AsyncSession, experiment: Experiment, label: str, exclude: uuid.UUID | None
) -> None:
    if await queries.label_taken(session, experiment.id, label, exclude):
        raise Conflict(f"{LABEL_RULE}; {label!r} is already used")


async def _flush_label(session: AsyncSession, label: str) -> None:
    # The unique index settles a race between two admins picking the same label.
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"{LABEL_RULE}; {label!r} is already used") from exc


async def _reloaded(
    session: AsyncSession, experiment_id: uuid.UUID, variant_id: uuid.UUID
) -> Variant:
    """The variant, freshly loaded, holding its experiment (views need all slots for shares)."""
    experiment = await queries.load_experiment(session, experiment_id)
    variant = find_variant(experiment, variant_id)
    # The identity map is weak: without this link the experiment could be collected
    # and a later ``variant.experiment`` would try lazy SQL outside the transaction.
    set_committed_value(variant, "experiment", experiment)
    return variant
