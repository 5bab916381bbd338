"""Request and response shapes of the partners admin API. Outputs never carry a secret."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from previewgate.partners.models import Partner, PartnerMembership

Role = Literal["viewer", "admin"]
Slug = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PartnerCreate(_Input):
    slug: Slug
    name: str = Field(min_length=1, max_length=200)


class PartnerUpdate(_Input):
    name: str = Field(min_length=1, max_length=200)


class PartnerOut(BaseModel):
    id: uuid.UUID
    slug: str
    name: str
    created_at: datetime

    @classmethod
    def of(cls, partner: Partner) -> PartnerOut:
        return cls(
            id=partner.id, slug=partner.slug, name=partner.name, created_at=partner.created_at
        )


class MemberOut(BaseModel):
    """A partner API caller: its partner and its role there."""

    partner: PartnerOut
    role: Role


class MembershipIn(_Input):
    user_id: uuid.UUID
    role: Role


class MembershipOut(BaseModel):
    user_id: uuid.UUID
    partner_id: uuid.UUID
    role: Role
    created_at: datetime

    @classmethod
    def of(cls, membership: PartnerMembership) -> MembershipOut:
        return cls(
            user_id=membership.user_id,
            partner_id=membership.partner_id,
            role=membership.role,  # type: ignore[arg-type]
            created_at=membership.created_at,
        )


class SlotAssignment(_Input):
    partner_id: uuid.UUID | None = Field(description="null: the slot belongs to no partner")


class ExportFileOut(BaseModel):
    id: uuid.UUID
    day: date
    kind: str
    session_hash: str | None
    object_key: str
    bytes: int
    records: int
    sha256: str
    redactor_version: str
    truncated: int
    wiped: int
    failed: int
    created_at: datetime

    model_config = ConfigDict(from_attributes=True)
