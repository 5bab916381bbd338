"""Request and response shapes of the feedback and analytics ingest API."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Rating = Literal["up", "down"]


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    response_id: str | None = Field(
        default=None, min_length=1, max_length=200, description="the answer's id, gen-..."
    )
    client_request_id: str | None = Field(
        default=None, min_length=1, max_length=200, description="the request id you sent"
    )
    rating: Rating
    comment: str | None = Field(default=None, max_length=10_000)

    @model_validator(mode="after")
    def _one_id(self) -> FeedbackIn:
        if (self.response_id is None) == (self.client_request_id is None):
            raise ValueError("give exactly one of response_id and client_request_id")
        return self


class AnalyticsEvent(BaseModel):
    """A product-analytics event; only ``Feedback Submitted`` is kept, others are accepted."""

    model_config = ConfigDict(extra="allow")

    event: str = Field(max_length=200)
    properties: dict[str, Any] = Field(default_factory=dict)


class FeedbackOut(BaseModel):
    """The stored rating and what it rates: a request (``response_id``) or a message."""

    id: uuid.UUID
    response_id: str | None
    client_request_id: str | None
    rating: Rating


class EventAccepted(BaseModel):
    accepted: Literal[True] = True
    stored: bool = Field(description="Whether the event was kept (only feedback events are).")
