"""Partners, memberships and slot ownership: the rules. Services flush, never commit."""

from __future__ import annotations

import base64
import os
import uuid

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from previewgate.accounts import service as accounts
from previewgate.crypto import KeyCipher
from previewgate.errors import Conflict, NotFound
from previewgate.experiments.models import Variant
from previewgate.experiments.variants import set_variant_partner
from previewgate.partners import queries
from previewgate.partners.models import Partner, PartnerMembership
from previewgate.partners.schemas import PartnerCreate, Role

SECRET_BYTES = 32


async def create_partner(session: AsyncSession, cipher: KeyCipher, data: PartnerCreate) -> Partner:
    """A partner with a new random HMAC secret (sealed); 409 if the slug is taken."""
    if await queries.find_partner_by_slug(session, data.slug) is not None:
        raise Conflict(f"a partner with slug {data.slug!r} exists")
    secret = base64.b64encode(os.urandom(SECRET_BYTES)).decode()
    partner = Partner(slug=data.slug, name=data.name, encrypted_secret=cipher.encrypt(secret))
    session.add(partner)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent create won the slug
        raise Conflict(f"a partner with slug {data.slug!r} exists") from exc
    return partner


def partner_secret(cipher: KeyCipher, partner: Partner) -> bytes:
    """The key of the partner's HMAC ids; for the exporter only."""
    return base64.b64decode(cipher.decrypt(partner.encrypted_secret))


async def get_partner(session: AsyncSession, ref: uuid.UUID | str) -> Partner:
    """By id, or (for the CLI) by slug; 404 otherwise."""
    partner = None
    if isinstance(ref, uuid.UUID):
        partner = await queries.find_partner(session, ref)
    else:
        try:
            partner = await queries.find_partner(session, uuid.UUID(ref))
        except ValueError:
            partner = None
        partner = partner or await queries.find_partner_by_slug(session, ref)
    if partner is None:
        raise NotFound(f"partner {ref} does not exist")
    return partner


async def rename_partner(session: AsyncSession, ref: uuid.UUID | str, name: str) -> Partner:
    partner = await get_partner(session, ref)
    partner.name = name
    await session.flush()
    return partner


async def delete_partner(session: AsyncSession, ref: uuid.UUID | str) -> Partner:
    """Memberships and export records go with it; its slots become nobody's."""
    partner = await get_partner(session, ref)
    await session.delete(partner)
    await session.flush()
    return partner


async def set_membership(
    session: AsyncSession, ref: uuid.UUID | str, user_id: uuid.UUID, role: Role
) -> PartnerMembership:
    """Add a live user as viewer or admin, or change the role of a member."""
    partner = await get_partner(session, ref)
    await accounts.get_live_user(session, user_id)
    membership = await queries.find_membership(session, partner.id, user_id)
    if membership is None:
        membership = PartnerMembership(user_id=user_id, partner_id=partner.id, role=role)
        session.add(membership)
    else:
        membership.role = role
    await session.flush()
    return membership


async def remove_membership(
    session: AsyncSession, partner_id: uuid.UUID, user_id: uuid.UUID
) -> PartnerMembership:
    membership = await queries.find_membership(session, partner_id, user_id)
    if membership is None:
        raise NotFound(f"user {user_id} is not a member of partner {partner_id}")
    await session.delete(membership)
    await session.flush()
    return membership


async def assign_slot(
    session: AsyncSession,
    experiment_id: uuid.UUID,
    variant_ref: uuid.UUID | str,
    partner_id: uuid.UUID | None,
) -> Variant:
    """Give a slot (its checkpoints, past and future) to a partner, or to nobody."""
    if partner_id is not None:
        await get_partner(session, partner_id)
    return await set_variant_partner(session, experiment_id, variant_ref, partner_id)
