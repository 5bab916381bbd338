"""Users and their API keys: list, create, credit, delete; keys issued, listed, revoked.

The same ``accounts`` services and schemas as ``/admin/api/users``. A new key is shown
once, in the page that answers the form post (never in a redirect, the flash cookie or
any later page); the store keeps only its hash, and listings show the prefix.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from previewgate.accounts import queries, service
from previewgate.accounts.models import User
from previewgate.accounts.schemas import CreditRequest, KeyOut, UserCreate, UserOut
from previewgate.accounts.service import IssuedKey
from previewgate.admin_pages.actions import act, mutate, reading
from previewgate.admin_pages.auth import SessionForm, SessionPage, signed_in
from previewgate.admin_pages.forms import FormResult, checkbox, safe_values, text, validate
from previewgate.admin_pages.rendering import PageRoute, redirect, render
from previewgate.deps import RuntimeDep
from previewgate.errors import PreviewGateError
from previewgate.runtime import Runtime

router = APIRouter(route_class=PageRoute)
USER = "/users/{user_id}"


def _back(user_id: uuid.UUID) -> str:
    return f"/admin/users/{user_id}"


async def _list_page(
    request: Request, runtime: Runtime, show_deleted: bool, result: FormResult | None = None
) -> Response:
    async with reading(runtime) as session:
        users = await queries.list_users(session, include_deleted=show_deleted)
        counts = await queries.live_key_counts(session)
    return render(
        request,
        "users.html",
        http_status=200 if result is None or result.ok else 422,
        users=[UserOut.of(u) for u in users],
        counts=counts,
        show_deleted=show_deleted,
        result=result,
    )


@router.get("/users")
async def user_list(
    request: Request, runtime: RuntimeDep, _: SessionPage, deleted: str = ""
) -> Response:
    return await _list_page(request, runtime, deleted in ("on", "1", "true"))


@router.post("/users")
async def create_user(request: Request, runtime: RuntimeDep, _: SessionForm) -> Response:
    form = await request.form()
    result = FormResult("create-user", values=safe_values(form))
    data = {"email": text(form, "email"), "is_admin": checkbox(form, "is_admin")}
    parsed = validate(UserCreate, data, result)
    if parsed is None:
        return await _list_page(request, runtime, False, result)

    async def run(session: AsyncSession) -> User:
        return await service.create_user(session, parsed.email, is_admin=parsed.is_admin)

    try:
        user = await mutate(runtime, run)
    except PreviewGateError as exc:
        result.errors["email"] = exc.message
        return await _list_page(request, runtime, False, result)
    done = f"User {user.email} created. Issue an API key below."
    return redirect(request, _back(user.id), done)


async def user_page(
    request: Request,
    runtime: Runtime,
    user_id: uuid.UUID,
    result: FormResult | None = None,
    issued: IssuedKey | None = None,
) -> Response:
    """The user's page; ``issued`` is a key just made, rendered this one time."""
    async with reading(runtime) as session:
        user = await service.get_user(session, user_id)
        keys = await queries.list_keys(session, user_id)
    return render(
        request,
        "user.html",
        http_status=422 if result is not None and not result.ok else 200,
        user=UserOut.of(user),
        keys=[KeyOut.of(k) for k in keys],
        result=result,
        issued=issued,
        is_me=(found := signed_in(request)) is not None and found.caller.user_id == user.id,
    )


@router.get(USER)
async def user_detail(
    user_id: uuid.UUID, request: Request, runtime: RuntimeDep, _: SessionPage
) -> Response:
    return await user_page(request, runtime, user_id)


@router.post(USER + "/credit")
async def credit(
    user_id: uuid.UUID, request: Request, runtime: RuntimeDep, _: SessionForm
) -> Response:
    form = await request.form()
    result = FormResult("credit", values=safe_values(form))
    parsed = validate(CreditRequest, {"amount_usd": text(form, "amount_usd").strip()}, result)
    if parsed is None:
        return await user_page(request, runtime, user_id, result)

    async def run(session: AsyncSession) -> int:
        user = await service.get_live_user(session, user_id)
        return await service.add_credit(session, user, parsed.microusd)

    try:
        balance = await mutate(runtime, run)
    except PreviewGateError as exc:
        result.errors["form"] = exc.message
        return await user_page(request, runtime, user_id, result)
    return redirect(request, _back(user_id), f"Balance is now {balance / 1_000_000:,.6f} USD.")


@router.post(USER + "/delete")
async def delete_user(
    user_id: uuid.UUID, request: Request, runtime: RuntimeDep, admin: SessionForm
) -> Response:
    async def run(session: AsyncSession) -> Any:
        return await service.delete_user(session, user_id, admin.caller.user_id)

    done = "User deleted: their keys are revoked; experiment data is kept for its retention."
    return await act(request, runtime, _back(user_id), done, run)


@router.post(USER + "/keys")
async def create_key(
    user_id: uuid.UUID, request: Request, runtime: RuntimeDep, _: SessionForm
) -> Response:
    async def run(session: AsyncSession) -> IssuedKey:
        return await service.issue_key(session, await service.get_live_user(session, user_id))

    try:
        issued = await mutate(runtime, run)
    except PreviewGateError as exc:
        return redirect(request, _back(user_id), exc.message, "error")
    return await user_page(request, runtime, user_id, issued=issued)


@router.post(USER + "/keys/{key_id}/revoke")
async def revoke_key(
    user_id: uuid.UUID, key_id: uuid.UUID, request: Request, runtime: RuntimeDep, _: SessionForm
) -> Response:
    async def run(session: AsyncSession) -> Any:
        return await service.revoke_user_key(session, user_id, key_id)

    done = "Key revoked: it stops working at once."
    return await act(request, runtime, _back(user_id), done, run)
