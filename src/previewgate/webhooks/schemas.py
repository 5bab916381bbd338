"""Request and response shapes of the webhooks API. A secret is shown once, at creation or
rotation (``EndpointCreated``, ``SecretRotated``), never again."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from previewgate.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

EventType = Literal[
    "export.ready", "feedback.created", "experiment.status_changed", "checkpoint.swapped"
]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EndpointCreate(_Input):
    url: str = Field(min_length=1, max_length=2048)
    event_types: list[EventType] = Field(min_length=1)
    description: str = Field(default="", max_length=2000)


class EndpointUpdate(_Input):
    event_types: list[EventType] | None = Field(default=None, min_length=1)
    description: str | None = Field(default=None, max_length=2000)
    enabled: bool | None = None


class SecretRotation(_Input):
    grace_s: int = Field(default=86_400, ge=0, le=7 * 86_400)


class EndpointOut(BaseModel):
    id: uuid.UUID
    partner_id: uuid.UUID
    url: str
    event_types: list[str]
    description: str
    enabled: bool
    disabled_reason: str | None
    previous_secret_expires_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, endpoint: WebhookEndpoint) -> EndpointOut:
        return cls(
            id=endpoint.id,
            partner_id=endpoint.partner_id,
            url=endpoint.url,
            event_types=list(endpoint.event_types),
            description=endpoint.description,
            enabled=endpoint.enabled,
            disabled_reason=endpoint.disabled_reason,
            previous_secret_expires_at=endpoint.previous_secret_expires_at,
            created_at=endpoint.created_at,
        )


class EndpointCreated(EndpointOut):
    secret: str = Field(description="whsec_...: shown this once")

    @classmethod
    def with_secret(cls, endpoint: WebhookEndpoint, secret: str) -> EndpointCreated:
        return cls(**EndpointOut.of(endpoint).model_dump(), secret=secret)


class SecretRotated(BaseModel):
    secret: str = Field(description="the new whsec_ secret: shown this once")
    previous_secret_expires_at: datetime

    @classmethod
    def of(cls, endpoint: WebhookEndpoint, secret: str) -> SecretRotated:
        assert endpoint.previous_secret_expires_at is not None  # set by every rotation
        return cls(secret=secret, previous_secret_expires_at=endpoint.previous_secret_expires_at)


class DeliveryOut(BaseModel):
    id: uuid.UUID
    endpoint_id: uuid.UUID
    message_id: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, delivery: WebhookDelivery, event_type: str) -> DeliveryOut:
        return cls(
            id=delivery.id,
            endpoint_id=delivery.endpoint_id,
            message_id=delivery.message_id,
            event_type=event_type,
            status=delivery.status,
            attempts=delivery.attempts,
            next_attempt_at=delivery.next_attempt_at,
            created_at=delivery.created_at,
        )


class AttemptOut(BaseModel):
    attempted_at: datetime
    status_code: int | None
    latency_ms: int
    response_prefix: str
    error: str | None

    @classmethod
    def of(cls, attempt: WebhookAttempt) -> AttemptOut:
        return cls(
            attempted_at=attempt.attempted_at,
            status_code=attempt.status_code,
            latency_ms=attempt.latency_ms,
            response_prefix=attempt.response_prefix,
            error=attempt.error,
        )


class Replayed(BaseModel):
    requeued: int
