"""Experiment-level pages: the detail view, status transitions, settings, archive, wipe."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from previewgate.admin_pages.actions import act, mutate
from previewgate.admin_pages.auth import SessionForm, SessionPage
from previewgate.admin_pages.detail import detail_page
from previewgate.admin_pages.forms import FormResult, checkbox, safe_values, text, validate
from previewgate.admin_pages.rendering import PageRoute, redirect
from previewgate.deps import RuntimeDep
from previewgate.errors import PreviewGateError
from previewgate.evidence import retention
from previewgate.experiments import service
from previewgate.experiments.schemas import ExperimentUpdate

router = APIRouter(route_class=PageRoute)
EXPERIMENT = "/experiments/{experiment_id}"
DONE = {
    "activate": "Experiment is active.",
    "pause": "Experiment is paused: the public id answers 404 until it is resumed.",
    "complete": "Experiment is completed.",
}


def _back(experiment_id: uuid.UUID) -> str:
    return f"/admin/experiments/{experiment_id}"


@router.get(EXPERIMENT)
async def experiment_detail(
    experiment_id: uuid.UUID, request: Request, runtime: RuntimeDep, _: SessionPage
) -> Response:
    return await detail_page(request, runtime, experiment_id)


@router.post(EXPERIMENT + "/transition")
async def transition(
    experiment_id: uuid.UUID, request: Request, runtime: RuntimeDep, _: SessionForm
) -> Response:
    """activate, pause and complete: the lifecycle service decides whether it is allowed."""
    action = text(await request.form(), "action")
    moves = {"activate": service.activate, "pause": service.pause, "complete": service.complete}
    move = moves.get(action)
    if move is None:
        return redirect(request, _back(experiment_id), f"Unknown action {action!r}.", "error")

    async def run(session: AsyncSession) -> Any:
        return await move(session, experiment_id)

    return await act(request, runtime, _back(experiment_id), DONE[action], run)


@router.post(EXPERIMENT + "/archive")
async def archive(
    experiment_id: uuid.UUID, request: Request, runtime: RuntimeDep, _: SessionForm
) -> Response:
    archived = text(await request.form(), "archived") == "true"

    async def run(session: AsyncSession) -> Any:
        return await service.set_archived(session, experiment_id, archived)

    done = "Experiment archived." if archived else "Experiment unarchived."
    return await act(request, runtime, _back(experiment_id), done, run)


@router.post(EXPERIMENT + "/delete")
async def delete(
    experiment_id: uuid.UUID, request: Request, runtime: RuntimeDep, _: SessionForm
) -> Response:
    try:
        await mutate(runtime, lambda s: service.delete_experiment(s, experiment_id))
    except PreviewGateError as exc:
        return redirect(request, _back(experiment_id), exc.message, "error")
    return redirect(request, "/admin/experiments", "Draft deleted.")


@router.post(EXPERIMENT + "/settings")
async def settings(
    experiment_id: uuid.UUID, request: Request, runtime: RuntimeDep, _: SessionForm
) -> Response:
    form = await request.form()
    result = FormResult("settings", values=safe_values(form))
    data: dict[str, Any] = {
        "name": text(form, "name").strip(),
        "description": text(form, "description"),
    }
    # Completed experiments render the routing flags disabled (and so unsent): leave them.
    if "flags" in form:
        data["require_opt_in"] = checkbox(form, "require_opt_in")
        data["allow_anonymous"] = checkbox(form, "allow_anonymous")
    parsed = validate(ExperimentUpdate, data, result)
    if parsed is None:
        return await detail_page(request, runtime, experiment_id, result)

    async def run(session: AsyncSession) -> Any:
        return await service.update_experiment(session, experiment_id, parsed)

    return await act(request, runtime, _back(experiment_id), "Settings saved.", run)


@router.post(EXPERIMENT + "/wipe")
async def wipe(
    experiment_id: uuid.UUID, request: Request, runtime: RuntimeDep, _: SessionForm
) -> Response:
    """Prompts and responses of every request become "wiped"; the counts stay."""
    if not checkbox(await request.form(), "confirm"):
        message = "Tick the confirmation box to wipe this experiment's prompts."
        return redirect(request, _back(experiment_id) + "#wipe", message, "error")

    try:
        wiped = await mutate(runtime, lambda s: retention.wipe_prompts(s, experiment_id))
    except PreviewGateError as exc:
        return redirect(request, _back(experiment_id), exc.message, "error")
    done = f"Wiped the prompts and responses of {wiped} requests; `previewgate gc` frees the blobs."
    return redirect(request, _back(experiment_id), done)
