"""`POST /v1/feedback` and the analytics ingest `POST /v1/events`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from previewgate.deps import OptionalCallerDep, RuntimeDep, SessionDep
from previewgate.errors import Unauthorized
from previewgate.feedback import service
from previewgate.feedback.service import AnalyticsEvent, FeedbackIn

router = APIRouter(prefix="/v1", tags=["feedback"])


def _machine_id(request: Request, runtime: RuntimeDep) -> str | None:
    for name in runtime.settings.machine_headers:
        value = request.headers.get(name)
        if value:
            return value.strip()[:200] or None
    return None


def _who(request: Request, runtime: RuntimeDep, caller: OptionalCallerDep) -> tuple[Any, Any]:
    machine = _machine_id(request, runtime)
    if caller is None and machine is None:
        raise Unauthorized("feedback needs an API key or a machine id header")
    return (caller.user_id if caller else None), machine


@router.post("/feedback", status_code=201)
async def post_feedback(
    data: FeedbackIn,
    request: Request,
    runtime: RuntimeDep,
    caller: OptionalCallerDep,
    session: SessionDep,
) -> dict[str, Any]:
    user_id, machine = _who(request, runtime, caller)
    row = await service.record_feedback(session, data, user_id, machine)
    return {"id": str(row.id), "client_request_id": row.client_request_id, "rating": row.rating}


@router.post("/events", status_code=202)
async def post_event(
    event: AnalyticsEvent,
    request: Request,
    runtime: RuntimeDep,
    caller: OptionalCallerDep,
    session: SessionDep,
) -> dict[str, Any]:
    data = service.feedback_from_event(event)
    if data is None:
        return {"accepted": True, "stored": False}
    user_id, machine = _who(request, runtime, caller)
    await service.record_feedback(session, data, user_id, machine)
    return {"accepted": True, "stored": True}
