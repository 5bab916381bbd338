"""Admin retention actions: wipe an experiment's prompts, collect unreferenced blobs."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Body
from pydantic import BaseModel, ConfigDict, Field

from previewgate.config import MAX_GC_GRACE_S
from previewgate.deps import AdminDep, RuntimeDep, SessionDep
from previewgate.evidence import retention

router = APIRouter(prefix="/admin/api", tags=["admin: retention"])


class WipeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    drop_rows: bool = False


class GcIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grace_s: float | None = Field(default=None, ge=0, le=MAX_GC_GRACE_S)


@router.post("/experiments/{experiment_id}/wipe-prompts")
async def wipe_prompts(
    experiment_id: uuid.UUID,
    _: AdminDep,
    session: SessionDep,
    body: Annotated[WipeIn | None, Body()] = None,
) -> dict[str, Any]:
    drop_rows = body.drop_rows if body else False
    rows = await retention.wipe_prompts(session, experiment_id, drop_rows=drop_rows)
    return {"experiment_id": str(experiment_id), "drop_rows": drop_rows, "rows": rows}


@router.post("/gc")
async def gc(
    _: AdminDep,
    session: SessionDep,
    runtime: RuntimeDep,
    body: Annotated[GcIn | None, Body()] = None,
) -> dict[str, Any]:
    grace_s = runtime.settings.gc_grace_s
    if body is not None and body.grace_s is not None:
        grace_s = body.grace_s
    result = await retention.gc_blobs(session, runtime.blobs, grace_s)
    return {"grace_s": grace_s, **asdict(result)}
