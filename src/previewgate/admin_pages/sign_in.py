"""Signing in and out of a realm's pages (admin or partner): the forms and the cookies."""

from __future__ import annotations

from fastapi import Request, Response

from previewgate.admin_pages.auth import (
    PRESESSION_MAX_AGE_S,
    SESSION_MAX_AGE_S,
    PageSession,
    Realm,
    check_presession,
    current_session,
    end_session,
    open_session,
    presession_token,
    secure_cookies,
)
from previewgate.admin_pages.forms import text
from previewgate.admin_pages.rendering import redirect, render
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
