"""The partner API (``/partner/api``): a provider's own exports and webhooks, by its API key.

Anything that is not the caller's partner's answers 404, never 403, so ids do not leak:
every id is looked up scoped to the caller's partner first (the same service calls as the
operator's API, with ``partner_id``), and only then is the role checked, so admin-only
actions answer 403 to a viewer only on its own partner's ids.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from fastapi import APIRouter, Query

from previewgate.deps import RuntimeDep, SessionDep
from previewgate.partners import queries
from previewgate.partners.portal_auth import MemberDep, PartnerAdminDep, require_admin
from previewgate.partners.schemas import ExportFileOut, MemberOut, PartnerOut
from previewgate.webhooks import queries as webhook_queries
from previewgate.webhooks import service as webhooks
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


@router.get("/me", response_model=MemberOut)
async def me(member: MemberDep, session: SessionDep) -> MemberOut:
    partner = await queries.find_partner(session, member.partner_id)
    assert partner is not None  # the membership that found it cascades with it
    return MemberOut(partner=PartnerOut.of(partner), role=member.role)


@router.get("/exports", response_model=list[ExportFileOut])
async def list_exports(member: MemberDep, session: SessionDep) -> list[ExportFileOut]:
    files = await queries.export_files(session, member.partner_id)
    return [ExportFileOut.model_validate(f) for f in files]


@router.get("/webhooks", response_model=list[EndpointOut])
async def list_endpoints(member: MemberDep, session: SessionDep) -> list[EndpointOut]:
    endpoints = await webhook_queries.endpoints_of(session, member.partner_id)
    return [EndpointOut.of(e) for e in endpoints]


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
    return EndpointCreated.with_secret(endpoint, secret)


@router.post("/webhooks/{endpoint_id}/rotate", response_model=SecretRotated)
async def rotate_secret(
    endpoint_id: uuid.UUID,
    data: SecretRotation,
    member: MemberDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> SecretRotated:
    await webhooks.get_endpoint(session, endpoint_id, member.partner_id)
    require_admin(member)
    endpoint, secret = await webhooks.rotate_secret(
        session, runtime.cipher, endpoint_id, timedelta(seconds=data.grace_s)
    )
    return SecretRotated.of(endpoint, secret)


@router.post("/webhooks/{endpoint_id}/test", status_code=202)
async def send_test(
    endpoint_id: uuid.UUID, member: MemberDep, session: SessionDep
) -> dict[str, str]:
    await webhooks.get_endpoint(session, endpoint_id, member.partner_id)
    require_admin(member)
    return {"message_id": await webhooks.send_test(session, endpoint_id)}


@router.get("/webhooks/{endpoint_id}/deliveries", response_model=list[DeliveryOut])
async def list_deliveries(
    endpoint_id: uuid.UUID, member: MemberDep, session: SessionDep
) -> list[DeliveryOut]:
    await webhooks.get_endpoint(session, endpoint_id, member.partner_id)
    return [
        DeliveryOut.of(d, t) for d, t in await webhook_queries.deliveries_of(session, endpoint_id)
    ]


@router.get("/webhook-deliveries/{delivery_id}/attempts", response_model=list[AttemptOut])
async def list_attempts(
    delivery_id: uuid.UUID, member: MemberDep, session: SessionDep
) -> list[AttemptOut]:
    return await webhooks.list_attempts(session, delivery_id, member.partner_id)


@router.post("/webhook-deliveries/{delivery_id}/replay", response_model=Replayed)
async def replay_delivery(
    delivery_id: uuid.UUID, member: MemberDep, session: SessionDep
) -> Replayed:
    await webhooks.get_delivery(session, delivery_id, member.partner_id)
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
    await webhooks.get_endpoint(session, endpoint_id, member.partner_id)
    require_admin(member)
    return Replayed(requeued=await webhooks.replay_dead(session, endpoint_id, since))
