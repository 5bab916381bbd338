"""Request and response shapes of the model lists and the admin catalog API.

Inputs refuse unknown fields. Outputs never carry a partner key: the admin view shows
only ``key_configured``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from previewgate.catalog.partner_key import PartnerKey
from previewgate.catalog.upstream import UpstreamSpec

INT32_MAX = 2**31 - 1


class Pricing(BaseModel):
    """USD per million tokens."""

    model_config = ConfigDict(extra="forbid")
    input: float = Field(ge=0, allow_inf_nan=False)
    output: float = Field(ge=0, allow_inf_nan=False)


class ModelCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    public_id: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._:/@+-]+$")
    kind: Literal["production", "preview"]
    display_name: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=4000)
    context_length: int | None = Field(default=None, gt=0, le=INT32_MAX)
    upstream: UpstreamSpec | None = None
    api_key: PartnerKey | None = None
    pricing: Pricing | None = None
    disclosure_text: str | None = Field(default=None, max_length=20000)
    disclosure_shares_with_partner: bool = Field(
        default=False,
        description="Whether callers who accept this disclosure let the provider of the "
        "checkpoint that serves them receive their turns (redacted).",
    )

    @field_validator("public_id")
    @classmethod
    def _not_auto(cls, value: str) -> str:
        if value == "auto":
            raise ValueError("'auto' is reserved")
        return value


class ModelUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=4000)
    context_length: int | None = Field(default=None, gt=0, le=INT32_MAX)
    upstream: UpstreamSpec | None = None
    api_key: PartnerKey | None = None
    pricing: Pricing | None = None
    disclosure_text: str | None = Field(default=None, max_length=20000)
    disclosure_shares_with_partner: bool | None = Field(
        default=None, description="A change is a new disclosure version (fresh consent)."
    )

    @model_validator(mode="after")
    def _no_null_text(self) -> ModelUpdate:
        # Omitting a field leaves it alone; null for a text column is a mistake, not a reset.
        for name in ("display_name", "description", "disclosure_shares_with_partner"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} may be omitted but not null")
        return self


class ModelOut(BaseModel):
    """The admin view of a model: everything but the key, which shows as configured or not."""

    public_id: str
    kind: Literal["production", "preview"]
    display_name: str
    description: str
    context_length: int | None
    upstream: dict[str, Any] | None = Field(description="The stored upstream spec; no key.")
    key_configured: bool
    pricing: dict[str, Any] | None = Field(description="USD per million tokens.")
    disclosure_text: str | None
    disclosure_version: int
    disclosure_shares_with_partner: bool
    # As isoformat() writes them (+00:00), the form these answers have always had.
    created_at: str
    updated_at: str


class PreviewInfo(BaseModel):
    disclosure: str | None
    disclosure_version: int
    shares_with_provider: bool = Field(
        description="Accepting this disclosure lets the checkpoint's provider receive your "
        "turns (redacted)."
    )
    opt_in: str = Field(description="Where to opt in: /v1/preview-models/{id}/opt-in")


class OpenAIModel(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "previewgate"
    # Production models have no such key at all (not null), as in OpenAI's own list.
    preview: PreviewInfo | None = Field(default=None, exclude_if=lambda value: value is None)


class OpenAIModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[OpenAIModel]


class OpenRouterPricing(BaseModel):
    """USD per token, in decimal strings, as OpenRouter quotes them."""

    prompt: str
    completion: str


class OpenRouterArchitecture(BaseModel):
    input_modalities: list[str]
    output_modalities: list[str]


class OpenRouterProvider(BaseModel):
    context_length: int


class OpenRouterModel(BaseModel):
    id: str
    name: str
    description: str
    context_length: int
    created: int = 0
    pricing: OpenRouterPricing
    architecture: OpenRouterArchitecture
    top_provider: OpenRouterProvider
    supported_parameters: list[str]


class OpenRouterModelList(BaseModel):
    data: list[OpenRouterModel]
