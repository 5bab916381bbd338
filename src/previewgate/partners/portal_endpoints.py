"""The partner API (``/partner/api``): a provider's own exports and webhooks, by its API key.

Anything that is not the caller's partner's answers 404, never 403, so ids do not leak:
every id is looked up scoped to the caller's partner first (the same service calls as the
operator's API, with ``partner_id``), and only then is the role checked, so admin-only
actions answer 403 to a viewer only on its own partner's ids.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request, Response

from previewgate.deps import RuntimeDep, SessionDep
from previewgate.partners import portal, portal_webhooks, queries
from previewgate.partners.download import download
from previewgate.partners.portal_auth import MemberDep, PartnerAdminDep
from previewgate.partners.portal_schemas import (
    CheckpointFeedbackOut,
    OwnSlotOut,
    PortalExperimentOut,
    PortalMemberOut,
    ViewerInvite,
    ViewerInvited,
)
from previewgate.partners.schemas import ExportFileOut, MemberOut, PartnerOut
from previewgate.reporting.inference import Mode
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


@router.get("/experiments", response_model=list[PortalExperimentOut])
async def list_experiments(member: MemberDep, session: SessionDep) -> list[PortalExperimentOut]:
    return await portal.experiments_of(session, member.partner_id)


@router.get("/experiments/{experiment_id}", response_model=PortalExperimentOut)
async def get_experiment(
    experiment_id: uuid.UUID, member: MemberDep, session: SessionDep
) -> PortalExperimentOut:
    return await portal.experiment(session, experiment_id, member.partner_id)


@router.get("/experiments/{experiment_id}/results")
async def experiment_results(
    experiment_id: uuid.UUID,
    member: MemberDep,
    session: SessionDep,
    mode: Mode = "sequential",
    alpha: float = Query(0.05, gt=0, lt=1),
) -> dict[str, Any]:
    return await portal.results(session, experiment_id, member.partner_id, mode, alpha)


@router.get("/slots/{slot_id}", response_model=OwnSlotOut)
async def get_slot(slot_id: uuid.UUID, member: MemberDep, session: SessionDep) -> OwnSlotOut:
    return await portal.slot(session, slot_id, member.partner_id)


@router.get("/checkpoints/{version_id}/feedback", response_model=CheckpointFeedbackOut)
async def checkpoint_feedback(
    version_id: uuid.UUID, member: MemberDep, session: SessionDep
) -> CheckpointFeedbackOut:
    return await portal.checkpoint_feedback(session, version_id, member.partner_id)


@router.get("/members", response_model=list[PortalMemberOut])
async def list_members(member: MemberDep, session: SessionDep) -> list[PortalMemberOut]:
    return await portal.members(session, member.partner_id)


@router.post("/members", status_code=201, response_model=ViewerInvited)
async def invite_viewer(
    data: ViewerInvite, member: PartnerAdminDep, session: SessionDep
) -> ViewerInvited:
    return await portal.invite_viewer(session, member.partner_id, data.email)


@router.delete("/members/{user_id}", status_code=204)
async def remove_viewer(user_id: uuid.UUID, member: MemberDep, session: SessionDep) -> Response:
    await portal.remove_viewer(session, member, user_id)
    return Response(status_code=204)


@router.get("/exports", response_model=list[ExportFileOut])
async def list_exports(member: MemberDep, session: SessionDep) -> list[ExportFileOut]:
    files = await queries.export_files(session, member.partner_id)
    return [ExportFileOut.model_validate(f) for f in files]


@router.get("/exports/{file_id}", response_model=ExportFileOut)
async def get_export(file_id: uuid.UUID, member: MemberDep, session: SessionDep) -> ExportFileOut:
    return ExportFileOut.model_validate(
        await portal.export_file(session, file_id, member.partner_id)
    )


@router.get("/exports/{file_id}/download")
async def download_export(
    file_id: uuid.UUID,
    request: Request,
    member: MemberDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    # The session ends when this returns (scope="function"), before the file streams.
    file = await portal.export_file(session, file_id, member.partner_id)
    return await download(request, runtime.blobs, file)


@router.get("/webhooks", response_model=list[EndpointOut])
async def list_endpoints(member: MemberDep, session: SessionDep) -> list[EndpointOut]:
    return await portal_webhooks.endpoints(session, member)


@router.post("/webhooks", status_code=201, response_model=EndpointCreated)
async def create_endpoint(
    data: EndpointCreate, member: MemberDep, session: SessionDep, runtime: RuntimeDep
) -> EndpointCreated:
    allowed = runtime.settings.webhook_allowed_network_list
    return await portal_webhooks.create(session, runtime.cipher, member, data, allowed)


@router.get("/webhooks/{endpoint_id}", response_model=EndpointOut)
async def get_endpoint(
    endpoint_id: uuid.UUID, member: MemberDep, session: SessionDep
) -> EndpointOut:
    return await portal_webhooks.endpoint(session, member, endpoint_id)


@router.post("/webhooks/{endpoint_id}/rotate", response_model=SecretRotated)
async def rotate_secret(
    endpoint_id: uuid.UUID,
    data: SecretRotation,
    member: MemberDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> SecretRotated:
    return await portal_webhooks.rotate(session, runtime.cipher, member, endpoint_id, data.grace_s)


@router.post("/webhooks/{endpoint_id}/test", status_code=202)
async def send_test(
    endpoint_id: uuid.UUID, member: MemberDep, session: SessionDep
) -> dict[str, str]:
    return {"message_id": await portal_webhooks.send_test(session, member, endpoint_id)}


@router.get("/webhooks/{endpoint_id}/deliveries", response_model=list[DeliveryOut])
async def list_deliveries(
    endpoint_id: uuid.UUID, member: MemberDep, session: SessionDep
) -> list[DeliveryOut]:
    return await portal_webhooks.deliveries(session, member, endpoint_id)


@router.get("/webhook-deliveries/{delivery_id}", response_model=DeliveryOut)
async def get_delivery(
    delivery_id: uuid.UUID, member: MemberDep, session: SessionDep
) -> DeliveryOut:
    return await portal_webhooks.delivery(session, member, delivery_id)


@router.get("/webhook-deliveries/{delivery_id}/attempts", response_model=list[AttemptOut])
async def list_attempts(
    delivery_id: uuid.UUID, member: MemberDep, session: SessionDep
) -> list[AttemptOut]:
    return await portal_webhooks.attempts(session, member, delivery_id)


@router.post("/webhook-deliveries/{delivery_id}/replay", response_model=Replayed)
async def replay_delivery(
    delivery_id: uuid.UUID, member: MemberDep, session: SessionDep
) -> Replayed:
    await portal_webhooks.replay(session, member, delivery_id)
    return Replayed(requeued=1)


@router.post("/webhooks/{endpoint_id}/replay-dead", response_model=Replayed)
async def replay_dead(
    endpoint_id: uuid.UUID,
    member: MemberDep,
    session: SessionDep,
    since: datetime = Query(description="dead deliveries created at or after this time"),
) -> Replayed:
    return Replayed(requeued=await portal_webhooks.replay_dead(session, member, endpoint_id, since))
