"""The partner's team: members, and viewers invited or removed by the partner's admins."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from previewgate.admin_pages.actions import reading
from previewgate.admin_pages.forms import text
from previewgate.admin_pages.rendering import PageRoute, redirect, render
from previewgate.deps import RuntimeDep
from previewgate.partner_pages.auth import MemberForm, MemberPage
from previewgate.partner_pages.changes import change
from previewgate.partners import portal
from previewgate.partners.portal_auth import require_admin

router = APIRouter(route_class=PageRoute)
BACK = "/partner/members"


@router.get("/members")
async def member_list(request: Request, runtime: RuntimeDep, found: MemberPage) -> Response:
    async with reading(runtime) as session:
        members = await portal.members(session, found.member.partner_id)
    return render(request, "partner/members.html", member=found.member, members=members)


@router.post("/members")
async def invite_viewer(request: Request, runtime: RuntimeDep, found: MemberForm) -> Response:
    require_admin(found.member)
    email = text(await request.form(), "email").strip()

    async def run(session: AsyncSession) -> Any:
        return await portal.invite_viewer(session, found.member.partner_id, email)

    return await change(
        request,
        runtime,
        BACK,
        run,
        lambda invited: render(
            request,
            "partner/secret.html",
            member=found.member,
            what="viewer",
            secret=invited.api_key,
            email=invited.email,
            back=BACK,
        ),
    )


@router.post("/members/{user_id}/remove")
async def remove_viewer(
    user_id: uuid.UUID, request: Request, runtime: RuntimeDep, found: MemberForm
) -> Response:
    async def run(session: AsyncSession) -> None:
        await portal.remove_viewer(session, found.member, user_id)

    return await change(
        request,
        runtime,
        BACK,
        run,
        lambda _: redirect(request, BACK, "Viewer removed: their portal access ended."),
    )
