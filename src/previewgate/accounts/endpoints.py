"""Preview model disclosure and opt-in for end users."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from previewgate.accounts import service
from previewgate.deps import CallerDep, RuntimeDep, SessionDep
from previewgate.errors import NotFound
from previewgate.gateway.snapshot import ModelEntry

router = APIRouter(prefix="/v1/preview-models", tags=["preview opt-in"])


def _preview(runtime: RuntimeDep, public_id: str) -> ModelEntry:
    snapshot = runtime.routing.snapshot
    entry = snapshot.models.get(public_id) if snapshot else None
    if entry is None or entry.kind != "preview":
        raise NotFound(f"{public_id!r} is not a preview model", code="model_not_found")
    return entry


@router.post("/{public_id:path}/opt-in")
async def opt_in(
    public_id: str, caller: CallerDep, session: SessionDep, runtime: RuntimeDep
) -> dict[str, Any]:
    entry = _preview(runtime, public_id)
    opt = await service.record_opt_in(session, caller.user_id, public_id, entry.disclosure_version)
    await session.commit()
    await runtime.routing.invalidate()
    return {
        "public_id": public_id,
        "disclosure_version": opt.disclosure_version,
        "accepted_at": opt.accepted_at.isoformat(),
    }


@router.get("/{public_id:path}")
async def get_preview_model(public_id: str, runtime: RuntimeDep) -> dict[str, Any]:
    entry = _preview(runtime, public_id)
    return {
        "id": entry.public_id,
        "name": entry.display_name,
        "disclosure": entry.disclosure_text,
        "disclosure_version": entry.disclosure_version,
        "opt_in": f"POST /v1/preview-models/{entry.public_id}/opt-in",
    }
