"""Who is signed in to the partner portal: a page session of the ``partner`` realm, and
the membership it acts under (checked against the store on every page, like the API)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from previewgate.admin_pages.auth import (
    CSRF_FIELD,
    PageSession,
    Realm,
    SignInRequired,
    check_csrf,
    signed_in_to,
)
from previewgate.deps import RuntimeDep
from previewgate.partners import queries
from previewgate.partners.portal_auth import Member, member_for

PARTNER = Realm(
    name="partner",
    path="/partner",
    home="/partner/experiments",
    live_key=queries.live_member_key,
    user_of_session=queries.member_of_session,
    key_refused="That is not an active API key of a partner team member.",
)


@dataclass(frozen=True)
class MemberSession:
    page: PageSession
    member: Member


async def member_page(request: Request, runtime: RuntimeDep) -> MemberSession:
    page = await signed_in_to(request, runtime, PARTNER)
    async with runtime.sessions() as session:
        member = await member_for(session, page.user_id)
    if member is None:  # the last membership went after the session was read
        raise SignInRequired
    request.state.member = member
    return MemberSession(page, member)


async def member_form(
    request: Request, found: Annotated[MemberSession, Depends(member_page)]
) -> MemberSession:
    """Every state-changing portal form carries the session's CSRF token."""
    check_csrf(found.page, (await request.form()).get(CSRF_FIELD))
    return found


MemberPage = Annotated[MemberSession, Depends(member_page)]
MemberForm = Annotated[MemberSession, Depends(member_form)]
