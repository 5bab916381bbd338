"""Catalog models as clients and admins see them, built field by field from the schemas,
so a column added to the model later (a key, a ciphertext) cannot leak by accident."""

from __future__ import annotations

from typing import Any

from previewgate.catalog.models import CatalogModel
from previewgate.catalog.schemas import (
    ModelOut,
    OpenAIModel,
    OpenRouterArchitecture,
    OpenRouterModel,
    OpenRouterPricing,
    OpenRouterProvider,
    PreviewInfo,
)
from previewgate.routing.snapshot import ModelEntry

DEFAULT_CONTEXT_LENGTH = 128000
SUPPORTED_PARAMETERS = ["tools", "tool_choice", "temperature", "max_tokens", "stream"]


def model_out(model: CatalogModel) -> ModelOut:
    return ModelOut(
        public_id=model.public_id,
        kind=model.kind,  # type: ignore[arg-type]
        display_name=model.display_name,
        description=model.description,
        context_length=model.context_length,
        upstream=model.upstream,
        key_configured=model.encrypted_api_key is not None,
        pricing=model.pricing,
        disclosure_text=model.disclosure_text,
        disclosure_version=model.disclosure_version,
        disclosure_shares_with_partner=model.disclosure_shares_with_partner,
        created_at=model.created_at.isoformat(),
        updated_at=model.updated_at.isoformat(),
    )


def public_view(model: CatalogModel) -> dict[str, Any]:
    """``model_out`` as a plain dict, for the CLI table and the admin page templates."""
    return model_out(model).model_dump()


def openai_entry(entry: ModelEntry) -> OpenAIModel:
    preview = None
    if entry.kind == "preview":
        preview = PreviewInfo(
            disclosure=entry.disclosure_text,
            disclosure_version=entry.disclosure_version,
            shares_with_provider=entry.disclosure_shares,
            opt_in=f"/v1/preview-models/{entry.public_id}/opt-in",
        )
    return OpenAIModel(id=entry.public_id, preview=preview)


def _per_token(usd_per_million: float) -> str:
    return f"{usd_per_million / 1_000_000:.12f}".rstrip("0").rstrip(".") or "0"


def openrouter_entry(entry: ModelEntry) -> OpenRouterModel:
    context_length = entry.context_length or DEFAULT_CONTEXT_LENGTH
    return OpenRouterModel(
        id=entry.public_id,
        name=entry.display_name or entry.public_id,
        description=entry.description or (entry.disclosure_text or ""),
        context_length=context_length,
        pricing=OpenRouterPricing(
            prompt=_per_token(entry.price_in), completion=_per_token(entry.price_out)
        ),
        architecture=OpenRouterArchitecture(input_modalities=["text"], output_modalities=["text"]),
        top_provider=OpenRouterProvider(context_length=context_length),
        supported_parameters=list(SUPPORTED_PARAMETERS),
    )
