"""Templates, flash messages, security headers and the page route class.

Jinja2 autoescapes every template; data handed to scripts goes through ``tojson``, which
escapes ``<``, ``>``, ``&`` and quotes, so no value can close a ``<script>`` element.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Coroutine
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from itsdangerous import BadSignature
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from previewgate.admin_pages.auth import (
    CSRF_FIELD,
    CsrfRejected,
    Realm,
    SignInRequired,
    realm_of,
    secure_cookies,
    serializer,
    signed_in,
)
from previewgate.errors import PreviewGateError
from previewgate.runtime import Runtime
from previewgate.store.outage import (
    RETRY_AFTER_S,
    STORE_UNAVAILABLE,
    describe,
    is_store_unreachable,
)

log = logging.getLogger(__name__)
_HERE = Path(__file__).parent
# The partner portal's templates extend these (its own live beside its package).
TEMPLATE_DIRS = [_HERE / "templates", _HERE.parent / "partner_pages" / "templates"]
# Scripts and styles come only from our own /admin/static; no inline code is ever allowed.
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _when(value: datetime | str | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def _short(value: datetime | str | None) -> str:
    """Month, day and time (UTC), for dense tables; the full form is in the title."""
    if value is None:
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.strftime("%m-%d %H:%M")


def _number(value: float | int | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def _percent(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def _pvalue(value: float | None) -> str:
    if value is None:
        return "—"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def _p_equals(value: float | None) -> str:
    """A p-value as "p = 0.90", "p = 0.004" or "p < 0.001" (two decimals unless 0.00)."""
    if value is None:
        return "p = —"
    if value < 0.001:
        return "p < 0.001"
    return f"p = {value:.2f}" if value >= 0.01 else f"p = {value:.3f}"


env = Environment(
    loader=FileSystemLoader(TEMPLATE_DIRS),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
env.filters.update(
    when=_when, short=_short, number=_number, percent=_percent, pvalue=_pvalue, p_equals=_p_equals
)
env.globals["csrf_field"] = CSRF_FIELD


def read_flash(request: Request, runtime: Runtime, realm: Realm) -> dict[str, str] | None:
    raw = request.cookies.get(realm.flash_cookie)
    if not raw:
        return None
    try:
        data = serializer(runtime, realm, "flash").loads(raw, max_age=120)
    except BadSignature:
        return None
    return data if isinstance(data, dict) else None


def render(request: Request, template: str, http_status: int = 200, **context: Any) -> HTMLResponse:
    """Render a page for the signed-in user (or the sign-in page) with the usual headers."""
    runtime: Runtime = request.app.state.runtime
    session = signed_in(request)
    realm = realm_of(request)
    flash = read_flash(request, runtime, realm)
    html = env.get_template(template).render(
        request_path=request.url.path,
        csrf=session.csrf if session else "",
        signed_in=session is not None,
        realm=realm,
        flash=flash,
        **context,
    )
    response = HTMLResponse(html, status_code=http_status, headers=_HEADERS)
    if flash is not None:
        response.delete_cookie(realm.flash_cookie, path=realm.path)
    return response


def redirect(request: Request, url: str, message: str | None = None, kind: str = "ok") -> Response:
    """303 See Other after a form post, carrying a one-shot signed flash message."""
    response = RedirectResponse(url, status_code=303, headers=_HEADERS)
    if message:
        runtime: Runtime = request.app.state.runtime
        realm = realm_of(request)
        value = serializer(runtime, realm, "flash").dumps({"kind": kind, "text": message})
        response.set_cookie(
            realm.flash_cookie,
            value,
            max_age=120,
            path=realm.path,
            httponly=True,
            samesite="strict",
            secure=secure_cookies(request, runtime.settings),
        )
    return response


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    return render(request, "error.html", http_status=status, status_code=status, message=message)


def _sign_in_url(request: Request) -> str:
    realm = realm_of(request)
    target = request.url.path if request.method == "GET" else realm.path
    return f"{realm.path}/sign-in?next=" + quote(target, safe="/")


def _validation_message(exc: RequestValidationError) -> str:
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "path", "query"))
    return f"{where or 'request'}: {first.get('msg')}"


class PageRoute(APIRoute):
    """Turns the page-level exceptions into pages instead of the API's JSON errors."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired:
                return RedirectResponse(_sign_in_url(request), status_code=303, headers=_HEADERS)
            except CsrfRejected:
                message = "This form has expired or did not come from this site; reload the page."
                return error_page(request, 403, message)
            except PreviewGateError as exc:
                return error_page(request, exc.status, exc.message)
            except RequestValidationError as exc:
                return error_page(request, 422, _validation_message(exc))
            except Exception as exc:
                if not is_store_unreachable(exc):
                    raise
                log.warning("the store is unavailable (%s): page answered 503", describe(exc))
                page = error_page(request, 503, STORE_UNAVAILABLE.capitalize() + ".")
                page.headers["retry-after"] = str(RETRY_AFTER_S)
                return page

        return page_handler
