"""The admin pages' router: sign-in/out, static assets, and the page modules below it.

``router`` is what the app mounts; every page route renders HTML (``PageRoute``), and
anonymous visitors are redirected to ``/admin/sign-in``. ``site`` holds the one asset
browsers fetch from the site root, ``/favicon.ico``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Response
from fastapi.responses import FileResponse

from previewgate.admin_pages import (
    experiment_pages,
    list_pages,
    model_pages,
    request_pages,
    sign_in,
    user_pages,
    variant_pages,
)
from previewgate.admin_pages.auth import ADMIN
from previewgate.admin_pages.rendering import PageRoute
from previewgate.errors import NotFound

router = APIRouter(prefix="/admin", route_class=PageRoute, include_in_schema=False)
site = APIRouter(include_in_schema=False)

_STATIC = Path(__file__).parent / "static"
# An allowlist, not a directory mount: nothing but these files is ever served.
_ASSETS = {
    "admin.css": "text/css",
    "admin.js": "text/javascript",
    "charts.js": "text/javascript",
    "chart.umd.min.js": "text/javascript",
    "favicon.svg": "image/svg+xml",
}


@router.get("/static/{name}")
async def static_asset(name: str) -> Response:
    media = _ASSETS.get(name)
    if media is None:
        raise NotFound("no such asset")
    return FileResponse(
        _STATIC / name, media_type=media, headers={"Cache-Control": "public, max-age=3600"}
    )


@site.get("/favicon.ico")
async def favicon() -> Response:
    return FileResponse(
        _STATIC / "favicon.ico",
        media_type="image/x-icon",
        headers={"Cache-Control": "public, max-age=86400"},
    )


sign_in.add_routes(router, ADMIN)

_PAGES = (list_pages, experiment_pages, variant_pages, request_pages, model_pages, user_pages)
for _module in _PAGES:
    router.include_router(_module.router)
