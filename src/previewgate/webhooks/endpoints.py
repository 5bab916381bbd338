"""Admin REST API for partners' webhook endpoints, deliveries, attempts and replays."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from fastapi import APIRouter, Query

from previewgate.deps import AdminDep, RuntimeDep, SessionDep
from previewgate.webhooks import queries, service
from previewgate.webhooks.schemas import (
    AttemptOut,
    DeliveryOut,
    EndpointCreate,
    EndpointCreated,
    EndpointOut,
    EndpointUpdate,
    Replayed,
    SecretRotated,
    SecretRotation,
)

router = APIRouter(tags=["admin: webhooks"])
PARTNER = "/admin/api/partners/{partner_id}/webhooks"
ENDPOINT = "/admin/api/webhooks/{endpoint_id}"


@router.get(PARTNER, response_model=list[EndpointOut])
async def list_endpoints(
    partner_id: uuid.UUID, _: AdminDep, session: SessionDep
) -> list[EndpointOut]:
    return [EndpointOut.of(e) for e in await queries.endpoints_of(session, partner_id)]


@router.post(PARTNER, status_code=201, response_model=EndpointCreated)
async def create_endpoint(
    partner_id: uuid.UUID,
    data: EndpointCreate,
    _: AdminDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> EndpointCreated:
    """The secret is in this answer only. 422 when the URL's addresses are refused."""
    endpoint, secret = await service.create_endpoint(
        session,
        runtime.cipher,
        partner_id,
        data,
        runtime.settings.webhook_allowed_network_list,
    )
    return EndpointCreated.with_secret(endpoint, secret)


@router.patch(ENDPOINT, response_model=EndpointOut)
async def update_endpoint(
    endpoint_id: uuid.UUID, data: EndpointUpdate, _: AdminDep, session: SessionDep
) -> EndpointOut:
    return EndpointOut.of(await service.update_endpoint(session, endpoint_id, data))


@router.delete(ENDPOINT, response_model=EndpointOut)
async def delete_endpoint(endpoint_id: uuid.UUID, _: AdminDep, session: SessionDep) -> EndpointOut:
    return EndpointOut.of(await service.delete_endpoint(session, endpoint_id))


@router.post(f"{ENDPOINT}/rotate", response_model=SecretRotated)
async def rotate_secret(
    endpoint_id: uuid.UUID,
    data: SecretRotation,
    _: AdminDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> SecretRotated:
    """A new secret; the old one keeps signing beside it for ``grace_s`` (default 24 h)."""
    endpoint, secret = await service.rotate_secret(
        session, runtime.cipher, endpoint_id, timedelta(seconds=data.grace_s)
    )
    return SecretRotated.of(endpoint, secret)


@router.post(f"{ENDPOINT}/test", status_code=202)
async def send_test(endpoint_id: uuid.UUID, _: AdminDep, session: SessionDep) -> dict[str, str]:
    return {"message_id": await service.send_test(session, endpoint_id)}


@router.get(f"{ENDPOINT}/deliveries", response_model=list[DeliveryOut])
async def list_deliveries(
    endpoint_id: uuid.UUID, _: AdminDep, session: SessionDep
) -> list[DeliveryOut]:
    return await service.list_deliveries(session, endpoint_id)


@router.get("/admin/api/webhook-deliveries/{delivery_id}/attempts", response_model=list[AttemptOut])
async def list_attempts(
    delivery_id: uuid.UUID, _: AdminDep, session: SessionDep
) -> list[AttemptOut]:
    return await service.list_attempts(session, delivery_id)


@router.post("/admin/api/webhook-deliveries/{delivery_id}/replay", response_model=Replayed)
async def replay_delivery(delivery_id: uuid.UUID, _: AdminDep, session: SessionDep) -> Replayed:
    await service.replay_delivery(session, delivery_id)
    return Replayed(requeued=1)


@router.post(f"{ENDPOINT}/replay-dead", response_model=Replayed)
async def replay_dead(
    endpoint_id: uuid.UUID,
    _: AdminDep,
    session: SessionDep,
    since: datetime = Query(description="dead deliveries created at or after this time"),
) -> Replayed:
    return Replayed(requeued=await service.replay_dead(session, endpoint_id, since))
