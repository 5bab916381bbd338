"""The model catalog: list, add and edit production and preview models.

The forms feed ``catalog.service`` (the same schemas and rules as ``/admin/api/models``).
The partner key field is write-only: blank on edit keeps the stored key, and the page
shows only whether one is configured. A preview model's disclosure version is bumped by
the service when its text changes, so users opt in again.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from previewgate.admin_pages.actions import mutate, reading
from previewgate.admin_pages.auth import SessionForm, SessionPage
from previewgate.admin_pages.forms import FormResult, parse_json_field, safe_values, text, validate
from previewgate.admin_pages.rendering import PageRoute, redirect, render
from previewgate.catalog import service as catalog
from previewgate.catalog.models import CatalogModel
from previewgate.catalog.schemas import ModelCreate, ModelUpdate
from previewgate.catalog.service import DEFAULT_DISCLOSURE
from previewgate.catalog.views import public_view
from previewgate.deps import RuntimeDep
from previewgate.errors import PreviewGateError
from previewgate.runtime import Runtime

router = APIRouter(route_class=PageRoute)
KINDS = ("production", "preview")
UPSTREAM_EXAMPLE = {"internal_id": "", "base_url": "https://", "api_format": "openai-chat"}


def edit_url(public_id: str) -> str:
    return f"/admin/models/{quote(public_id, safe='/@:+')}/edit"


def _optional(value: str) -> str | None:
    value = value.strip()
    return value or None


def _pricing(form: FormData) -> dict[str, str] | None:
    # Both blank: no price (free). One blank: the schema names the missing half.
    prices = {name: text(form, f"price_{name}").strip() for name in ("input", "output")}
    if not any(prices.values()):
        return None
    return {name: value for name, value in prices.items() if value}


def _common(form: FormData, result: FormResult) -> dict[str, Any]:
    """The fields creating and editing share; blank optional fields mean "none"."""
    raw_upstream = text(form, "upstream").strip()
    data: dict[str, Any] = {
        "display_name": text(form, "display_name").strip(),
        "description": text(form, "description"),
        "context_length": _optional(text(form, "context_length")),
        "upstream": parse_json_field(raw_upstream, "upstream", result) if raw_upstream else None,
        "pricing": _pricing(form),
    }
    if text(form, "api_key"):
        data["api_key"] = text(form, "api_key")
    return data


def _disclosure(form: FormData, kind: str, result: FormResult, *, required: bool) -> str | None:
    value = text(form, "disclosure_text").strip()
    if kind != "preview":
        if value:
            result.errors["disclosure_text"] = "a disclosure applies to preview models only"
        return None
    if not value and required:
        result.errors["disclosure_text"] = "a preview model needs a disclosure text"
    return value or None


def _edit_values(model: CatalogModel) -> dict[str, str]:
    pricing = model.pricing or {}
    return {
        "display_name": model.display_name,
        "description": model.description,
        "context_length": str(model.context_length or ""),
        "upstream": json.dumps(model.upstream, indent=2) if model.upstream else "",
        "price_input": str(pricing.get("input", "")),
        "price_output": str(pricing.get("output", "")),
        "disclosure_text": model.disclosure_text or "",
    }


@router.get("/models")
async def model_list(request: Request, runtime: RuntimeDep, _: SessionPage) -> Response:
    async with reading(runtime) as session:
        models = await catalog.list_models(session)
    return render(
        request, "models.html", models=[public_view(m) for m in models], edit_url=edit_url
    )


def _form_page(
    request: Request, result: FormResult, model: dict[str, Any] | None = None
) -> Response:
    return render(
        request,
        "model_form.html",
        http_status=200 if result.ok else 422,
        result=result,
        model=model,
        kinds=KINDS,
        upstream_example=json.dumps(UPSTREAM_EXAMPLE, indent=2),
        default_disclosure=DEFAULT_DISCLOSURE,
        action=edit_url(model["public_id"]) if model else "/admin/models",
    )


@router.get("/models/new")
async def new_model_form(request: Request, _: SessionPage, kind: str = "preview") -> Response:
    values = {"kind": kind if kind in KINDS else "preview"}
    return _form_page(request, FormResult("model", values=values))


@router.post("/models")
async def create_model(request: Request, runtime: RuntimeDep, _: SessionForm) -> Response:
    form = await request.form()
    result = FormResult("model", values=safe_values(form))
    kind = text(form, "kind")
    data = _common(form, result) | {"public_id": text(form, "public_id").strip(), "kind": kind}
    data["disclosure_text"] = _disclosure(form, kind, result, required=False)
    parsed = validate(ModelCreate, data, result)
    if parsed is None:
        return _form_page(request, result)

    async def run(session: AsyncSession) -> CatalogModel:
        return await catalog.create_model(session, runtime.cipher, parsed)

    try:
        model = await mutate(runtime, run)
    except PreviewGateError as exc:
        result.errors["form"] = exc.message
        return _form_page(request, result)
    return redirect(request, "/admin/models", f"Model {model.public_id} added.")


async def _stored(runtime: Runtime, public_id: str) -> CatalogModel:
    async with reading(runtime) as session:
        return await catalog.get_model(session, public_id)


@router.get("/models/{public_id:path}/edit")
async def edit_model_form(
    public_id: str, request: Request, runtime: RuntimeDep, _: SessionPage
) -> Response:
    model = await _stored(runtime, public_id)
    result = FormResult("model", values=_edit_values(model))
    return _form_page(request, result, public_view(model))


@router.post("/models/{public_id:path}/edit")
async def save_model(
    public_id: str, request: Request, runtime: RuntimeDep, _: SessionForm
) -> Response:
    model = await _stored(runtime, public_id)
    form = await request.form()
    result = FormResult("model", values=safe_values(form))
    data = _common(form, result)
    disclosure = _disclosure(form, model.kind, result, required=True)
    if disclosure is not None:
        data["disclosure_text"] = disclosure
    parsed = validate(ModelUpdate, data, result)
    if parsed is None:
        return _form_page(request, result, public_view(model))

    async def run(session: AsyncSession) -> CatalogModel:
        return await catalog.update_model(session, runtime.cipher, public_id, parsed)

    try:
        saved = await mutate(runtime, run)
    except PreviewGateError as exc:
        result.errors["form"] = exc.message
        return _form_page(request, result, public_view(model))
    done = f"Model {public_id} saved."
    if saved.disclosure_version != model.disclosure_version:
        done += f" Disclosure is now version {saved.disclosure_version}: users opt in again."
    return redirect(request, "/admin/models", done)
