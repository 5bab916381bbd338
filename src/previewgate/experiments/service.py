"""Experiment lifecycle: the one service the API, the CLI and the admin pages call.

Services flush, never commit: the caller's boundary commits, then invalidates the
routing cache. The rules themselves live in ``lifecycle``; this module loads what
they need, applies the change, and turns constraint violations into the same
domain errors a pre-check would have raised (the database is the final guard).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from previewgate.catalog.models import CatalogModel
from previewgate.errors import Conflict, Unprocessable
from previewgate.experiments import lifecycle, queries
from previewgate.experiments.models import Experiment
from previewgate.experiments.schemas import ExperimentCreate, ExperimentUpdate

# Slot and version operations live in ``variants``; re-exported so callers need one import.
from previewgate.experiments.variants import (
    add_variant,
    current_version,
    find_variant,
    remove_variant,
    rotate_api_key,
    swap_variant_version,
    update_variant,
)
from previewgate.store.base import utcnow
from previewgate.webhooks import events

__all__ = [
    "activate",
    "add_variant",
    "complete",
    "create_experiment",
    "current_version",
    "delete_experiment",
    "find_variant",
    "get_experiment",
    "list_experiments",
    "pause",
    "remove_variant",
    "rotate_api_key",
    "set_archived",
    "swap_variant_version",
    "update_experiment",
    "update_variant",
]

ONE_ROUTING_RULE = "only one active or paused experiment may exist per public model id"


async def create_experiment(
    session: AsyncSession, data: ExperimentCreate, created_by: uuid.UUID | None = None
) -> Experiment:
    """A new draft on a registered preview model (422 otherwise). Drafts never route."""
    model = await session.get(CatalogModel, data.public_model_id)
    lifecycle.check_target_model(model, data.public_model_id)
    now = utcnow()
    experiment = Experiment(
        public_model_id=data.public_model_id,
        name=data.name,
        description=data.description,
        status="draft",
        is_archived=False,
        require_opt_in=data.require_opt_in,
        allow_anonymous=data.allow_anonymous,
        created_by=created_by,
        created_at=now,
        updated_at=now,
    )
    session.add(experiment)
    await session.flush()
    return await queries.load_experiment(session, experiment.id)


async def list_experiments(
    session: AsyncSession, archived: bool | None = None, status: str | None = None
) -> list[Experiment]:
    """Newest first; ``archived=None`` lists both archived and not."""
    if status is not None and status not in queries.STATUSES:
        raise Unprocessable(f"status must be one of {', '.join(queries.STATUSES)}")
    return await queries.list_experiments(session, archived, status)


async def get_experiment(session: AsyncSession, experiment_id: uuid.UUID) -> Experiment:
    """The experiment with variants and version timelines loaded; 404 when unknown."""
    return await queries.load_experiment(session, experiment_id)


async def update_experiment(
    session: AsyncSession, experiment_id: uuid.UUID, data: ExperimentUpdate
) -> Experiment:
    """Apply the fields that were sent; routing flags are frozen once completed."""
    experiment = await queries.load_experiment(session, experiment_id)
    fields = data.model_dump(exclude_unset=True)
    lifecycle.check_settings_edit(experiment, set(fields))
    for name, value in fields.items():
        setattr(experiment, name, value)
    experiment.updated_at = utcnow()
    await session.flush()
    return experiment


async def delete_experiment(session: AsyncSession, experiment_id: uuid.UUID) -> None:
    """Delete a draft (it never served traffic, so no evidence goes with it)."""
    experiment = await queries.load_experiment(session, experiment_id)
    lifecycle.check_transition(experiment, "delete")
    await session.delete(experiment)
    await session.flush()


async def activate(
    session: AsyncSession, experiment_id: uuid.UUID, now: datetime | None = None
) -> Experiment:
    """draft/paused → active once every activation rule holds.

    Two concurrent activations on one public id: the pre-check may pass for both,
    but the partial unique index admits one; the loser gets the same 409.
    """
    now = now or utcnow()
    experiment = await queries.load_experiment(session, experiment_id)
    model = await session.get(CatalogModel, experiment.public_model_id)
    effective = await queries.effective_variant_ids(
        session, [v.id for v in experiment.variants], now
    )
    lifecycle.check_activation(experiment, model, effective, now)
    rival = await queries.routing_rival(session, experiment)
    if rival is not None:
        raise Conflict(
            f"{ONE_ROUTING_RULE}: experiment {rival.id} ({rival.name!r}) is {rival.status} "
            f"on {experiment.public_model_id!r}; complete it first"
        )
    previous = experiment.status
    experiment.status = "active"
    if experiment.started_at is None:
        experiment.started_at = now
    experiment.updated_at = now
    await _flush_guarded(session, experiment)
    await events.experiment_status_changed(session, experiment, previous)
    return experiment


async def pause(session: AsyncSession, experiment_id: uuid.UUID) -> Experiment:
    """active → paused: the id answers 404 model-unavailable, subjects keep their slots."""
    return await _move(session, experiment_id, "pause", "paused")


async def complete(session: AsyncSession, experiment_id: uuid.UUID) -> Experiment:
    """active/paused → completed (terminal); frees the public id for a new experiment."""
    experiment = await _move(session, experiment_id, "complete", "completed")
    return experiment


async def set_archived(
    session: AsyncSession, experiment_id: uuid.UUID, archived: bool
) -> Experiment:
    """Archive is orthogonal to status, except that an active experiment cannot be archived."""
    experiment = await queries.load_experiment(session, experiment_id)
    lifecycle.check_archive(experiment, archived)
    experiment.is_archived = archived
    experiment.updated_at = utcnow()
    await _flush_guarded(session, experiment)
    return experiment


async def _move(
    session: AsyncSession, experiment_id: uuid.UUID, action: str, status: str
) -> Experiment:
    experiment = await queries.load_experiment(session, experiment_id)
    lifecycle.check_transition(experiment, action)
    now = utcnow()
    previous = experiment.status
    experiment.status = status
    experiment.updated_at = now
    if status == "completed":
        experiment.ended_at = now
    await _flush_guarded(session, experiment)
    await events.experiment_status_changed(session, experiment, previous)
    return experiment


async def _flush_guarded(session: AsyncSession, experiment: Experiment) -> None:
    """Flush a status/archive change; a constraint violation becomes the rule's 409."""
    public_id = experiment.public_model_id
    try:
        await session.flush()
    except IntegrityError as exc:
        if "active_not_archived" in str(exc.orig):
            raise Conflict("an active experiment cannot be archived") from exc
        raise Conflict(
            f"{ONE_ROUTING_RULE}: another experiment on {public_id!r} became active or "
            "paused concurrently"
        ) from exc
