"""Signing in and out of a realm's pages (admin or partner): the forms and the cookies."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from previewgate.admin_pages.auth import (
    CSRF_FIELD,
    PRESESSION_MAX_AGE_S,
    SESSION_MAX_AGE_S,
    PageSession,
    Realm,
    check_csrf,
    check_presession,
    current_session,
    end_session,
    open_session,
    presession_token,
    secure_cookies,
    signed_in,
    signed_in_to,
)
from previewgate.admin_pages.forms import text
from previewgate.admin_pages.rendering import redirect, render
from previewgate.deps import RuntimeDep
from previewgate.runtime import Runtime


def safe_next(realm: Realm, value: str) -> str:
    # Only paths inside the realm: never another host ("//evil", "/\\evil").
    inside = value == realm.path or value.startswith(realm.path + "/")
    if inside and not value.startswith(("//", "/\\")) and "\\" not in value:
        return value
    return realm.home


def _set_cookie(
    request: Request, runtime: Runtime, response: Response, name: str, value: str, max_age: int
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=request.state.page_realm.path,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request, runtime.settings),
    )


def sign_in_page(
    request: Request, runtime: Runtime, realm: Realm, error: str | None, status: int, target: str
) -> Response:
    request.state.page_realm = realm
    token, cookie = presession_token(request, runtime, realm)
    response = render(
        request, "sign_in.html", http_status=status, error=error, token=token, next=target
    )
    if cookie is not None:
        _set_cookie(
            request, runtime, response, realm.presession_cookie, cookie, PRESESSION_MAX_AGE_S
        )
    return response


async def sign_in_form(request: Request, runtime: Runtime, realm: Realm, target: str) -> Response:
    request.state.page_realm = realm
    if await current_session(request, runtime, realm) is not None:
        return redirect(request, safe_next(realm, target))
    return sign_in_page(request, runtime, realm, None, 200, safe_next(realm, target))


async def sign_in(request: Request, runtime: Runtime, realm: Realm) -> Response:
    request.state.page_realm = realm
    form = await request.form()
    check_presession(request, runtime, form.get("csrf_token"), realm)
    target = safe_next(realm, text(form, "next"))
    cookie = await open_session(runtime, text(form, "api_key"), realm)
    if cookie is None:
        return sign_in_page(request, runtime, realm, realm.key_refused, 401, target)
    response = redirect(request, target, "Signed in.")
    _set_cookie(request, runtime, response, realm.session_cookie, cookie, SESSION_MAX_AGE_S)
    response.delete_cookie(realm.presession_cookie, path=realm.path)
    return response


async def sign_out(request: Request, runtime: Runtime, session: PageSession) -> Response:
    """The session row goes, so every copy of the cookie stops working."""
    await end_session(runtime, session)
    realm = session.realm
    response = redirect(request, f"{realm.path}/sign-in", "Signed out.")
    response.delete_cookie(realm.session_cookie, path=realm.path)
    return response


def add_routes(router: APIRouter, realm: Realm) -> None:
    """``{realm.path}``, ``/sign-in`` (the form and its post) and ``/sign-out`` on ``router``
    (mounted at the realm's path)."""

    async def signed_in_form(request: Request, runtime: RuntimeDep) -> None:
        found = await signed_in_to(request, runtime, realm)
        check_csrf(found, (await request.form()).get(CSRF_FIELD))

    @router.get("")
    async def home() -> Response:
        return Response(status_code=303, headers={"Location": realm.home})

    @router.get("/sign-in")
    async def form(request: Request, runtime: RuntimeDep, next: str = "") -> Response:
        return await sign_in_form(request, runtime, realm, next)

    @router.post("/sign-in")
    async def post(request: Request, runtime: RuntimeDep) -> Response:
        return await sign_in(request, runtime, realm)

    # A dependency rather than a parameter: this closure's names are not the module's, so
    # FastAPI could not resolve them in a (postponed) annotation.
    @router.post("/sign-out", dependencies=[Depends(signed_in_form)])
    async def leave(request: Request, runtime: RuntimeDep) -> Response:
        found = signed_in(request)
        assert found is not None  # the dependency has checked it
        return await sign_out(request, runtime, found)
