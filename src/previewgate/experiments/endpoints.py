"""Admin REST API for experiments: thin handlers over ``experiments.service``.

Every mutation commits, then invalidates the routing cache here and (through
Redis) on every other gateway process, so routing follows the change at once.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Query, Response

from previewgate.deps import AdminDep, ChangeDep, RuntimeDep, SessionDep
from previewgate.experiments import service, views
from previewgate.experiments.schemas import (
    ArchiveRequest,
    ExperimentCreate,
    ExperimentOut,
    ExperimentUpdate,
    KeyRotation,
    Status,
    VariantCreate,
    VariantOut,
    VariantUpdate,
    VersionCreate,
)

router = APIRouter(prefix="/admin/api/experiments", tags=["admin: experiments"])
VARIANT = "/{experiment_id}/variants/{variant_id}"


@router.get("", response_model=list[ExperimentOut])
async def list_experiments(
    _: AdminDep,
    session: SessionDep,
    archived: bool | None = Query(default=None, description="Omit to list both."),
    status: Status | None = None,
) -> list[ExperimentOut]:
    experiments = await service.list_experiments(session, archived, status)
    return [views.experiment_view(e) for e in experiments]


@router.post("", status_code=201, response_model=ExperimentOut)
async def create_experiment(
    data: ExperimentCreate, caller: AdminDep, session: ChangeDep
) -> ExperimentOut:
    experiment = await service.create_experiment(session, data, caller.user_id)
    return views.experiment_view(experiment)


@router.get("/{experiment_id}", response_model=ExperimentOut)
async def get_experiment(
    experiment_id: uuid.UUID, _: AdminDep, session: SessionDep
) -> ExperimentOut:
    return views.experiment_view(await service.get_experiment(session, experiment_id))


@router.patch("/{experiment_id}", response_model=ExperimentOut)
async def update_experiment(
    experiment_id: uuid.UUID,
    data: ExperimentUpdate,
    _: AdminDep,
    session: ChangeDep,
) -> ExperimentOut:
    experiment = await service.update_experiment(session, experiment_id, data)
    return views.experiment_view(experiment)


@router.delete("/{experiment_id}", status_code=204, response_class=Response)
async def delete_experiment(experiment_id: uuid.UUID, _: AdminDep, session: ChangeDep) -> Response:
    """Drafts only."""
    await service.delete_experiment(session, experiment_id)
    return Response(status_code=204)


@router.post("/{experiment_id}/activate", response_model=ExperimentOut)
async def activate(experiment_id: uuid.UUID, _: AdminDep, session: ChangeDep) -> ExperimentOut:
    """draft or paused → active."""
    experiment = await service.activate(session, experiment_id)
    return views.experiment_view(experiment)


@router.post("/{experiment_id}/pause", response_model=ExperimentOut)
async def pause(experiment_id: uuid.UUID, _: AdminDep, session: ChangeDep) -> ExperimentOut:
    """active → paused."""
    experiment = await service.pause(session, experiment_id)
    return views.experiment_view(experiment)


@router.post("/{experiment_id}/complete", response_model=ExperimentOut)
async def complete(experiment_id: uuid.UUID, _: AdminDep, session: ChangeDep) -> ExperimentOut:
    """active or paused → completed (terminal)."""
    experiment = await service.complete(session, experiment_id)
    return views.experiment_view(experiment)


@router.post("/{experiment_id}/archive", response_model=ExperimentOut)
async def set_archived(
    experiment_id: uuid.UUID,
    data: ArchiveRequest,
    _: AdminDep,
    session: ChangeDep,
) -> ExperimentOut:
    """Archive or unarchive; an active experiment cannot be archived."""
    experiment = await service.set_archived(session, experiment_id, data.archived)
    return views.experiment_view(experiment)


@router.post("/{experiment_id}/variants", status_code=201, response_model=VariantOut)
async def add_variant(
    experiment_id: uuid.UUID,
    data: VariantCreate,
    caller: AdminDep,
    session: ChangeDep,
    runtime: RuntimeDep,
) -> VariantOut:
    """Create a slot and its first version (drafts only)."""
    variant = await service.add_variant(
        session, runtime.cipher, experiment_id, data, caller.user_id
    )
    return views.variant_out(variant)


@router.patch(VARIANT, response_model=VariantOut)
async def update_variant(
    experiment_id: uuid.UUID,
    variant_id: uuid.UUID,
    data: VariantUpdate,
    _: AdminDep,
    session: ChangeDep,
) -> VariantOut:
    """Label in draft, active or paused; weight in draft only."""
    variant = await service.update_variant(session, experiment_id, variant_id, data)
    return views.variant_out(variant)


@router.delete(VARIANT, response_model=ExperimentOut)
async def remove_variant(
    experiment_id: uuid.UUID,
    variant_id: uuid.UUID,
    _: AdminDep,
    session: ChangeDep,
) -> ExperimentOut:
    """Drafts only; answers with the experiment as it is now."""
    experiment = await service.remove_variant(session, experiment_id, variant_id)
    return views.experiment_view(experiment)


@router.post(VARIANT + "/versions", status_code=201, response_model=VariantOut)
async def swap_version(
    experiment_id: uuid.UUID,
    variant_id: uuid.UUID,
    data: VersionCreate,
    caller: AdminDep,
    session: ChangeDep,
    runtime: RuntimeDep,
) -> VariantOut:
    """Hot-swap the slot's checkpoint: a new version, effective now."""
    variant = await service.swap_variant_version(
        session,
        runtime.cipher,
        experiment_id,
        variant_id,
        data.upstream,
        data.api_key,
        caller.user_id,
    )
    return views.variant_out(variant)


@router.post(VARIANT + "/rotate-key", response_model=VariantOut)
async def rotate_key(
    experiment_id: uuid.UUID,
    variant_id: uuid.UUID,
    data: KeyRotation,
    caller: AdminDep,
    session: ChangeDep,
    runtime: RuntimeDep,
) -> VariantOut:
    """A new version with the current upstream and a new key, effective now."""
    variant = await service.rotate_api_key(
        session, runtime.cipher, experiment_id, variant_id, data.api_key, caller.user_id
    )
    return views.variant_out(variant)
