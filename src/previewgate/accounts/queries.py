"""Reads of users and keys for the admin API and pages; the service holds the rules."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from previewgate.accounts.models import ApiKey, User


async def list_users(session: AsyncSession, *, include_deleted: bool = False) -> list[User]:
    """Users by e-mail; deleted ones only when asked for."""
    query = select(User).order_by(User.email)
    if not include_deleted:
        query = query.where(User.deleted_at.is_(None))
    return list(await session.scalars(query))


async def list_keys(session: AsyncSession, user_id: uuid.UUID) -> list[ApiKey]:
    """A user's keys, newest first, revoked ones included."""
    query = (
        select(ApiKey)
        .where(ApiKey.user_id == user_id)
        .order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
    )
    return list(await session.scalars(query))


async def find_key(session: AsyncSession, user_id: uuid.UUID, key_id: uuid.UUID) -> ApiKey | None:
    """The key, if it exists and belongs to this user."""
    found: ApiKey | None = await session.scalar(
        select(ApiKey).where(ApiKey.id == key_id, ApiKey.user_id == user_id)
    )
    return found


async def live_key_counts(session: AsyncSession) -> dict[uuid.UUID, int]:
    """Unrevoked keys per user, for listings (users without one are absent)."""
    query = (
        select(ApiKey.user_id, func.count())
        .where(ApiKey.revoked_at.is_(None))
        .group_by(ApiKey.user_id)
    )
    return {user_id: int(n) for user_id, n in await session.execute(query)}
