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
from previewgate.webhooks.models import PENDING, WebhookDelivery, WebhookEndpoint
from previewgate.webhooks.outbox import emit
from previewgate.webhooks.schemas import EndpointCreate, EndpointUpdate
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


async def get_endpoint(session: AsyncSession, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    endpoint = await queries.find_endpoint(session, endpoint_id)
    if endpoint is None:
        raise NotFound(f"webhook endpoint {endpoint_id} does not exist")
    return endpoint


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
    delivery = await queries.find_delivery(session, delivery_id)
    if delivery is None:
        raise NotFound(f"webhook delivery {delivery_id} does not exist")
    delivery.status = PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = utcnow()
    delivery.leased_until = None
    await session.flush()
    return delivery


async def replay_dead(session: AsyncSession, endpoint_id: uuid.UUID, since: datetime) -> int:
    """Every dead delivery of the endpoint created since ``since``, again; how many."""
    await get_endpoint(session, endpoint_id)
    return await queries.requeue_dead(session, endpoint_id, since)
