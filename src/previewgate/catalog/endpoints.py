"""Model lists for clients and the admin catalog API."""

from __future__ import annotations

from fastapi import APIRouter

from previewgate.catalog import service, views
from previewgate.catalog.schemas import (
    ModelCreate,
    ModelOut,
    ModelUpdate,
    OpenAIModelList,
    OpenRouterModelList,
)
from previewgate.deps import AdminDep, ChangeDep, OptionalCallerDep, RuntimeDep, SessionDep
from previewgate.routing.snapshot import ModelEntry

public = APIRouter(tags=["models"])
admin = APIRouter(prefix="/admin/api/models", tags=["admin: models"])


def _listed(runtime: RuntimeDep) -> list[ModelEntry]:
    snapshot = runtime.routing.snapshot
    if snapshot is None:
        return []
    return sorted(snapshot.models.values(), key=lambda e: e.public_id)


# The list is public (no key, or the anonymous key, sees it), but a key that is given is
# checked, as OpenAI does: an invalid one is a 401, so a client learns at once that its key
# is wrong. ``OptionalCallerDep`` raises that 401.


@public.get("/v1/models", response_model=OpenAIModelList)
async def list_models_openai(runtime: RuntimeDep, _: OptionalCallerDep) -> OpenAIModelList:
    return OpenAIModelList(data=[views.openai_entry(e) for e in _listed(runtime)])


@public.get("/api/openrouter/models", response_model=OpenRouterModelList)
@public.get("/api/openrouter/v1/models", response_model=OpenRouterModelList)
async def list_models_openrouter(runtime: RuntimeDep, _: OptionalCallerDep) -> OpenRouterModelList:
    return OpenRouterModelList(data=[views.openrouter_entry(e) for e in _listed(runtime)])


@admin.get("", response_model=list[ModelOut])
async def admin_list_models(_: AdminDep, session: SessionDep) -> list[ModelOut]:
    return [views.model_out(m) for m in await service.list_models(session)]


@admin.post("", status_code=201, response_model=ModelOut)
async def admin_create_model(
    data: ModelCreate, _: AdminDep, session: ChangeDep, runtime: RuntimeDep
) -> ModelOut:
    return views.model_out(await service.create_model(session, runtime.cipher, data))


@admin.get("/{public_id:path}", response_model=ModelOut)
async def admin_get_model(public_id: str, _: AdminDep, session: SessionDep) -> ModelOut:
    return views.model_out(await service.get_model(session, public_id))


@admin.patch("/{public_id:path}", response_model=ModelOut)
async def admin_update_model(
    public_id: str, data: ModelUpdate, _: AdminDep, session: ChangeDep, runtime: RuntimeDep
) -> ModelOut:
    return views.model_out(await service.update_model(session, runtime.cipher, public_id, data))
