"""Reads of partners and their members."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from previewgate.partners.models import ExportFile, Partner, PartnerMembership


async def list_partners(session: AsyncSession) -> list[Partner]:
    return list(await session.scalars(select(Partner).order_by(Partner.slug)))


async def find_partner(session: AsyncSession, partner_id: uuid.UUID) -> Partner | None:
    found: Partner | None = await session.get(Partner, partner_id)
    return found


async def find_partner_by_slug(session: AsyncSession, slug: str) -> Partner | None:
    found: Partner | None = await session.scalar(select(Partner).where(Partner.slug == slug))
    return found


async def memberships(session: AsyncSession, partner_id: uuid.UUID) -> list[PartnerMembership]:
    query = (
        select(PartnerMembership)
        .where(PartnerMembership.partner_id == partner_id)
        .order_by(PartnerMembership.created_at, PartnerMembership.user_id)
    )
    return list(await session.scalars(query))


async def find_membership(
    session: AsyncSession, partner_id: uuid.UUID, user_id: uuid.UUID
) -> PartnerMembership | None:
    found: PartnerMembership | None = await session.get(PartnerMembership, (user_id, partner_id))
    return found


async def export_files(session: AsyncSession, partner_id: uuid.UUID) -> list[ExportFile]:
    query = (
        select(ExportFile)
        .where(ExportFile.partner_id == partner_id)
        .order_by(ExportFile.day.desc(), ExportFile.kind, ExportFile.object_key)
    )
    return list(await session.scalars(query))


async def memberships_of_user(
    session: AsyncSession, user_id: uuid.UUID
) -> list[tuple[PartnerMembership, Partner]]:
    """The user's partners, by slug."""
    rows = await session.execute(
        select(PartnerMembership, Partner)
        .join(Partner, Partner.id == PartnerMembership.partner_id)
        .where(PartnerMembership.user_id == user_id)
        .order_by(Partner.slug)
    )
    return [(m, p) for m, p in rows]
