"""Feedback ingestion: thumbs up/down keyed by the client's request id.

Feedback belongs to the caller who made the request (see ``queries.rater_of_request``):
anybody else, and any id with no experiment request behind it, gets the same 404, so the
answer never tells whether someone else's request exists. The attribution row is written
after the response completes (off the request path), so a rating sent in the same instant
as the answer may need a retry.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from previewgate.errors import NotFound, Unprocessable
from previewgate.feedback import queries

Rating = Literal["up", "down"]
FEEDBACK_EVENT = "Feedback Submitted"
_UP = {"up", "thumbs_up", "thumbsup", "positive", "like", "good", "1", "true"}
_DOWN = {"down", "thumbs_down", "thumbsdown", "negative", "dislike", "bad", "-1", "0", "false"}


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_request_id: str = Field(min_length=1, max_length=200)
    rating: Rating
    comment: str | None = Field(default=None, max_length=10_000)


class AnalyticsEvent(BaseModel):
    """A product-analytics event; only ``Feedback Submitted`` is kept, others are accepted."""

    model_config = ConfigDict(extra="allow")

    event: str = Field(max_length=200)
    properties: dict[str, Any] = Field(default_factory=dict)


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


@dataclass(frozen=True)
class Recorded:
    id: uuid.UUID
    client_request_id: str
    rating: Rating


async def record_feedback(
    session: AsyncSession, data: FeedbackIn, user_id: uuid.UUID | None, machine_id: str | None
) -> Recorded:
    """Store the caller's rating of their own request, replacing their earlier one.

    ``NotFound`` when the caller made no experiment request with this client request id.
    """
    rater = await queries.rater_of_request(session, data.client_request_id, user_id, machine_id)
    if rater is None:
        raise NotFound(
            "no request of yours has this client_request_id "
            "(feedback is accepted from the caller who made the request)"
        )
    row_id = await queries.save_rating(
        session, data.client_request_id, rater, data.rating, data.comment
    )
    return Recorded(row_id, data.client_request_id, data.rating)
