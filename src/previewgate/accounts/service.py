"""Users, API keys and opt-ins. Services flush; the caller's boundary commits."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

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
    if await queries.user_by_email(session, email, include_deleted=True) is not None:
        raise Conflict(f"a user with e-mail {email} already exists")
    user = User(email=email, is_admin=is_admin)
    session.add(user)
    await session.flush()
    return user


async def get_user_by_email(session: AsyncSession, email: str) -> User:
    user = await queries.user_by_email(session, email.strip().lower())
    if user is None:
        raise NotFound(f"no active user with e-mail {email}")
    return user


async def list_users(session: AsyncSession, *, include_deleted: bool = False) -> list[User]:
    """Users by e-mail; deleted ones only when asked for."""
    return await queries.list_users(session, include_deleted=include_deleted)


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


async def list_keys(session: AsyncSession, user_id: uuid.UUID) -> list[ApiKey]:
    """The user's keys, newest first, revoked ones included; ``NotFound`` for an unknown user."""
    await get_user(session, user_id)
    return await queries.list_keys(session, user_id)


async def revoke_user_key(session: AsyncSession, user_id: uuid.UUID, key_id: uuid.UUID) -> ApiKey:
    """Revoke one of the user's keys (a revoked key stays revoked as it was)."""
    key = await queries.find_key(session, user_id, key_id)
    if key is None:
        raise NotFound(f"user {user_id} has no key with id {key_id}")
    if key.revoked_at is None:
        await queries.revoke_key(session, key.id)
        await session.refresh(key)
    return key


async def _new_key(session: AsyncSession, user: User) -> tuple[ApiKey, str]:
    plaintext = new_api_key()
    key = ApiKey(user_id=user.id, hash=hash_api_key(plaintext), prefix=api_key_prefix(plaintext))
    session.add(key)
    await session.flush()
    return key, plaintext


async def issue_key(session: AsyncSession, user: User) -> IssuedKey:
    key, plaintext = await _new_key(session, user)
    return IssuedKey(user_id=user.id, key_id=key.id, plaintext=plaintext)


async def create_user_key(session: AsyncSession, user_id: uuid.UUID) -> tuple[ApiKey, str]:
    """A new key for a live user, and its plaintext (never stored: show it once)."""
    return await _new_key(session, await get_live_user(session, user_id))


async def soft_delete_user(session: AsyncSession, user: User) -> None:
    """Mark the user deleted and revoke their keys; experiment evidence is kept (retention)."""
    now = utcnow()
    user.deleted_at = now
    await queries.revoke_user_keys(session, user.id, now)
    await session.flush()


async def open_page_session(
    session: AsyncSession, key: ApiKey, session_id: str, lifetime: timedelta, realm: str
) -> None:
    """Record a page session of ``realm`` made from ``key``; expired ones are cleared."""
    now = utcnow()
    await queries.delete_expired_admin_sessions(session, now)
    session.add(
        AdminSessionRecord(
            id=session_id,
            user_id=key.user_id,
            api_key_id=key.id,
            created_at=now,
            expires_at=now + lifetime,
            realm=realm,
        )
    )
    await session.flush()


async def add_credit(session: AsyncSession, user: User, microusd: int) -> int:
    user.balance_microusd += microusd
    await session.flush()
    return user.balance_microusd


async def credit_user(session: AsyncSession, user_id: uuid.UUID, microusd: int) -> User:
    """Add ``microusd`` (negative removes) to a live user's balance; the user as it is now."""
    user = await get_live_user(session, user_id)
    await add_credit(session, user, microusd)
    return user


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
