"""`POST /v1/feedback` and the analytics ingest `POST /v1/events`."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request

from previewgate.deps import RuntimeDep, SessionDep
from previewgate.errors import Unauthorized
from previewgate.feedback import service
from previewgate.feedback.schemas import AnalyticsEvent, EventAccepted, FeedbackIn, FeedbackOut
from previewgate.identity import identify

router = APIRouter(prefix="/v1", tags=["feedback"])


async def _who(request: Request, runtime: RuntimeDep) -> tuple[uuid.UUID | None, str | None]:
    """The caller's user id and machine id, read exactly as the gateway recorded them."""
    headers = dict(request.headers)
    caller = await runtime.routing.caller(
        headers.get("authorization"), runtime.settings.anonymous_key
    )
    found = identify(headers, None, caller, runtime.settings)
    if found.caller is None and found.machine_id is None:
        raise Unauthorized("feedback needs an API key or a machine id header")
    return (found.caller.user_id if found.caller else None), found.machine_id


@router.post("/feedback", status_code=201, response_model=FeedbackOut)
async def post_feedback(
    data: FeedbackIn, request: Request, runtime: RuntimeDep, session: SessionDep
) -> FeedbackOut:
    """Rate your own request (by the answer's ``id``, ``gen-...``) or message (by the
    ``x-client-request-id`` you sent); 404 for any id you did not send (yours or nobody's
    alike)."""
    user_id, machine = await _who(request, runtime)
    return await service.record_feedback(session, data, user_id, machine, runtime.cipher)


@router.post("/events", status_code=202, response_model=EventAccepted)
async def post_event(
    event: AnalyticsEvent, request: Request, runtime: RuntimeDep, session: SessionDep
) -> EventAccepted:
    # Other events are accepted without a caller: only a feedback event needs one.
    data = service.feedback_from_event(event)
    if data is None:
        return EventAccepted(stored=False)
    user_id, machine = await _who(request, runtime)
    await service.record_feedback(session, data, user_id, machine, runtime.cipher)
    return EventAccepted(stored=True)
