"""Model lists for clients and the admin catalog API."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from previewgate.catalog import service
from previewgate.catalog.service import ModelCreate, ModelUpdate
from previewgate.deps import AdminDep, ChangeDep, OptionalCallerDep, RuntimeDep, SessionDep
from previewgate.routing.snapshot import ModelEntry

public = APIRouter(tags=["models"])
admin = APIRouter(prefix="/admin/api/models", tags=["admin: models"])


def _openai_entry(entry: ModelEntry) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": entry.public_id,
        "object": "model",
        "created": 0,
        "owned_by": "previewgate",
    }
    if entry.kind == "preview":
        item["preview"] = {
            "disclosure": entry.disclosure_text,
            "disclosure_version": entry.disclosure_version,
            "opt_in": f"/v1/preview-models/{entry.public_id}/opt-in",
        }
    return item


def _openrouter_entry(entry: ModelEntry) -> dict[str, Any]:
    # OpenRouter quotes prices as USD per token, in strings.
    return {
        "id": entry.public_id,
        "name": entry.display_name or entry.public_id,
        "description": entry.description or (entry.disclosure_text or ""),
        "context_length": entry.context_length or 128000,
        "created": 0,
        "pricing": {
            "prompt": f"{entry.price_in / 1_000_000:.12f}".rstrip("0").rstrip(".") or "0",
            "completion": f"{entry.price_out / 1_000_000:.12f}".rstrip("0").rstrip(".") or "0",
        },
        "architecture": {"input_modalities": ["text"], "output_modalities": ["text"]},
        "top_provider": {"context_length": entry.context_length or 128000},
        "supported_parameters": ["tools", "tool_choice", "temperature", "max_tokens", "stream"],
    }


def _listed(runtime: RuntimeDep) -> list[ModelEntry]:
    snapshot = runtime.routing.snapshot
    if snapshot is None:
        return []
    return sorted(snapshot.models.values(), key=lambda e: e.public_id)


# The list is public (no key, or the anonymous key, sees it), but a key that is given is
# checked, as OpenAI does: an invalid one is a 401, so a client learns at once that its key
# is wrong. ``OptionalCallerDep`` raises that 401.


@public.get("/v1/models")
async def list_models_openai(runtime: RuntimeDep, _: OptionalCallerDep) -> dict[str, Any]:
    return {"object": "list", "data": [_openai_entry(e) for e in _listed(runtime)]}


@public.get("/api/openrouter/models")
@public.get("/api/openrouter/v1/models")
async def list_models_openrouter(runtime: RuntimeDep, _: OptionalCallerDep) -> dict[str, Any]:
    return {"data": [_openrouter_entry(e) for e in _listed(runtime)]}


@admin.get("")
async def admin_list_models(_: AdminDep, session: SessionDep) -> list[dict[str, Any]]:
    return [service.public_view(m) for m in await service.list_models(session)]


@admin.post("", status_code=201)
async def admin_create_model(
    data: ModelCreate, _: AdminDep, session: ChangeDep, runtime: RuntimeDep
) -> dict[str, Any]:
    model = await service.create_model(session, runtime.cipher, data)
    return service.public_view(model)


@admin.get("/{public_id:path}")
async def admin_get_model(public_id: str, _: AdminDep, session: SessionDep) -> dict[str, Any]:
    return service.public_view(await service.get_model(session, public_id))


@admin.patch("/{public_id:path}")
async def admin_update_model(
    public_id: str, data: ModelUpdate, _: AdminDep, session: ChangeDep, runtime: RuntimeDep
) -> dict[str, Any]:
    model = await service.update_model(session, runtime.cipher, public_id, data)
    return service.public_view(model)
