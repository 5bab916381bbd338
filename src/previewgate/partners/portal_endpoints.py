"""The partner API (``/partner/api``): a provider's own exports and webhooks, by its API key.

Anything that is not the caller's partner's answers 404, never 403, so ids do not leak:
ownership is checked before the role, and admin-only actions answer 403 to a viewer only
on the viewer's own partner's ids.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from fastapi import APIRouter, Query

from previewgate.deps import RuntimeDep, SessionDep
from previewgate.errors import NotFound
from previewgate.partners import queries
from previewgate.partners.portal_auth import MemberDep, PartnerAdminDep, require_admin
from previewgate.partners.schemas import ExportFileOut, PartnerOut
from previewgate.webhooks import queries as webhook_queries
from previewgate.webhooks import service as webhooks
from previewgate.webhooks.models import WebhookEndpoint
from previewgate.webhooks.schemas import (
    AttemptOut,
    DeliveryOut,
    EndpointCreate,
    EndpointCreated,
    EndpointOut,
    Replayed,
    SecretRotated,
    SecretRotation,
)

router = APIRouter(prefix="/partner/api", tags=["partner"])


async def _own_endpoint(
    session: SessionDep, member: MemberDep, endpoint_id: uuid.UUID
) -> WebhookEndpoint:
    endpoint = await webhook_queries.find_endpoint(session, endpoint_id)
    if endpoint is None or endpoint.partner_id != member.partner_id:
        raise NotFound(f"webhook endpoint {endpoint_id} does not exist")
    return endpoint


async def _own_delivery_endpoint(
    session: SessionDep, member: MemberDep, delivery_id: uuid.UUID
) -> uuid.UUID:
    delivery = await webhook_queries.find_delivery(session, delivery_id)
    if delivery is None:
        raise NotFound(f"webhook delivery {delivery_id} does not exist")
    try:
        await _own_endpoint(session, member, delivery.endpoint_id)
    except NotFound:
        raise NotFound(f"webhook delivery {delivery_id} does not exist") from None
    return delivery.id


@router.get("/me")
async def me(member: MemberDep, session: SessionDep) -> dict[str, object]:
    partner = await queries.find_partner(session, member.partner_id)
    assert partner is not None
    return {"partner": PartnerOut.of(partner).model_dump(mode="json"), "role": member.role}


@router.get("/exports", response_model=list[ExportFileOut])
async def list_exports(member: MemberDep, session: SessionDep) -> list[ExportFileOut]:
    files = await queries.export_files(session, member.partner_id)
    return [ExportFileOut.model_validate(f) for f in files]


@router.get("/webhooks", response_model=list[EndpointOut])
async def list_endpoints(member: MemberDep, session: SessionDep) -> list[EndpointOut]:
    return [
        EndpointOut.of(e) for e in await webhook_queries.endpoints_of(session, member.partner_id)
    ]


@router.post("/webhooks", status_code=201, response_model=EndpointCreated)
async def create_endpoint(
    data: EndpointCreate, member: PartnerAdminDep, session: SessionDep, runtime: RuntimeDep
) -> EndpointCreated:
    endpoint, secret = await webhooks.create_endpoint(
        session,
        runtime.cipher,
        member.partner_id,
        data,
        runtime.settings.webhook_allowed_network_list,
    )
    return EndpointCreated(**EndpointOut.of(endpoint).model_dump(), secret=secret)


@router.post("/webhooks/{endpoint_id}/rotate", response_model=SecretRotated)
async def rotate_secret(
    endpoint_id: uuid.UUID,
    data: SecretRotation,
    member: MemberDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> SecretRotated:
    await _own_endpoint(session, member, endpoint_id)
    require_admin(member)
    endpoint, secret = await webhooks.rotate_secret(
        session, runtime.cipher, endpoint_id, timedelta(seconds=data.grace_s)
    )
    assert endpoint.previous_secret_expires_at is not None
    return SecretRotated(
        secret=secret, previous_secret_expires_at=endpoint.previous_secret_expires_at
    )


@router.post("/webhooks/{endpoint_id}/test", status_code=202)
async def send_test(
    endpoint_id: uuid.UUID, member: MemberDep, session: SessionDep
) -> dict[str, str]:
    await _own_endpoint(session, member, endpoint_id)
    require_admin(member)
    return {"message_id": await webhooks.send_test(session, endpoint_id)}


@router.get("/webhooks/{endpoint_id}/deliveries", response_model=list[DeliveryOut])
async def list_deliveries(
    endpoint_id: uuid.UUID, member: MemberDep, session: SessionDep
) -> list[DeliveryOut]:
    await _own_endpoint(session, member, endpoint_id)
    return [
        DeliveryOut(
            id=d.id,
            message_id=d.message_id,
            event_type=event_type,
            status=d.status,
            attempts=d.attempts,
            next_attempt_at=d.next_attempt_at,
            created_at=d.created_at,
        )
        for d, event_type in await webhook_queries.deliveries_of(session, endpoint_id)
    ]


@router.get("/webhook-deliveries/{delivery_id}/attempts", response_model=list[AttemptOut])
async def list_attempts(
    delivery_id: uuid.UUID, member: MemberDep, session: SessionDep
) -> list[AttemptOut]:
    await _own_delivery_endpoint(session, member, delivery_id)
    return [AttemptOut.of(a) for a in await webhook_queries.attempts_of(session, delivery_id)]


@router.post("/webhook-deliveries/{delivery_id}/replay", response_model=Replayed)
async def replay_delivery(
    delivery_id: uuid.UUID, member: MemberDep, session: SessionDep
) -> Replayed:
    await _own_delivery_endpoint(session, member, delivery_id)
    require_admin(member)
    await webhooks.replay_delivery(session, delivery_id)
    return Replayed(requeued=1)


@router.post("/webhooks/{endpoint_id}/replay-dead", response_model=Replayed)
async def replay_dead(
    endpoint_id: uuid.UUID,
    member: MemberDep,
    session: SessionDep,
    since: datetime = Query(description="dead deliveries created at or after this time"),
) -> Replayed:
    await _own_endpoint(session, member, endpoint_id)
    require_admin(member)
    return Replayed(requeued=await webhooks.replay_dead(session, endpoint_id, since))
