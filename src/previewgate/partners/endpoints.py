"""Admin REST API for partners: CRUD, members, slot ownership, the export file index."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from previewgate.deps import AdminDep, RuntimeDep, SessionDep
from previewgate.experiments import views
from previewgate.experiments.schemas import VariantOut
from previewgate.partners import queries, service
from previewgate.partners.schemas import (
    ExportFileOut,
    MembershipIn,
    MembershipOut,
    PartnerCreate,
    PartnerOut,
    PartnerUpdate,
    SlotAssignment,
)

router = APIRouter(prefix="/admin/api/partners", tags=["admin: partners"])
slots = APIRouter(prefix="/admin/api/experiments", tags=["admin: partners"])


@router.get("", response_model=list[PartnerOut])
async def list_partners(_: AdminDep, session: SessionDep) -> list[PartnerOut]:
    return [PartnerOut.of(p) for p in await queries.list_partners(session)]


@router.post("", status_code=201, response_model=PartnerOut)
async def create_partner(
    data: PartnerCreate, _: AdminDep, session: SessionDep, runtime: RuntimeDep
) -> PartnerOut:
    """A partner, with a new secret for its HMAC ids (never shown)."""
    return PartnerOut.of(await service.create_partner(session, runtime.cipher, data))


@router.get("/{partner_id}", response_model=PartnerOut)
async def get_partner(partner_id: uuid.UUID, _: AdminDep, session: SessionDep) -> PartnerOut:
    return PartnerOut.of(await service.get_partner(session, partner_id))


@router.patch("/{partner_id}", response_model=PartnerOut)
async def rename_partner(
    partner_id: uuid.UUID, data: PartnerUpdate, _: AdminDep, session: SessionDep
) -> PartnerOut:
    return PartnerOut.of(await service.rename_partner(session, partner_id, data.name))


@router.delete("/{partner_id}", response_model=PartnerOut)
async def delete_partner(partner_id: uuid.UUID, _: AdminDep, session: SessionDep) -> PartnerOut:
    """Its memberships and export records go; its slots become nobody's."""
    return PartnerOut.of(await service.delete_partner(session, partner_id))


@router.get("/{partner_id}/members", response_model=list[MembershipOut])
async def list_members(
    partner_id: uuid.UUID, _: AdminDep, session: SessionDep
) -> list[MembershipOut]:
    await service.get_partner(session, partner_id)
    return [MembershipOut.of(m) for m in await queries.memberships(session, partner_id)]


@router.put("/{partner_id}/members", response_model=MembershipOut)
async def set_member(
    partner_id: uuid.UUID, data: MembershipIn, _: AdminDep, session: SessionDep
) -> MembershipOut:
    """Add a user as viewer or admin, or change a member's role."""
    membership = await service.set_membership(session, partner_id, data.user_id, data.role)
    return MembershipOut.of(membership)


@router.delete("/{partner_id}/members/{user_id}", response_model=MembershipOut)
async def remove_member(
    partner_id: uuid.UUID, user_id: uuid.UUID, _: AdminDep, session: SessionDep
) -> MembershipOut:
    return MembershipOut.of(await service.remove_membership(session, partner_id, user_id))


@router.get("/{partner_id}/exports", response_model=list[ExportFileOut])
async def list_exports(
    partner_id: uuid.UUID, _: AdminDep, session: SessionDep
) -> list[ExportFileOut]:
    await service.get_partner(session, partner_id)
    return [
        ExportFileOut.model_validate(f) for f in await queries.export_files(session, partner_id)
    ]


@slots.put("/{experiment_id}/variants/{variant_id}/partner", response_model=VariantOut)
async def assign_slot(
    experiment_id: uuid.UUID,
    variant_id: uuid.UUID,
    data: SlotAssignment,
    _: AdminDep,
    session: SessionDep,
) -> VariantOut:
    """The partner that owns this slot's checkpoints (receives their turns), or null."""
    variant = await service.assign_slot(session, experiment_id, variant_id, data.partner_id)
    return views.variant_out(variant)
