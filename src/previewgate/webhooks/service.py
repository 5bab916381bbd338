"""Webhook endpoints and replays: the rules. Services flush, never commit."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from ipaddress import IPv4Network, IPv6Network

from sqlalchemy.ext.asyncio import AsyncSession

from previewgate.crypto import KeyCipher
from previewgate.errors import NotFound
from previewgate.partners.service import get_partner
from previewgate.store.base import utcnow
from previewgate.webhooks import queries, signing
from previewgate.webhooks.models import DEAD, WebhookDelivery, WebhookEndpoint
from previewgate.webhooks.outbox import emit
from previewgate.webhooks.schemas import AttemptOut, DeliveryOut, EndpointCreate, EndpointUpdate
from previewgate.webhooks.ssrf import check_destination

Network = IPv4Network | IPv6Network


async def create_endpoint(
    session: AsyncSession,
    cipher: KeyCipher,
    partner_id: uuid.UUID,
    data: EndpointCreate,
    allowed: Sequence[Network],
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its secret (returned once). The URL must resolve to addresses
    the SSRF guard accepts (checked again before every send)."""
    await get_partner(session, partner_id)
    await check_destination(data.url, allowed)
    secret = signing.new_secret()
    endpoint = WebhookEndpoint(
        partner_id=partner_id,
        url=data.url,
        event_types=sorted(set(data.event_types)),
        description=data.description,
        sealed_secret=cipher.encrypt(secret),
    )
    session.add(endpoint)
    await session.flush()
    return endpoint, secret


async def get_endpoint(
    session: AsyncSession, endpoint_id: uuid.UUID, partner_id: uuid.UUID | None = None
) -> WebhookEndpoint:
    """The endpoint; 404 when it does not exist or (``partner_id`` given) is another
    partner's, so a partner cannot tell the two apart."""
    endpoint = await queries.find_endpoint(session, endpoint_id)
    if endpoint is None or partner_id not in (None, endpoint.partner_id):
        # To a partner, the same words whatever the id was (it is not echoed either).
        raise NotFound(
            "webhook endpoint not found"
            if partner_id
            else f"webhook endpoint {endpoint_id} does not exist"
        )
    return endpoint


async def get_delivery(
    session: AsyncSession, delivery_id: uuid.UUID, partner_id: uuid.UUID | None = None
) -> WebhookDelivery:
    """The delivery; 404 as ``get_endpoint`` when it is not ``partner_id``'s."""
    delivery = await queries.find_delivery(session, delivery_id)
    if delivery is not None and partner_id is not None:
        endpoint = await queries.find_endpoint(session, delivery.endpoint_id)
        delivery = delivery if endpoint and endpoint.partner_id == partner_id else None
    if delivery is None:
        raise NotFound(
            "webhook delivery not found"
            if partner_id
            else f"webhook delivery {delivery_id} does not exist"
        )
    return delivery


async def update_endpoint(
    session: AsyncSession, endpoint_id: uuid.UUID, data: EndpointUpdate
) -> WebhookEndpoint:
    endpoint = await get_endpoint(session, endpoint_id)
    if data.event_types is not None:
        endpoint.event_types = sorted(set(data.event_types))
    if data.description is not None:
        endpoint.description = data.description
    if data.enabled is not None:
        endpoint.enabled = data.enabled
        endpoint.disabled_reason = None if data.enabled else "disabled by an operator"
        endpoint.failing_since = None
    endpoint.updated_at = utcnow()
    await session.flush()
    return endpoint


async def delete_endpoint(session: AsyncSession, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    endpoint = await get_endpoint(session, endpoint_id)
    await session.delete(endpoint)
    await session.flush()
    return endpoint


async def rotate_secret(
    session: AsyncSession, cipher: KeyCipher, endpoint_id: uuid.UUID, grace: timedelta
) -> tuple[WebhookEndpoint, str]:
    """A new secret (returned once); the current one keeps signing beside it for ``grace``."""
    endpoint = await get_endpoint(session, endpoint_id)
    secret = signing.new_secret()
    endpoint.sealed_previous_secret = endpoint.sealed_secret
    endpoint.previous_secret_expires_at = utcnow() + grace
    endpoint.sealed_secret = cipher.encrypt(secret)
    endpoint.updated_at = utcnow()
    await session.flush()
    return endpoint, secret


async def send_test(session: AsyncSession, endpoint_id: uuid.UUID) -> str:
    """Queue a ``webhook.test`` event to this endpoint only; its message id."""
    endpoint = await get_endpoint(session, endpoint_id)
    message = await emit(
        session,
        endpoint.partner_id,
        "webhook.test",
        {"endpoint_id": str(endpoint.id)},
        endpoint_id=endpoint.id,
    )
    if message is None:
        raise NotFound(f"webhook endpoint {endpoint_id} is disabled")
    return message.id


async def replay_delivery(session: AsyncSession, delivery_id: uuid.UUID) -> WebhookDelivery:
    """Send one delivery again from the start of the schedule (whatever its state)."""
    delivery = await get_delivery(session, delivery_id)
    await queries.requeue(session, WebhookDelivery.id == delivery_id)
    await session.refresh(delivery)
    return delivery


async def replay_dead(session: AsyncSession, endpoint_id: uuid.UUID, since: datetime) -> int:
    """Every dead delivery of the endpoint created since ``since``, again; how many."""
    await get_endpoint(session, endpoint_id)
    return await queries.requeue(
        session,
        WebhookDelivery.endpoint_id == endpoint_id,
        WebhookDelivery.status == DEAD,
        WebhookDelivery.created_at >= since,
    )


async def list_deliveries(
    session: AsyncSession, endpoint_id: uuid.UUID, partner_id: uuid.UUID | None = None
) -> list[DeliveryOut]:
    """The endpoint's latest deliveries, newest first (scoped like ``get_endpoint``)."""
    await get_endpoint(session, endpoint_id, partner_id)
    return [DeliveryOut.of(d, t) for d, t in await queries.deliveries_of(session, endpoint_id)]


async def list_attempts(
    session: AsyncSession, delivery_id: uuid.UUID, partner_id: uuid.UUID | None = None
) -> list[AttemptOut]:
    """The delivery's attempts, oldest first (scoped like ``get_delivery``)."""
    await get_delivery(session, delivery_id, partner_id)
    return [AttemptOut.of(a) for a in await queries.attempts_of(session, delivery_id)]
