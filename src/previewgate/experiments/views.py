"""The admin view of an experiment: shares, version timelines, and never a key.

Views are built from the response schemas field by field, so a column added to
the models later (a key, a ciphertext) cannot leak by accident.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from previewgate.experiments.models import Experiment, Variant, VariantVersion
from previewgate.experiments.queries import pick_current
from previewgate.experiments.schemas import ExperimentOut, VariantOut, VersionOut
from previewgate.store.base import utcnow


def version_view(version: VariantVersion, current: bool) -> VersionOut:
    upstream = version.upstream
    return VersionOut(
        id=version.id,
        internal_id=upstream["internal_id"],
        base_url=upstream["base_url"],
        api_format=upstream.get("api_format", "openai-chat"),
        upstream=dict(upstream),
        effective_at=version.effective_at,
        created_by=version.created_by,
        created_at=version.created_at,
        key_configured=True,
        current=current,
    )


def variant_view(variant: Variant, total_weight: int, now: datetime) -> VariantOut:
    versions = sorted(variant.versions, key=lambda v: (v.effective_at, v.id))
    current = pick_current(versions, now)
    return VariantOut(
        id=variant.id,
        label=variant.label,
        weight=variant.weight,
        partner_id=variant.partner_id,
        share=variant.weight / total_weight if total_weight else 0.0,
        current_version_id=current.id if current else None,
        created_at=variant.created_at,
        updated_at=variant.updated_at,
        versions=[version_view(v, v is current) for v in versions],
    )


def experiment_view(experiment: Experiment, now: datetime | None = None) -> ExperimentOut:
    """The experiment as admins see it; variants in assignment order (by id)."""
    now = now or utcnow()
    variants = sorted(experiment.variants, key=lambda v: v.id)
    total = sum(v.weight for v in variants)
    mode: Literal["sequential", "parallel"] | None = None
    if variants:
        mode = "sequential" if len(variants) == 1 else "parallel"
    return ExperimentOut(
        id=experiment.id,
        public_model_id=experiment.public_model_id,
        name=experiment.name,
        description=experiment.description,
        status=experiment.status,  # type: ignore[arg-type]
        is_archived=experiment.is_archived,
        require_opt_in=experiment.require_opt_in,
        allow_anonymous=experiment.allow_anonymous,
        mode=mode,
        total_weight=total,
        created_by=experiment.created_by,
        created_at=experiment.created_at,
        updated_at=experiment.updated_at,
        started_at=experiment.started_at,
        ended_at=experiment.ended_at,
        variants=[variant_view(v, total, now) for v in variants],
    )


def variant_out(variant: Variant, now: datetime | None = None) -> VariantOut:
    """One slot's view; its share is computed over its experiment's loaded variants."""
    total = sum(v.weight for v in variant.experiment.variants)
    return variant_view(variant, total, now or utcnow())
