"""Who a partner API caller is: a user with a membership, by API key (``/partner/api``).

A user who belongs to several partners picks one with the ``x-partner`` header (its slug);
otherwise the first by slug. Not a member (an operator included): 404, as for anything that
is not the caller's, so the API does not tell who is a partner.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from previewgate.deps import RuntimeDep, SessionDep
from previewgate.errors import Forbidden, NotFound, Unauthorized
from previewgate.partners import queries


@dataclass(frozen=True, slots=True)
class Member:
    user_id: uuid.UUID
    partner_id: uuid.UUID
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


async def member_for(
    session: AsyncSession, user_id: uuid.UUID, wanted: str | None = None
) -> Member | None:
    """The user as a member of the partner with slug ``wanted`` (else its first by slug)."""
    for membership, partner in await queries.memberships_of_user(session, user_id):
        if wanted is None or partner.slug == wanted:
            return Member(user_id, partner.id, membership.role)
    return None


async def partner_member(request: Request, runtime: RuntimeDep, session: SessionDep) -> Member:
    caller = await runtime.routing.caller(request.headers.get("authorization"), "")
    if caller is None:
        raise Unauthorized("an API key is required: Authorization: Bearer <api key>")
    found = await member_for(session, caller.user_id, request.headers.get("x-partner"))
    if found is None:
        raise NotFound("not found")
    return found


def require_admin(member: Member) -> Member:
    if not member.is_admin:
        raise Forbidden("this action is for the partner's admins")
    return member


def partner_admin(member: Annotated[Member, Depends(partner_member)]) -> Member:
    return require_admin(member)


MemberDep = Annotated[Member, Depends(partner_member)]
PartnerAdminDep = Annotated[Member, Depends(partner_admin)]
