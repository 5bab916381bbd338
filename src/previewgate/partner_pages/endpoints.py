"""The partner portal's router: sign-in/out and the page modules below it.

Every page reads and changes data through the same ``partners.portal`` calls as
``/partner/api``, so the pages and the API answer alike (404 for anything not the
partner's, 403 for an admin-only action of a viewer on its own partner's ids).
"""

from __future__ import annotations

from fastapi import APIRouter

from previewgate.admin_pages import sign_in
from previewgate.admin_pages.rendering import PageRoute
from previewgate.partner_pages import experiment_pages, export_pages, member_pages, webhook_pages
from previewgate.partner_pages.auth import PARTNER

router = APIRouter(prefix="/partner", route_class=PageRoute, include_in_schema=False)


sign_in.add_routes(router, PARTNER)
for _module in (experiment_pages, export_pages, webhook_pages, member_pages):
    router.include_router(_module.router)
