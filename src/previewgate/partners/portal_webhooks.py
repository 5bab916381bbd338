"""A partner's webhook endpoints as its members manage them (portal pages and API).

Each id is looked up scoped to the member's partner first (404 otherwise), and only
then is the role checked, so a viewer learns 403 only about its own partner's ids.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from previewgate.crypto import KeyCipher
from previewgate.partners.portal_auth import Member, require_admin
from previewgate.webhooks import queries
from previewgate.webhooks import service as webhooks
from previewgate.webhooks.models import WebhookMessage
from previewgate.webhooks.schemas import (
    AttemptOut,
    DeliveryOut,
    EndpointCreate,
    EndpointCreated,
    EndpointOut,
    SecretRotated,
)
from previewgate.webhooks.ssrf import Network


async def endpoints(session: AsyncSession, member: Member) -> list[EndpointOut]:
    return [EndpointOut.of(e) for e in await queries.endpoints_of(session, member.partner_id)]


async def endpoint(session: AsyncSession, member: Member, endpoint_id: uuid.UUID) -> EndpointOut:
    return EndpointOut.of(await webhooks.get_endpoint(session, endpoint_id, member.partner_id))


async def create(
    session: AsyncSession,
    cipher: KeyCipher,
    member: Member,
    data: EndpointCreate,
    allowed_networks: Sequence[Network],
) -> EndpointCreated:
    require_admin(member)
    found, secret = await webhooks.create_endpoint(
        session, cipher, member.partner_id, data, allowed_networks
    )
    return EndpointCreated.with_secret(found, secret)


async def rotate(
    session: AsyncSession, cipher: KeyCipher, member: Member, endpoint_id: uuid.UUID, grace_s: int
) -> SecretRotated:
    await webhooks.get_endpoint(session, endpoint_id, member.partner_id)
    require_admin(member)
    found, secret = await webhooks.rotate_secret(
        session, cipher, endpoint_id, timedelta(seconds=grace_s)
    )
    return SecretRotated.of(found, secret)


async def send_test(session: AsyncSession, member: Member, endpoint_id: uuid.UUID) -> str:
    await webhooks.get_endpoint(session, endpoint_id, member.partner_id)
    require_admin(member)
    return await webhooks.send_test(session, endpoint_id)


async def deliveries(
    session: AsyncSession, member: Member, endpoint_id: uuid.UUID
) -> list[DeliveryOut]:
    return await webhooks.list_deliveries(session, endpoint_id, member.partner_id)


async def delivery(session: AsyncSession, member: Member, delivery_id: uuid.UUID) -> DeliveryOut:
    found = await webhooks.get_delivery(session, delivery_id, member.partner_id)
    message = await session.get(WebhookMessage, found.message_id)
    assert message is not None  # deliveries cascade with their message
    return DeliveryOut.of(found, message.event_type)


async def attempts(
    session: AsyncSession, member: Member, delivery_id: uuid.UUID
) -> list[AttemptOut]:
    return await webhooks.list_attempts(session, delivery_id, member.partner_id)


async def replay(session: AsyncSession, member: Member, delivery_id: uuid.UUID) -> None:
    await webhooks.get_delivery(session, delivery_id, member.partner_id)
    require_admin(member)
    await webhooks.replay_delivery(session, delivery_id)


async def replay_dead(
    session: AsyncSession, member: Member, endpoint_id: uuid.UUID, since: datetime
) -> int:
    await webhooks.get_endpoint(session, endpoint_id, member.partner_id)
    require_admin(member)
    return await webhooks.replay_dead(session, endpoint_id, since)
