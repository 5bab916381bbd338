"""Reads of partners and their members."""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from previewgate.accounts import queries as account_queries
from previewgate.accounts.models import ApiKey, User
from previewgate.experiments.models import Experiment, Variant, VariantVersion
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


def _is_member() -> ColumnElement[bool]:
    return exists().where(PartnerMembership.user_id == User.id)


async def live_member_key(session: AsyncSession, key_hash: str) -> ApiKey | None:
    """The unrevoked key with this hash, if its live user belongs to at least one partner."""
    found: ApiKey | None = await session.scalar(
        account_queries.live_key(key_hash).where(_is_member())
    )
    return found


async def member_of_session(session: AsyncSession, session_id: str) -> uuid.UUID | None:
    """The user of a live partner-portal session who still belongs to a partner."""
    query = account_queries.session_user(session_id, "partner").where(_is_member())
    user_id: uuid.UUID | None = await session.scalar(query)
    return user_id


# Everything below is scoped to one partner: an id of anyone else's finds nothing.


async def partner_experiments(session: AsyncSession, partner_id: uuid.UUID) -> list[Experiment]:
    """Experiments in which the partner owns at least one slot, newest first."""
    owned = exists().where(Variant.experiment_id == Experiment.id, Variant.partner_id == partner_id)
    query = select(Experiment).where(owned).order_by(Experiment.created_at.desc(), Experiment.id)
    return list(await session.scalars(query))


async def owned_slot_ids(
    session: AsyncSession, experiment_id: uuid.UUID, partner_id: uuid.UUID
) -> set[uuid.UUID]:
    query = select(Variant.id).where(
        Variant.experiment_id == experiment_id, Variant.partner_id == partner_id
    )
    return set(await session.scalars(query))


async def owned_slot(
    session: AsyncSession, variant_id: uuid.UUID, partner_id: uuid.UUID
) -> Variant | None:
    query = select(Variant).where(Variant.id == variant_id, Variant.partner_id == partner_id)
    found: Variant | None = await session.scalar(query)
    return found


async def slot_of_owned_version(
    session: AsyncSession, version_id: uuid.UUID, partner_id: uuid.UUID
) -> Variant | None:
    """The slot of a checkpoint version, if the partner owns that slot."""
    query = (
        select(Variant)
        .join(VariantVersion, VariantVersion.variant_id == Variant.id)
        .where(VariantVersion.id == version_id, Variant.partner_id == partner_id)
    )
    found: Variant | None = await session.scalar(query)
    return found


async def export_file(
    session: AsyncSession, file_id: uuid.UUID, partner_id: uuid.UUID
) -> ExportFile | None:
    query = select(ExportFile).where(ExportFile.id == file_id, ExportFile.partner_id == partner_id)
    found: ExportFile | None = await session.scalar(query)
    return found


async def members_with_emails(
    session: AsyncSession, partner_id: uuid.UUID
) -> list[tuple[PartnerMembership, str]]:
    """The partner's members and their e-mails (live users only), by role then e-mail."""
    query = (
        select(PartnerMembership, User.email)
        .join(User, User.id == PartnerMembership.user_id)
        .where(PartnerMembership.partner_id == partner_id, User.deleted_at.is_(None))
        .order_by(PartnerMembership.role, User.email)
    )
    return [(m, email) for m, email in await session.execute(query)]
