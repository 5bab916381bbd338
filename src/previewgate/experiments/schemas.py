"""Request and response shapes of the experiments admin API.

Inputs refuse unknown fields. Outputs carry no key material: a version shows only
``key_configured``, never ``encrypted_api_key`` or a plaintext key.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from previewgate.catalog.partner_key import PartnerKey
from previewgate.catalog.upstream import ApiFormat, UpstreamSpec

Status = Literal["draft", "active", "paused", "completed"]
# Labels are display only, but a blank or padded one is always a typo.
Label = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^\S(.*\S)?$")]
Weight = Annotated[int, Field(gt=0, le=1_000_000)]
ApiKey = PartnerKey  # printable ASCII, 1-2048 characters: see catalog.partner_key


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Patch(_Input):
    @model_validator(mode="after")
    def _no_nulls(self) -> Self:
        # Omitting a field leaves it alone; an explicit null is a mistake, not a reset.
        for name in self.model_fields_set:
            if getattr(self, name) is None:
                raise ValueError(f"{name} may be omitted but not null")
        return self


class ExperimentCreate(_Input):
    public_model_id: str = Field(min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=20000)
    require_opt_in: bool = True
    allow_anonymous: bool = False


class ExperimentUpdate(_Patch):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=20000)
    require_opt_in: bool | None = None
    allow_anonymous: bool | None = None


class ArchiveRequest(_Input):
    archived: bool


class VariantCreate(_Input):
    label: Label
    weight: Weight
    upstream: UpstreamSpec
    api_key: ApiKey


class VariantUpdate(_Patch):
    label: Label | None = None
    weight: Weight | None = None


class VersionCreate(_Input):
    upstream: UpstreamSpec
    api_key: ApiKey


class KeyRotation(_Input):
    api_key: ApiKey


class VersionOut(BaseModel):
    id: uuid.UUID
    internal_id: str
    base_url: str
    api_format: ApiFormat
    upstream: dict[str, Any] = Field(description="The full upstream spec; it never holds a key.")
    effective_at: datetime
    created_by: uuid.UUID | None
    created_at: datetime
    key_configured: Literal[True] = True
    current: bool


class VariantOut(BaseModel):
    id: uuid.UUID
    label: str
    weight: int
    partner_id: uuid.UUID | None = Field(description="the partner owning its checkpoints")
    share: float = Field(description="weight / total weight of the experiment")
    current_version_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    versions: list[VersionOut] = Field(description="Timeline, oldest first.")


class ExperimentOut(BaseModel):
    id: uuid.UUID
    public_model_id: str
    name: str
    description: str
    status: Status
    is_archived: bool
    require_opt_in: bool
    allow_anonymous: bool
    mode: Literal["sequential", "parallel"] | None = Field(
        description="sequential: one slot hot-swapped over time; parallel: an A/B split"
    )
    total_weight: int
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    variants: list[VariantOut]
