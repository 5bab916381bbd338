"""Preview model disclosure and opt-in for end users; users and API keys for admins.

Every admin mutation commits, then invalidates the routing cache (here and, through
Redis, on every other process): a new key works at once, and a revoked key or a deleted
user is refused at once.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Query

from previewgate.accounts import service
from previewgate.accounts.schemas import (
    CreditRequest,
    KeyCreated,
    KeyOut,
    OptInOut,
    PreviewModelOut,
    UserCreate,
    UserOut,
)
from previewgate.deps import AdminDep, CallerDep, ChangeDep, RuntimeDep, SessionDep
from previewgate.errors import NotFound
from previewgate.routing.snapshot import ModelEntry

router = APIRouter(prefix="/v1/preview-models", tags=["preview opt-in"])
admin = APIRouter(prefix="/admin/api/users", tags=["admin: users and keys"])


def _preview(runtime: RuntimeDep, public_id: str) -> ModelEntry:
    snapshot = runtime.routing.snapshot
    entry = snapshot.models.get(public_id) if snapshot else None
    if entry is None or entry.kind != "preview":
        raise NotFound(f"{public_id!r} is not a preview model", code="model_not_found")
    return entry


@router.post("/{public_id:path}/opt-in", response_model=OptInOut)
async def opt_in(
    public_id: str, caller: CallerDep, session: ChangeDep, runtime: RuntimeDep
) -> OptInOut:
    entry = _preview(runtime, public_id)
    opt = await service.record_opt_in(session, caller.user_id, public_id, entry.disclosure_version)
    return OptInOut(
        public_id=public_id,
        disclosure_version=opt.disclosure_version,
        accepted_at=opt.accepted_at.isoformat(),
    )


@router.get("/{public_id:path}", response_model=PreviewModelOut)
async def get_preview_model(public_id: str, runtime: RuntimeDep) -> PreviewModelOut:
    entry = _preview(runtime, public_id)
    return PreviewModelOut(
        id=entry.public_id,
        name=entry.display_name,
        disclosure=entry.disclosure_text,
        disclosure_version=entry.disclosure_version,
        shares_with_provider=entry.disclosure_shares,
        opt_in=f"POST /v1/preview-models/{entry.public_id}/opt-in",
    )


@admin.get("", response_model=list[UserOut])
async def list_users(
    _: AdminDep,
    session: SessionDep,
    include_deleted: bool = Query(default=False, description="Also list deleted users."),
) -> list[UserOut]:
    users = await service.list_users(session, include_deleted=include_deleted)
    return [UserOut.of(u) for u in users]


@admin.post("", status_code=201, response_model=UserOut)
async def create_user(data: UserCreate, _: AdminDep, session: ChangeDep) -> UserOut:
    """A user without keys; 409 if the e-mail is taken (deleted users keep theirs)."""
    user = await service.create_user(session, data.email, is_admin=data.is_admin)
    return UserOut.of(user)


@admin.get("/{user_id}", response_model=UserOut)
async def get_user(user_id: uuid.UUID, _: AdminDep, session: SessionDep) -> UserOut:
    return UserOut.of(await service.get_user(session, user_id))


@admin.post("/{user_id}/credit", response_model=UserOut)
async def credit_user(
    user_id: uuid.UUID,
    data: CreditRequest,
    _: AdminDep,
    session: ChangeDep,
) -> UserOut:
    """Add USD to the prepaid balance (negative removes); answers with the new balance."""
    user = await service.credit_user(session, user_id, data.microusd)
    return UserOut.of(user)


@admin.delete("/{user_id}", response_model=UserOut)
async def delete_user(user_id: uuid.UUID, caller: AdminDep, session: ChangeDep) -> UserOut:
    """Soft delete: keys revoked at once, experiment evidence kept (retention policy)."""
    user = await service.delete_user(session, user_id, caller.user_id)
    return UserOut.of(user)


@admin.get("/{user_id}/keys", response_model=list[KeyOut])
async def list_keys(user_id: uuid.UUID, _: AdminDep, session: SessionDep) -> list[KeyOut]:
    """Prefixes and dates only, revoked keys included; never a key or its hash."""
    return [KeyOut.of(k) for k in await service.list_keys(session, user_id)]


@admin.post("/{user_id}/keys", status_code=201, response_model=KeyCreated)
async def create_key(user_id: uuid.UUID, _: AdminDep, session: ChangeDep) -> KeyCreated:
    """A new key, in this response only: the store keeps its hash."""
    key, plaintext = await service.create_user_key(session, user_id)
    return KeyCreated(**KeyOut.of(key).model_dump(), key=plaintext)


@admin.delete("/{user_id}/keys/{key_id}", response_model=KeyOut)
async def revoke_key(
    user_id: uuid.UUID,
    key_id: uuid.UUID,
    _: AdminDep,
    session: ChangeDep,
) -> KeyOut:
    """Revoke: the key stops working at once; the row stays, with ``revoked_at``."""
    key = await service.revoke_user_key(session, user_id, key_id)
    return KeyOut.of(key)
