"""The model catalog: add and edit production and preview models."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from previewgate.catalog import queries
from previewgate.catalog.models import CatalogModel, ModelDisclosure
from previewgate.catalog.partner_key import require_partner_key
from previewgate.catalog.schemas import ModelCreate, ModelUpdate
from previewgate.catalog.upstream import UpstreamSpec
from previewgate.crypto import KeyCipher
from previewgate.errors import Conflict, NotFound, Unprocessable

DEFAULT_DISCLOSURE = (
    "This is a preview model. Prompts and responses may be retained for experiment analysis "
    "and partner evaluation for the retention window. Do not submit secrets or personal data."
)


def parse_upstream(raw: object) -> UpstreamSpec:
    try:
        return UpstreamSpec.model_validate(raw)
    except ValidationError as exc:
        raise Unprocessable(f"invalid upstream: {_first_error(exc)}") from exc


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "value"
    return f"{where}: {err['msg']}"


async def list_models(session: AsyncSession) -> list[CatalogModel]:
    """The whole catalog by public id."""
    return await queries.list_models(session)


async def get_model(session: AsyncSession, public_id: str) -> CatalogModel:
    model = await session.get(CatalogModel, public_id)
    if model is None:
        raise NotFound(f"model {public_id!r} is not in the catalog")
    return model


async def create_model(session: AsyncSession, cipher: KeyCipher, data: ModelCreate) -> CatalogModel:
    if await session.get(CatalogModel, data.public_id) is not None:
        raise Conflict(f"model {data.public_id!r} already exists")
    model = CatalogModel(
        public_id=data.public_id,
        kind=data.kind,
        display_name=data.display_name or data.public_id,
        description=data.description,
        context_length=data.context_length,
        upstream=data.upstream.stored() if data.upstream else None,
        encrypted_api_key=_sealed(cipher, data.api_key),
        pricing=data.pricing.model_dump() if data.pricing else None,
    )
    if data.kind == "preview":
        model.disclosure_text = data.disclosure_text or DEFAULT_DISCLOSURE
        model.disclosure_shares_with_partner = data.disclosure_shares_with_partner
        model.disclosure_version = 1
    elif data.disclosure_text or data.disclosure_shares_with_partner:
        raise Unprocessable("a disclosure applies to preview models only")
    session.add(model)
    await session.flush()
    if data.kind == "preview":
        await _record_disclosure(session, model)
    return model


async def update_model(
    session: AsyncSession, cipher: KeyCipher, public_id: str, data: ModelUpdate
) -> CatalogModel:
    model = await get_model(session, public_id)
    fields: dict[str, Any] = data.model_dump(exclude_unset=True)
    for name in ("display_name", "description", "context_length"):
        if name in fields:
            setattr(model, name, fields[name])
    if "upstream" in fields:
        model.upstream = data.upstream.stored() if data.upstream else None
    if data.api_key is not None:
        model.encrypted_api_key = _sealed(cipher, data.api_key)
    if "pricing" in fields:
        model.pricing = data.pricing.model_dump() if data.pricing else None
    text = data.disclosure_text
    shares = data.disclosure_shares_with_partner
    if text is not None or shares is not None:
        if model.kind != "preview":
            raise Unprocessable("a disclosure applies to preview models only")
        changed_text = text is not None and text != model.disclosure_text
        changed_sharing = shares is not None and shares != model.disclosure_shares_with_partner
        if changed_text or changed_sharing:
            # What callers agree to changed: a new version, which needs fresh consent
            # (opt-ins are keyed on it and do not carry over).
            model.disclosure_text = text if text is not None else model.disclosure_text
            if shares is not None:
                model.disclosure_shares_with_partner = shares
            model.disclosure_version += 1
            await _record_disclosure(session, model)
    await session.flush()
    return model


async def _record_disclosure(session: AsyncSession, model: CatalogModel) -> None:
    """Keep the version callers may accept: the export reads what each one allowed."""
    session.add(
        ModelDisclosure(
            public_model_id=model.public_id,
            version=model.disclosure_version,
            text=model.disclosure_text,
            shares_with_partner=model.disclosure_shares_with_partner,
        )
    )
    await session.flush()


def _sealed(cipher: KeyCipher, api_key: str | None) -> dict[str, str] | None:
    # The schema checked the key already; the service stays the authority for other callers.
    return cipher.encrypt(require_partner_key(api_key)) if api_key is not None else None
