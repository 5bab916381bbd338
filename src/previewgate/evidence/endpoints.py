"""Admin retention actions: wipe an experiment's prompts, collect unreferenced blobs."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Body

from previewgate.deps import AdminDep, RuntimeDep, SessionDep
from previewgate.evidence import retention
from previewgate.evidence.schemas import GcIn, GcOut, WipeIn, WipeOut

router = APIRouter(prefix="/admin/api", tags=["admin: retention"])


@router.post("/experiments/{experiment_id}/wipe-prompts", response_model=WipeOut)
async def wipe_prompts(
    experiment_id: uuid.UUID,
    _: AdminDep,
    session: SessionDep,
    body: Annotated[WipeIn | None, Body()] = None,
) -> WipeOut:
    drop_rows = body.drop_rows if body else False
    rows = await retention.wipe_prompts(session, experiment_id, drop_rows=drop_rows)
    return WipeOut(experiment_id=experiment_id, drop_rows=drop_rows, rows=rows)


@router.post("/gc", response_model=GcOut)
async def gc(
    _: AdminDep,
    session: SessionDep,
    runtime: RuntimeDep,
    body: Annotated[GcIn | None, Body()] = None,
) -> GcOut:
    grace_s = runtime.settings.gc_grace_s
    if body is not None and body.grace_s is not None:
        grace_s = body.grace_s
    result = await retention.gc_blobs(session, runtime.blobs, grace_s)
    return GcOut(grace_s=grace_s, **asdict(result))
