"""Every statement the accounts domain runs, in one place; the service holds the rules."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Select, case, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from previewgate.accounts.models import AdminSessionRecord, ApiKey, PreviewOptIn, User
from previewgate.routing.snapshot import Caller, CallerRows
from previewgate.store.base import utcnow


async def list_users(session: AsyncSession, *, include_deleted: bool = False) -> list[User]:
    """Users by e-mail; deleted ones only when asked for."""
    query = select(User).order_by(User.email)
    if not include_deleted:
        query = query.where(User.deleted_at.is_(None))
    return list(await session.scalars(query))


async def user_by_email(
    session: AsyncSession, email: str, *, include_deleted: bool = False
) -> User | None:
    """The user with this (already normalised) e-mail; deleted ones only when asked for."""
    query = select(User).where(User.email == email)
    if not include_deleted:
        query = query.where(User.deleted_at.is_(None))
    found: User | None = await session.scalar(query)
    return found


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


async def revoke_key(session: AsyncSession, key_id: uuid.UUID) -> None:
    """Revoke the key now; a key revoked earlier keeps its ``revoked_at``."""
    await session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


async def revoke_user_keys(session: AsyncSession, user_id: uuid.UUID, at: datetime) -> None:
    """Revoke every unrevoked key of the user at ``at``."""
    await session.execute(
        update(ApiKey)
        .where(ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=at)
    )


def live_key(key_hash: str) -> Select[ApiKey]:
    """The unrevoked key with this hash, if its user is live (not deleted)."""
    return (
        select(ApiKey)
        .join(User, User.id == ApiKey.user_id)
        .where(ApiKey.hash == key_hash, ApiKey.revoked_at.is_(None), User.deleted_at.is_(None))
    )


async def live_admin_key(session: AsyncSession, key_hash: str) -> ApiKey | None:
    """The unrevoked key with this hash, if it belongs to a live (not deleted) admin."""
    found: ApiKey | None = await session.scalar(live_key(key_hash).where(User.is_admin.is_(True)))
    return found


async def delete_expired_admin_sessions(session: AsyncSession, now: datetime) -> None:
    await session.execute(delete(AdminSessionRecord).where(AdminSessionRecord.expires_at <= now))


def session_user(session_id: str, realm: str) -> Select[uuid.UUID]:
    """The user of a live page session of ``realm``: not signed out (the row exists), not
    expired, the key it was made from not revoked, its user not deleted. Each realm adds
    its own condition on ``User`` (an admin flag, a membership)."""
    return (
        select(AdminSessionRecord.user_id)
        .join(ApiKey, ApiKey.id == AdminSessionRecord.api_key_id)
        .join(User, User.id == AdminSessionRecord.user_id)
        .where(
            AdminSessionRecord.id == session_id,
            AdminSessionRecord.realm == realm,
            AdminSessionRecord.expires_at > utcnow(),
            ApiKey.revoked_at.is_(None),
            User.deleted_at.is_(None),
        )
    )


async def admin_of_session(session: AsyncSession, session_id: str) -> uuid.UUID | None:
    """The admin's user id while the admin session is live and its user still an admin."""
    query = session_user(session_id, "admin").where(User.is_admin.is_(True))
    user_id: uuid.UUID | None = await session.scalar(query)
    return user_id


async def close_admin_session(session: AsyncSession, session_id: str) -> None:
    """Sign out: the session's row goes (a missing row is already signed out)."""
    await session.execute(delete(AdminSessionRecord).where(AdminSessionRecord.id == session_id))


def _live_keys() -> Select[str, uuid.UUID, bool, int]:
    return (
        select(ApiKey.hash, User.id, User.is_admin, User.balance_microusd)
        .join(User, User.id == ApiKey.user_id)
        .where(ApiKey.revoked_at.is_(None), User.deleted_at.is_(None))
    )


async def routing_callers(session: AsyncSession) -> CallerRows:
    """Every live key's caller, the funded users and the opt-ins: the accounts part of a
    snapshot."""
    callers: dict[str, Caller] = {}
    funded: set[uuid.UUID] = set()
    for key_hash, user_id, is_admin, balance in await session.execute(_live_keys()):
        callers[key_hash] = Caller(user_id, is_admin)
        if balance > 0:
            funded.add(user_id)
    opt_rows = await session.execute(
        select(PreviewOptIn.user_id, PreviewOptIn.public_model_id, PreviewOptIn.disclosure_version)
    )
    return CallerRows(callers, funded, frozenset((u, p, v) for u, p, v in opt_rows))


async def caller_by_key_hash(session: AsyncSession, key_hash: str) -> tuple[Caller, bool] | None:
    """The caller of one live key and whether its user is funded; None for an unknown,
    revoked or deleted user's key. One indexed read (``api_key.hash`` is unique)."""
    row = (await session.execute(_live_keys().where(ApiKey.hash == key_hash))).first()
    if row is None:
        return None
    _, user_id, is_admin, balance = row
    return Caller(user_id, is_admin), balance > 0


async def charge_balances(session: AsyncSession, charges: dict[uuid.UUID, int]) -> bool:
    """Take each user's charge (microUSD) off their balance in one statement; True when a
    balance that was positive is now empty (its user is no longer funded)."""
    rows = await session.execute(
        update(User)
        .where(User.id.in_(list(charges)))
        .values(balance_microusd=User.balance_microusd - case(charges, value=User.id, else_=0))
        .returning(User.id, User.balance_microusd)
    )
    return any(balance <= 0 < balance + charges[user_id] for user_id, balance in rows)
