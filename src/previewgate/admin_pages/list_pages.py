"""The experiments list (filters, archived toggle, recent traffic) and the create form."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from previewgate.admin_pages import queries
from previewgate.admin_pages.actions import mutate, reading
from previewgate.admin_pages.auth import SessionForm, SessionPage
from previewgate.admin_pages.forms import FormResult, checkbox, safe_values, text, validate
from previewgate.admin_pages.rendering import PageRoute, redirect, render
from previewgate.catalog import service as catalog
from previewgate.deps import RuntimeDep
from previewgate.errors import PreviewGateError
from previewgate.experiments import service, views
from previewgate.experiments.models import Experiment
from previewgate.experiments.queries import STATUSES
from previewgate.experiments.schemas import ExperimentCreate
from previewgate.runtime import Runtime

router = APIRouter(route_class=PageRoute)


@router.get("/experiments")
async def experiment_list(
    request: Request,
    runtime: RuntimeDep,
    _: SessionPage,
    status: str = "",
    archived: str = "",
) -> Response:
    show_archived = archived in ("on", "1", "true")
    chosen = status if status in STATUSES else None
    async with reading(runtime) as session:
        # Archived experiments are hidden unless asked for; then both kinds are listed.
        found = await service.list_experiments(session, None if show_archived else False, chosen)
        counts = await queries.requests_last_24h(session, [e.public_model_id for e in found])
    rows = [
        {"view": views.experiment_view(e), "requests_24h": counts.get(e.public_model_id, 0)}
        for e in found
    ]
    return render(
        request,
        "list.html",
        rows=rows,
        statuses=STATUSES,
        status=chosen or "",
        show_archived=show_archived,
    )


async def _preview_models(runtime: Runtime) -> list[str]:
    async with reading(runtime) as session:
        models = await catalog.list_models(session)
    return [m.public_id for m in models if m.kind == "preview"]


async def _new_page(request: Request, runtime: Runtime, result: FormResult | None) -> Response:
    return render(
        request,
        "new.html",
        http_status=200 if result is None or result.ok else 422,
        models=await _preview_models(runtime),
        result=result or FormResult("create", values={"require_opt_in": "on"}),
    )


@router.get("/experiments/new")
async def new_experiment_form(request: Request, runtime: RuntimeDep, _: SessionPage) -> Response:
    return await _new_page(request, runtime, None)


@router.post("/experiments")
async def create_experiment(request: Request, runtime: RuntimeDep, admin: SessionForm) -> Response:
    form = await request.form()
    result = FormResult("create", values=safe_values(form))
    data: dict[str, Any] = {
        "public_model_id": text(form, "public_model_id").strip(),
        "name": text(form, "name").strip(),
        "description": text(form, "description"),
        "require_opt_in": checkbox(form, "require_opt_in"),
        "allow_anonymous": checkbox(form, "allow_anonymous"),
    }
    parsed = validate(ExperimentCreate, data, result)
    if parsed is None:
        return await _new_page(request, runtime, result)

    async def create(session: Any) -> Experiment:
        return await service.create_experiment(session, parsed, admin.caller.user_id)

    try:
        experiment = await mutate(runtime, create)
    except PreviewGateError as exc:
        result.errors["form"] = exc.message
        return await _new_page(request, runtime, result)
    return redirect(request, f"/admin/experiments/{experiment.id}", "Experiment created.")
