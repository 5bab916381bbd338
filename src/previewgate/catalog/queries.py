"""Every read of the model catalog, the routing part of a snapshot among them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from previewgate.catalog.models import CatalogModel
from previewgate.catalog.partner_key import open_partner_key
from previewgate.catalog.upstream import UpstreamSpec
from previewgate.crypto import KeyCipher
from previewgate.routing.snapshot import ModelEntry


async def list_models(session: AsyncSession) -> list[CatalogModel]:
    return list(await session.scalars(select(CatalogModel).order_by(CatalogModel.public_id)))


async def routing_models(session: AsyncSession, cipher: KeyCipher) -> dict[str, ModelEntry]:
    """Every catalog model by public id, its key decrypted (``key_error`` when it can't be)."""
    models: dict[str, ModelEntry] = {}
    for m in await session.scalars(select(CatalogModel)):
        key, key_error = open_partner_key(cipher, m.encrypted_api_key)
        pricing = m.pricing or {}
        models[m.public_id] = ModelEntry(
            public_id=m.public_id,
            kind=m.kind,
            display_name=m.display_name,
            description=m.description,
            context_length=m.context_length,
            upstream=UpstreamSpec.model_validate(m.upstream) if m.upstream else None,
            api_key=key,
            price_in=float(pricing.get("input", 0)),
            price_out=float(pricing.get("output", 0)),
            disclosure_text=m.disclosure_text,
            disclosure_version=m.disclosure_version,
            key_error=key_error,
            disclosure_shares=m.disclosure_shares_with_partner,
        )
    return models
