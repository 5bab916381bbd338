"""Slot forms: add, edit (label; weight in draft), remove, hot-swap a version, rotate key.

A refused form is re-rendered on the detail page with the message next to its field;
the key field is never filled back in.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from previewgate.admin_pages.actions import act, mutate
from previewgate.admin_pages.auth import SessionForm
from previewgate.admin_pages.detail import detail_page
from previewgate.admin_pages.forms import FormResult, parse_json_field, safe_values, text, validate
from previewgate.admin_pages.rendering import PageRoute, redirect
from previewgate.deps import RuntimeDep
from previewgate.errors import PreviewGateError
from previewgate.experiments import service
from previewgate.experiments.schemas import KeyRotation, VariantCreate, VariantUpdate, VersionCreate
from previewgate.runtime import Runtime

router = APIRouter(route_class=PageRoute)
VARIANTS = "/experiments/{experiment_id}/variants"
VARIANT = VARIANTS + "/{variant_id}"


def _back(experiment_id: uuid.UUID, anchor: str = "") -> str:
    return f"/admin/experiments/{experiment_id}" + (f"#{anchor}" if anchor else "")


async def _submit(
    request: Request,
    runtime: Runtime,
    experiment_id: uuid.UUID,
    result: FormResult,
    parsed: BaseModel | None,
    run: Any,
    done: str,
) -> Response:
    """Save, or re-render the page with the refusal shown beside the form."""
    if parsed is not None:
        try:
            await mutate(runtime, run)
        except PreviewGateError as exc:
            result.errors["form"] = exc.message
        else:
            return redirect(request, _back(experiment_id, result.key), done)
    return await detail_page(request, runtime, experiment_id, result)


@router.post(VARIANTS)
async def add_variant(
    experiment_id: uuid.UUID, request: Request, runtime: RuntimeDep, admin: SessionForm
) -> Response:
    form = await request.form()
    result = FormResult("add-variant", values=safe_values(form))
    upstream = parse_json_field(text(form, "upstream"), "upstream", result)
    data = {
        "label": text(form, "label").strip(),
        "weight": text(form, "weight").strip(),
        "upstream": upstream,
        "api_key": text(form, "api_key"),
    }
    parsed = validate(VariantCreate, data, result)

    async def run(session: AsyncSession) -> Any:
        assert parsed is not None
        return await service.add_variant(
            session, runtime.cipher, experiment_id, parsed, admin.caller.user_id
        )

    return await _submit(request, runtime, experiment_id, result, parsed, run, "Variant added.")


@router.post(VARIANT + "/edit")
async def edit_variant(
    experiment_id: uuid.UUID,
    variant_id: uuid.UUID,
    request: Request,
    runtime: RuntimeDep,
    _: SessionForm,
) -> Response:
    form = await request.form()
    result = FormResult(f"edit-{variant_id}", values=safe_values(form))
    data: dict[str, Any] = {"label": text(form, "label").strip()}
    # The weight field exists only on drafts; outside a draft the label alone is sent.
    if "weight" in form:
        data["weight"] = text(form, "weight").strip()
    parsed = validate(VariantUpdate, data, result)

    async def run(session: AsyncSession) -> Any:
        assert parsed is not None
        return await service.update_variant(session, experiment_id, variant_id, parsed)

    return await _submit(request, runtime, experiment_id, result, parsed, run, "Variant saved.")


@router.post(VARIANT + "/remove")
async def remove_variant(
    experiment_id: uuid.UUID,
    variant_id: uuid.UUID,
    request: Request,
    runtime: RuntimeDep,
    _: SessionForm,
) -> Response:
    async def run(session: AsyncSession) -> Any:
        return await service.remove_variant(session, experiment_id, variant_id)

    return await act(request, runtime, _back(experiment_id), "Variant removed.", run)


@router.post(VARIANT + "/versions")
async def swap_version(
    experiment_id: uuid.UUID,
    variant_id: uuid.UUID,
    request: Request,
    runtime: RuntimeDep,
    admin: SessionForm,
) -> Response:
    """Hot-swap: the JSON editor's upstream and a new key become a version effective now."""
    form = await request.form()
    result = FormResult(f"swap-{variant_id}", values=safe_values(form))
    upstream = parse_json_field(text(form, "upstream"), "upstream", result)
    data = {"upstream": upstream, "api_key": text(form, "api_key")}
    parsed = validate(VersionCreate, data, result)

    async def run(session: AsyncSession) -> Any:
        assert parsed is not None
        return await service.swap_variant_version(
            session,
            runtime.cipher,
            experiment_id,
            variant_id,
            parsed.upstream.stored(),
            parsed.api_key,
            admin.caller.user_id,
        )

    done = "Checkpoint hot-swapped: new requests go to the new version."
    return await _submit(request, runtime, experiment_id, result, parsed, run, done)


@router.post(VARIANT + "/rotate-key")
async def rotate_key(
    experiment_id: uuid.UUID,
    variant_id: uuid.UUID,
    request: Request,
    runtime: RuntimeDep,
    admin: SessionForm,
) -> Response:
    form = await request.form()
    result = FormResult(f"rotate-{variant_id}")
    parsed = validate(KeyRotation, {"api_key": text(form, "api_key")}, result)

    async def run(session: AsyncSession) -> Any:
        assert parsed is not None
        return await service.rotate_api_key(
            session, runtime.cipher, experiment_id, variant_id, parsed.api_key, admin.caller.user_id
        )

    done = "Key rotated: a new version with the same upstream is effective now."
    return await _submit(request, runtime, experiment_id, result, parsed, run, done)
