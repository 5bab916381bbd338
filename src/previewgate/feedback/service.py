"""Feedback ingestion: thumbs up/down keyed by the gateway's response id or the client's
request id.

The response id (``gen-<usage id hex>``: the answer's ``id``, every SSE chunk's ``id``, the
``x-request-id`` header) rates that one request. The client request id (the
``x-client-request-id`` header) rates a message: every request the caller sent with it. An
id that is the response id of one of the caller's requests is read as such wherever an id is
accepted (``response_id``, ``client_request_id``, an event's ``parentMessageID``); any other
text is a client request id.

Feedback belongs to the caller who made the request (see ``queries.rater_of_request``):
anybody else, and any id with no experiment request behind it, gets the same 404, so the
answer never tells whether someone else's request exists. The attribution row is written
after the response completes (off the request path), so a rating sent in the same instant
as the answer may need a retry.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from previewgate.crypto import KeyCipher
from previewgate.errors import NotFound, Unprocessable
from previewgate.feedback import queries
from previewgate.feedback.queries import Rater, Target
from previewgate.feedback.schemas import AnalyticsEvent, FeedbackIn, FeedbackOut, Rating
from previewgate.partners import notify
from previewgate.usage.ids import response_id, usage_id_of

FEEDBACK_EVENT = "Feedback Submitted"
_UP = {"up", "thumbs_up", "thumbsup", "positive", "like", "good", "1", "true"}
_DOWN = {"down", "thumbs_down", "thumbsdown", "negative", "dislike", "bad", "-1", "0", "false"}


def rating_from_properties(properties: dict[str, Any]) -> Rating:
    for name in ("rating", "feedback", "feedbackType", "value", "thumbs"):
        value = properties.get(name)
        if value is None:
            continue
        text = str(value).strip().lower()
        if text in _UP:
            return "up"
        if text in _DOWN:
            return "down"
    raise Unprocessable("feedback event needs a rating: up or down")


def feedback_from_event(event: AnalyticsEvent) -> FeedbackIn | None:
    if event.event != FEEDBACK_EVENT:
        return None
    parent = event.properties.get("parentMessageID") or event.properties.get("parentMessageId")
    if not isinstance(parent, str) or not parent:
        raise Unprocessable("'Feedback Submitted' needs properties.parentMessageID")
    comment = event.properties.get("comment")
    return FeedbackIn(
        client_request_id=parent[:200],
        rating=rating_from_properties(event.properties),
        comment=comment[:10_000] if isinstance(comment, str) else None,
    )


def _candidates(data: FeedbackIn) -> list[Target]:
    """What the given id may name, most specific first."""
    if data.response_id is not None:
        usage_id = usage_id_of(data.response_id)
        return [Target(usage_id=usage_id)] if usage_id is not None else []
    assert data.client_request_id is not None
    usage_id = usage_id_of(data.client_request_id)
    found = [Target(usage_id=usage_id)] if usage_id is not None else []
    return [*found, Target(client_request_id=data.client_request_id)]


async def _owned(
    session: AsyncSession, data: FeedbackIn, user_id: uuid.UUID | None, machine_id: str | None
) -> tuple[Target, Rater]:
    for target in _candidates(data):
        rater = await queries.rater_of_request(session, target, user_id, machine_id)
        if rater is not None:
            return target, rater
    raise NotFound(
        "no request of yours has this id "
        "(feedback is accepted from the caller who made the request)"
    )


async def record_feedback(
    session: AsyncSession,
    data: FeedbackIn,
    user_id: uuid.UUID | None,
    machine_id: str | None,
    cipher: KeyCipher,
) -> FeedbackOut:
    """Store the caller's rating of their own request or message, replacing their earlier one,
    and tell the partners whose checkpoints served it (``feedback.created``, same
    transaction).

    ``NotFound`` when the caller made no experiment request with this id.
    """
    target, rater = await _owned(session, data, user_id, machine_id)
    row_id = await queries.save_rating(session, target, rater, data.rating, data.comment)
    await notify.feedback_rated(
        session, cipher, target.usage_id, target.client_request_id, data.rating
    )
    rated = response_id(target.usage_id) if target.usage_id is not None else None
    return FeedbackOut(
        id=row_id, response_id=rated, client_request_id=target.client_request_id, rating=data.rating
    )
