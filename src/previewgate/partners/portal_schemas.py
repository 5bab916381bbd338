"""What the partner portal shows: its own slots in full, everyone else's as aliases.

Built field by field from the admin views (an allowlist), so nothing added to those
later reaches a partner by accident: another slot is only its alias ("control",
"other slot N"), its weight and share, never a label, an id, an upstream or an owner.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from previewgate.experiments.schemas import ExperimentOut, VariantOut
from previewgate.experiments.schemas import VersionOut as AdminVersionOut


class CheckpointOut(BaseModel):
    """One version of an own slot: the checkpoint that served during its period."""

    id: uuid.UUID
    internal_id: str
    api_format: str
    effective_at: datetime
    current: bool

    @classmethod
    def of(cls, version: AdminVersionOut) -> CheckpointOut:
        return cls(
            id=version.id,
            internal_id=version.internal_id,
            api_format=version.api_format,
            effective_at=version.effective_at,
            current=version.current,
        )


class OwnSlotOut(BaseModel):
    id: uuid.UUID
    label: str
    weight: int
    share: float
    is_control: bool
    versions: list[CheckpointOut]

    @classmethod
    def of(cls, slot: VariantOut, is_control: bool) -> OwnSlotOut:
        return cls(
            id=slot.id,
            label=slot.label,
            weight=slot.weight,
            share=slot.share,
            is_control=is_control,
            versions=[CheckpointOut.of(v) for v in slot.versions],
        )


class OtherSlotOut(BaseModel):
    name: str  # "control" or "other slot N"
    weight: int
    share: float


class PortalExperimentOut(BaseModel):
    id: uuid.UUID
    public_model_id: str
    status: str
    is_archived: bool
    design: str | None
    started_at: datetime | None
    ended_at: datetime | None
    own_slots: list[OwnSlotOut]
    other_slots: list[OtherSlotOut]

    @classmethod
    def of(cls, view: ExperimentOut, partner_id: uuid.UUID) -> PortalExperimentOut:
        names = slot_names(view, partner_id)
        control = view.variants[0].id if view.variants else None
        return cls(
            id=view.id,
            public_model_id=view.public_model_id,
            status=view.status,
            is_archived=view.is_archived,
            design=view.mode,
            started_at=view.started_at,
            ended_at=view.ended_at,
            own_slots=[
                OwnSlotOut.of(s, s.id == control)
                for s in view.variants
                if s.partner_id == partner_id
            ],
            other_slots=[
                OtherSlotOut(name=names[s.id], weight=s.weight, share=s.share)
                for s in view.variants
                if s.partner_id != partner_id
            ],
        )


def slot_names(view: ExperimentOut, partner_id: uuid.UUID) -> dict[uuid.UUID, str]:
    """Every slot's name as this partner sees it: its own by label, the first slot (the
    control) of anyone else as "control", the rest as "other slot 1", "other slot 2"..."""
    names: dict[uuid.UUID, str] = {}
    others = 0
    for position, slot in enumerate(view.variants):
        if slot.partner_id == partner_id:
            names[slot.id] = slot.label
        elif position == 0:
            names[slot.id] = "control"
        else:
            others += 1
            names[slot.id] = f"other slot {others}"
    return names


class DayRatings(BaseModel):
    day: date
    up: int
    down: int


class CheckpointFeedbackOut(BaseModel):
    """Ratings of one own checkpoint: totals over its whole period, and per day lately."""

    experiment_id: uuid.UUID
    public_model_id: str
    slot_id: uuid.UUID
    slot_label: str
    checkpoint: CheckpointOut
    requests: int
    up: int
    down: int
    up_rate: float | None
    up_rate_interval: dict[str, float] | None
    days: list[DayRatings]


class PortalMemberOut(BaseModel):
    user_id: uuid.UUID
    email: str
    role: str
    created_at: datetime


class ViewerInvite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=320)


class ViewerInvited(PortalMemberOut):
    """The new viewer and its API key, shown this once (only its hash is stored)."""

    api_key: str
