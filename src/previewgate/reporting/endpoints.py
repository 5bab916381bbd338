"""Admin reporting API: live stats, the request browser and prompt lookup."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from previewgate.deps import AdminDep, RuntimeDep, SessionDep
from previewgate.reporting import browser, service
from previewgate.reporting.schemas import RequestPage, StatsReport

router = APIRouter(prefix="/admin/api", tags=["admin: reporting"])


def _utc(value: datetime | None) -> datetime | None:
    # A timestamp without an offset is read as UTC, the zone every stored time is in.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


@router.get("/experiments/{experiment_id}/stats", response_model=StatsReport)
async def experiment_stats(
    experiment_id: uuid.UUID,
    _: AdminDep,
    session: SessionDep,
    since: datetime | None = None,
    until: datetime | None = None,
    allocation_subject: Literal["user", "machine", "ip"] | None = None,
    mode: Literal["sequential", "fixed_horizon"] = "sequential",
) -> StatsReport:
    # The service's JSON-ready dict is what the CLI and the admin pages show as well.
    report = await service.experiment_stats(
        session,
        experiment_id,
        since=_utc(since),
        until=_utc(until),
        allocation_subject=allocation_subject,
        mode=mode,
    )
    return StatsReport.model_validate(report)


@router.get("/experiments/{experiment_id}/requests", response_model=RequestPage)
async def experiment_requests(
    experiment_id: uuid.UUID,
    _: AdminDep,
    session: SessionDep,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=browser.MAX_PAGE)] = 50,
    variant_version_id: uuid.UUID | None = None,
    has_error: bool | None = None,
) -> RequestPage:
    page = await browser.browse_requests(
        session,
        experiment_id,
        cursor=cursor,
        limit=limit,
        variant_version_id=variant_version_id,
        has_error=has_error,
    )
    return RequestPage.model_validate(page)


# `:path` so that any input, even with slashes, gets the same 422 instead of a routing 404.
@router.get("/prompts/{sha256:path}", response_class=Response)
async def prompt(sha256: str, _: AdminDep, runtime: RuntimeDep) -> Response:
    return Response(await browser.read_prompt(runtime.blobs, sha256), media_type="application/json")
