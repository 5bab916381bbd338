"""Users, API keys and opt-ins. Services flush; the caller's boundary commits."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from previewgate.accounts import queries
from previewgate.accounts.models import AdminSessionRecord, ApiKey, PreviewOptIn, User
from previewgate.crypto import api_key_prefix, hash_api_key, new_api_key
from previewgate.errors import Conflict, NotFound, Unprocessable
from previewgate.store.base import utcnow


@dataclass(frozen=True)
class IssuedKey:
    user_id: uuid.UUID
    key_id: uuid.UUID
    plaintext: str  # shown once, never stored


async def create_user(session: AsyncSession, email: str, *, is_admin: bool = False) -> User:
    email = email.strip().lower()
    if "@" not in email or len(email) > 320:
        raise Unprocessable(f"{email!r} is not an e-mail address")
    existing = await session.scalar(select(User).where(User.email == email))
    if existing is not None:
        raise Conflict(f"a user with e-mail {email} already exists")
    user = User(email=email, is_admin=is_admin)
    session.add(user)
    await session.flush()
    return user


async def get_user_by_email(session: AsyncSession, email: str) -> User:
    user = await session.scalar(
        select(User).where(User.email == email.strip().lower(), User.deleted_at.is_(None))
    )
    if user is None:
        raise NotFound(f"no active user with e-mail {email}")
    return user


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User:
    """The user, deleted or not; ``NotFound`` when the id is unknown."""
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user with id {user_id}")
    return user


async def get_live_user(session: AsyncSession, user_id: uuid.UUID) -> User:
    """The user if not deleted: ``NotFound`` for an unknown id, ``Conflict`` for a deleted one."""
    user = await get_user(session, user_id)
    if user.deleted_at is not None:
        raise Conflict(f"user {user.email} is deleted")
    return user


async def delete_user(session: AsyncSession, user_id: uuid.UUID, acting: uuid.UUID) -> User:
    """Soft-delete (see ``soft_delete_user``); a deleted user stays as it is.

    An admin cannot delete themselves, so the last admin cannot lock everyone out by mistake.
    """
    user = await get_user(session, user_id)
    if user.id == acting:
        raise Conflict("you cannot delete your own user; another admin can")
    if user.deleted_at is None:
        await soft_delete_user(session, user)
    return user


async def revoke_user_key(session: AsyncSession, user_id: uuid.UUID, key_id: uuid.UUID) -> ApiKey:
    """Revoke one of the user's keys (a revoked key stays revoked as it was)."""
    key = await queries.find_key(session, user_id, key_id)
    if key is None:
        raise NotFound(f"user {user_id} has no key with id {key_id}")
    if key.revoked_at is None:
        await revoke_key(session, key.id)
        await session.refresh(key)
    return key


async def issue_key(session: AsyncSession, user: User) -> IssuedKey:
    plaintext = new_api_key()
    key = ApiKey(user_id=user.id, hash=hash_api_key(plaintext), prefix=api_key_prefix(plaintext))
    session.add(key)
    await session.flush()
    return IssuedKey(user_id=user.id, key_id=key.id, plaintext=plaintext)


async def revoke_key(session: AsyncSession, key_id: uuid.UUID) -> None:
    await session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


async def soft_delete_user(session: AsyncSession, user: User) -> None:
    """Mark the user deleted and revoke their keys; experiment evidence is kept (retention)."""
    now = utcnow()
    user.deleted_at = now
    await session.execute(
        update(ApiKey)
        .where(ApiKey.user_id == user.id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    await session.flush()


async def live_admin_key(session: AsyncSession, key_hash: str) -> ApiKey | None:
    """The unrevoked key with this hash, if it belongs to a live (not deleted) admin."""
    query = (
        select(ApiKey)
        .join(User, User.id == ApiKey.user_id)
        .where(
            ApiKey.hash == key_hash,
            ApiKey.revoked_at.is_(None),
            User.deleted_at.is_(None),
            User.is_admin.is_(True),
        )
    )
    found: ApiKey | None = await session.scalar(query)
    return found


async def open_admin_session(
    session: AsyncSession, key: ApiKey, session_id: str, lifetime: timedelta
) -> None:
    """Record a page session made from ``key``; expired sessions are cleared on the way."""
    now = utcnow()
    await session.execute(delete(AdminSessionRecord).where(AdminSessionRecord.expires_at <= now))
    session.add(
        AdminSessionRecord(
            id=session_id,
            user_id=key.user_id,
            api_key_id=key.id,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    await session.flush()


async def admin_of_session(session: AsyncSession, session_id: str) -> uuid.UUID | None:
    """The admin's user id while the session is live, else None.

    Live: not signed out (the row exists), not expired, the key it was made from not
    revoked, and its user neither deleted nor stripped of the admin flag.
    """
    query = (
        select(AdminSessionRecord.user_id)
        .join(ApiKey, ApiKey.id == AdminSessionRecord.api_key_id)
        .join(User, User.id == AdminSessionRecord.user_id)
        .where(
            AdminSessionRecord.id == session_id,
            AdminSessionRecord.expires_at > utcnow(),
            ApiKey.revoked_at.is_(None),
            User.deleted_at.is_(None),
            User.is_admin.is_(True),
        )
    )
    user_id: uuid.UUID | None = await session.scalar(query)
    return user_id


async def close_admin_session(session: AsyncSession, session_id: str) -> None:
    await session.execute(delete(AdminSessionRecord).where(AdminSessionRecord.id == session_id))


async def add_credit(session: AsyncSession, user: User, microusd: int) -> int:
    user.balance_microusd += microusd
    await session.flush()
    return user.balance_microusd


async def record_opt_in(
    session: AsyncSession, user_id: uuid.UUID, public_model_id: str, disclosure_version: int
) -> PreviewOptIn:
    existing = await session.get(PreviewOptIn, (user_id, public_model_id, disclosure_version))
    if existing is not None:
        return existing
    opt_in = PreviewOptIn(
        user_id=user_id, public_model_id=public_model_id, disclosure_version=disclosure_version
    )
    session.add(opt_in)
    await session.flush()
    return opt_in
