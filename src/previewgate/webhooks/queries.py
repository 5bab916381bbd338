"""The SQL of webhooks: endpoints, claims, attempts, notices."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from previewgate import metrics
from previewgate.store.base import utcnow
from previewgate.webhooks.models import (
    DEAD,
    PENDING,
    OperatorNotice,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookMessage,
)

if TYPE_CHECKING:
    from previewgate.webhooks.delivery import Result


async def claim_due(
    session: AsyncSession,
    now: datetime,
    *,
    per_endpoint: int,
    limit: int,
    in_flight: Mapping[uuid.UUID, int],
    lease_until: datetime,
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Due deliveries, at most ``per_endpoint`` per endpoint counting the caller's sends
    ``in_flight`` (oldest first), leased to the caller. Other workers skip the locked rows
    (PostgreSQL) and then see the lease."""
    busy = [e for e, n in in_flight.items() if n >= per_endpoint]
    ranked = (
        select(
            WebhookDelivery.id,
            WebhookDelivery.endpoint_id,
            func.row_number()
            .over(
                partition_by=WebhookDelivery.endpoint_id,
                order_by=(WebhookDelivery.next_attempt_at, WebhookDelivery.id),
            )
            .label("rank"),
        )
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(
            WebhookDelivery.status == PENDING,
            WebhookDelivery.next_attempt_at <= now,
            or_(WebhookDelivery.leased_until.is_(None), WebhookDelivery.leased_until < now),
            WebhookEndpoint.enabled.is_(True),
        )
    )
    if busy:
        ranked = ranked.where(WebhookDelivery.endpoint_id.not_in(busy))
    candidates = ranked.subquery()
    ids = select(candidates.c.id).where(candidates.c.rank <= per_endpoint)
    rows = await session.execute(
        select(WebhookDelivery.id, WebhookDelivery.endpoint_id)
        .where(WebhookDelivery.id.in_(ids))
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed: list[tuple[uuid.UUID, uuid.UUID]] = []
    room: dict[uuid.UUID, int] = {}
    for delivery_id, endpoint_id in rows:
        free = room.setdefault(endpoint_id, per_endpoint - in_flight.get(endpoint_id, 0))
        if free > 0:
            room[endpoint_id] = free - 1
            claimed.append((delivery_id, endpoint_id))
    if claimed:
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_([d for d, _ in claimed]))
            .values(leased_until=lease_until)
        )
    return claimed


async def delivery_to_send(
    session: AsyncSession, delivery_id: uuid.UUID
) -> tuple[WebhookDelivery, WebhookEndpoint, str] | None:
    row = (
        await session.execute(
            select(WebhookDelivery, WebhookEndpoint, WebhookMessage.body)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .join(WebhookMessage, WebhookMessage.id == WebhookDelivery.message_id)
            .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status == PENDING)
        )
    ).first()
    return (row[0], row[1], row[2]) if row else None


async def delivery_for_update(
    session: AsyncSession, delivery_id: uuid.UUID
) -> tuple[WebhookDelivery, WebhookEndpoint] | None:
    row = (
        await session.execute(
            select(WebhookDelivery, WebhookEndpoint)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .where(WebhookDelivery.id == delivery_id)
            .with_for_update()
        )
    ).first()
    return (row[0], row[1]) if row else None


def add_attempt(
    session: AsyncSession, delivery_id: uuid.UUID, at: datetime, result: Result
) -> None:
    session.add(
        WebhookAttempt(
            delivery_id=delivery_id,
            attempted_at=at,
            status_code=result.status,
            latency_ms=result.latency_ms,
            response_prefix=result.body_prefix,
            error=result.error[:400] if result.error else None,
        )
    )


async def disable_endpoint(session: AsyncSession, endpoint: WebhookEndpoint, reason: str) -> None:
    endpoint.enabled = False
    endpoint.disabled_reason = reason
    endpoint.updated_at = utcnow()
    metrics.WEBHOOK_ENDPOINTS_DISABLED.inc()
    await notice(
        session,
        "webhook_endpoint_disabled",
        f"endpoint {endpoint.id} disabled: {reason}",
        endpoint.partner_id,
    )


async def notice(
    session: AsyncSession, kind: str, message: str, partner_id: uuid.UUID | None
) -> None:
    session.add(OperatorNotice(kind=kind, message=message, partner_id=partner_id))
    await session.flush()


async def endpoints_of(session: AsyncSession, partner_id: uuid.UUID) -> list[WebhookEndpoint]:
    query = (
        select(WebhookEndpoint)
        .where(WebhookEndpoint.partner_id == partner_id)
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    )
    return list(await session.scalars(query))


async def find_endpoint(session: AsyncSession, endpoint_id: uuid.UUID) -> WebhookEndpoint | None:
    found: WebhookEndpoint | None = await session.get(WebhookEndpoint, endpoint_id)
    return found


async def deliveries_of(
    session: AsyncSession, endpoint_id: uuid.UUID, limit: int = 100
) -> list[tuple[WebhookDelivery, str]]:
    rows = await session.execute(
        select(WebhookDelivery, WebhookMessage.event_type)
        .join(WebhookMessage, WebhookMessage.id == WebhookDelivery.message_id)
        .where(WebhookDelivery.endpoint_id == endpoint_id)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)
        .limit(limit)
    )
    return [(d, t) for d, t in rows]


async def attempts_of(session: AsyncSession, delivery_id: uuid.UUID) -> list[WebhookAttempt]:
    query = (
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id == delivery_id)
        .order_by(WebhookAttempt.attempted_at, WebhookAttempt.id)
    )
    return list(await session.scalars(query))


async def find_delivery(session: AsyncSession, delivery_id: uuid.UUID) -> WebhookDelivery | None:
    found: WebhookDelivery | None = await session.get(WebhookDelivery, delivery_id)
    return found


async def requeue(session: AsyncSession, *where: ColumnElement[bool]) -> int:
    """The deliveries matching ``where`` go back to pending at the start of the schedule,
    due now (a replay); how many."""
    result = await session.execute(
        update(WebhookDelivery)
        .where(*where)
        .values(status=PENDING, attempts=0, next_attempt_at=utcnow(), leased_until=None)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def state_counts(session: AsyncSession) -> tuple[dict[str, int], dict[str, int]]:
    """Endpoints by state (enabled, disabled) and deliveries by status (pending, dead)."""
    endpoints = {"enabled": 0, "disabled": 0}
    for enabled, n in await session.execute(
        select(WebhookEndpoint.enabled, func.count()).group_by(WebhookEndpoint.enabled)
    ):
        endpoints["enabled" if enabled else "disabled"] = int(n)
    deliveries = {PENDING: 0, DEAD: 0}
    for status, n in await session.execute(
        select(WebhookDelivery.status, func.count())
        .where(WebhookDelivery.status.in_([PENDING, DEAD]))
        .group_by(WebhookDelivery.status)
    ):
        deliveries[status] = int(n)
    return endpoints, deliveries
