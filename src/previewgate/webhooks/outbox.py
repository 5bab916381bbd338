"""Writing events: in the caller's transaction, beside the change they report.

``emit`` adds the message and one pending delivery per enabled endpoint of the partner that
subscribed to the event type. Committed with the change or not at all, so no event is lost
between a commit and a send; the delivery worker sends them afterwards.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from previewgate.store.base import utcnow
from previewgate.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookMessage

EVENT_TYPES = (
    "export.ready",
    "feedback.created",
    "experiment.status_changed",
    "checkpoint.swapped",
    "webhook.test",
)
MAX_BODY_BYTES = 20_000  # events link rather than embed


def new_message_id() -> str:
    return "msg_" + secrets.token_hex(16)


def iso_seconds(moment: datetime) -> str:
    """Times in event payloads: UTC to the second, ``Z``-suffixed."""
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


async def emit(
    session: AsyncSession,
    partner_id: uuid.UUID,
    event_type: str,
    data: dict[str, Any],
    *,
    endpoint_id: uuid.UUID | None = None,
) -> WebhookMessage | None:
    """Queue ``event_type`` for the partner's subscribed, enabled endpoints (or only
    ``endpoint_id``, for a test event). None when no endpoint wants it."""
    assert event_type in EVENT_TYPES, event_type
    query = select(WebhookEndpoint).where(
        WebhookEndpoint.partner_id == partner_id, WebhookEndpoint.enabled.is_(True)
    )
    if endpoint_id is not None:
        query = query.where(WebhookEndpoint.id == endpoint_id)
    endpoints = [
        e
        for e in await session.scalars(query)
        if endpoint_id is not None or event_type in e.event_types
    ]
    if not endpoints:
        return None
    now = utcnow()
    body = orjson.dumps(
        {"type": event_type, "timestamp": iso_seconds(now), "data": data},
        option=orjson.OPT_SORT_KEYS,
    ).decode()
    if len(body) > MAX_BODY_BYTES:
        raise ValueError(f"{event_type} payload is {len(body)} bytes; events link, not embed")
    message = WebhookMessage(
        id=new_message_id(), partner_id=partner_id, event_type=event_type, body=body
    )
    session.add(message)
    await session.flush()
    session.add_all(
        WebhookDelivery(message_id=message.id, endpoint_id=e.id, next_attempt_at=now)
        for e in endpoints
    )
    await session.flush()
    return message
