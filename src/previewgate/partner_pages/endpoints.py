"""The partner portal's router: sign-in/out and the page modules below it.

Every page reads and changes data through the same ``partners.portal`` calls as
``/partner/api``, so the pages and the API answer alike (404 for anything not the
partner's, 403 for an admin-only action of a viewer on its own partner's ids).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from previewgate.admin_pages import sign_in
from previewgate.admin_pages.rendering import PageRoute
from previewgate.deps import RuntimeDep
from previewgate.partner_pages import experiment_pages, export_pages, member_pages, webhook_pages
from previewgate.partner_pages.auth import PARTNER, MemberForm

router = APIRouter(prefix="/partner", route_class=PageRoute, include_in_schema=False)


@router.get("")
async def partner_home() -> Response:
    return Response(status_code=303, headers={"Location": PARTNER.home})


@router.get("/sign-in")
async def sign_in_form(request: Request, runtime: RuntimeDep, next: str = "") -> Response:
    return await sign_in.sign_in_form(request, runtime, PARTNER, next)


@router.post("/sign-in")
async def sign_in_post(request: Request, runtime: RuntimeDep) -> Response:
    return await sign_in.sign_in(request, runtime, PARTNER)


@router.post("/sign-out")
async def sign_out(request: Request, runtime: RuntimeDep, found: MemberForm) -> Response:
    return await sign_in.sign_out(request, runtime, found.page)


for _module in (experiment_pages, export_pages, webhook_pages, member_pages):
    router.include_router(_module.router)
