"""The admin pages' router: sign-in/out, static assets, and the page modules below it.

``router`` is what the app mounts; every page route renders HTML (``PageRoute``), and
anonymous visitors are redirected to ``/admin/sign-in``. ``site`` holds the one asset
browsers fetch from the site root, ``/favicon.ico``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse

from previewgate.admin_pages import (
    experiment_pages,
    list_pages,
    model_pages,
    request_pages,
    user_pages,
    variant_pages,
)
from previewgate.admin_pages.auth import (
    COOKIE_PATH,
    PRESESSION_COOKIE,
    PRESESSION_MAX_AGE_S,
    SESSION_COOKIE,
    SESSION_MAX_AGE_S,
    SessionForm,
    check_presession,
    current_session,
    end_session,
    open_session,
    presession_token,
    secure_cookies,
)
from previewgate.admin_pages.forms import text
from previewgate.admin_pages.rendering import PageRoute, redirect, render
from previewgate.deps import RuntimeDep
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


@router.get("")
async def admin_home() -> Response:
    return Response(status_code=303, headers={"Location": "/admin/experiments"})


def _safe_next(value: str) -> str:
    # Only paths inside the admin area: never another host ("//evil", "/\\evil").
    if value.startswith("/admin") and not value.startswith(("//", "/\\")) and "\\" not in value:
        return value
    return "/admin/experiments"


def _sign_in_page(
    request: Request, runtime: RuntimeDep, error: str | None, status: int, target: str
) -> Response:
    token, cookie = presession_token(request, runtime)
    response = render(
        request, "sign_in.html", http_status=status, error=error, token=token, next=target
    )
    if cookie is not None:
        response.set_cookie(
            PRESESSION_COOKIE,
            cookie,
            max_age=PRESESSION_MAX_AGE_S,
            path=COOKIE_PATH,
            httponly=True,
            samesite="strict",
            secure=secure_cookies(request, runtime.settings),
        )
    return response


@router.get("/sign-in")
async def sign_in_form(request: Request, runtime: RuntimeDep, next: str = "") -> Response:
    if await current_session(request, runtime) is not None:
        return redirect(request, _safe_next(next))
    return _sign_in_page(request, runtime, None, 200, _safe_next(next))


@router.post("/sign-in")
async def sign_in(request: Request, runtime: RuntimeDep) -> Response:
    form = await request.form()
    check_presession(request, runtime, form.get("csrf_token"))
    target = _safe_next(text(form, "next"))
    cookie = await open_session(runtime, text(form, "api_key"))
    if cookie is None:
        message = "That is not an active admin API key."
        return _sign_in_page(request, runtime, message, 401, target)
    response = redirect(request, target, "Signed in.")
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=SESSION_MAX_AGE_S,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request, runtime.settings),
    )
    response.delete_cookie(PRESESSION_COOKIE, path=COOKIE_PATH)
    return response


@router.post("/sign-out")
async def sign_out(request: Request, runtime: RuntimeDep, admin: SessionForm) -> Response:
    await end_session(runtime, admin)
    response = redirect(request, "/admin/sign-in", "Signed out.")
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    return response


_PAGES = (list_pages, experiment_pages, variant_pages, request_pages, model_pages, user_pages)
for _module in _PAGES:
    router.include_router(_module.router)
