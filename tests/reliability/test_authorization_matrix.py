"""Every admin endpoint and page × {no key, revoked key, non-admin key, admin key}.

The cells come from the running app (its OpenAPI document and its route table), so a
new endpoint or page is covered the day it is added, with no edit here.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from previewgate.accounts import queries as accounts_queries
from previewgate.accounts import service as accounts
from previewgate.accounts.service import IssuedKey
from tests.support.experiments import PREVIEW_ID
from tests.support.servers import GatewayServer

ADMIN_API = "/admin/api"
PAGE_EXEMPT = ("/admin/sign-in", "/admin/static")
# Operations and pages that must be in the matrix (the cells are read from the app, so
# this guards against one silently disappearing from the document or the route table).
REQUIRED_API = {
    ("GET", "/admin/api/users"),
    ("POST", "/admin/api/users"),
    ("GET", "/admin/api/users/{user_id}"),
    ("DELETE", "/admin/api/users/{user_id}"),
    ("POST", "/admin/api/users/{user_id}/credit"),
    ("GET", "/admin/api/users/{user_id}/keys"),
    ("POST", "/admin/api/users/{user_id}/keys"),
    ("DELETE", "/admin/api/users/{user_id}/keys/{key_id}"),
    ("GET", "/admin/api/models"),
    ("POST", "/admin/api/models"),
}
REQUIRED_PAGES = {
    ("GET", "/admin/models"),
    ("GET", "/admin/models/new"),
    ("POST", "/admin/models"),
    ("GET", "/admin/models/{public_id:path}/edit"),
    ("POST", "/admin/models/{public_id:path}/edit"),
    ("GET", "/admin/users"),
    ("POST", "/admin/users"),
    ("GET", "/admin/users/{user_id}"),
    ("POST", "/admin/users/{user_id}/credit"),
    ("POST", "/admin/users/{user_id}/delete"),
    ("POST", "/admin/users/{user_id}/keys"),
    ("POST", "/admin/users/{user_id}/keys/{key_id}/revoke"),
}


async def _issue(rt: Any, email: str, admin: bool) -> IssuedKey:
    async with rt.sessions() as session, session.begin():
        user = await accounts.create_user(session, email, is_admin=admin)
        issued = await accounts.issue_key(session, user)
    await rt.routing.refresh_now()
    return issued


async def _revoke(rt: Any, key_id: uuid.UUID) -> None:
    async with rt.sessions() as session, session.begin():
        await accounts_queries.revoke_key(session, key_id)
    await rt.routing.refresh_now()


def _fill(path: str) -> str:
    """Concrete values for path parameters: auth must be decided before they are looked up."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[0]  # "{public_id:path}" is a public id too
        return PREVIEW_ID if name == "public_id" else str(uuid.uuid4())

    return re.sub(r"\{([^}/]+)\}", value, path)


def api_cells(document: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(method, concrete path, has body) for every operation under /admin/api."""
    cells = []
    for path, operations in document["paths"].items():
        if not path.startswith(ADMIN_API):
            continue
        for method, op in operations.items():
            cells.append((method.upper(), _fill(path), "requestBody" in op))
    return cells


@pytest.fixture
def issued(gateway: GatewayServer) -> dict[str, IssuedKey]:
    admin = gateway.call(lambda rt: _issue(rt, "root@example.com", True))
    member = gateway.call(lambda rt: _issue(rt, "member@example.com", False))
    revoked = gateway.call(lambda rt: _issue(rt, "former-admin@example.com", True))
    # An admin's key, revoked: revocation must beat the admin flag.
    gateway.call(lambda rt: _revoke(rt, revoked.key_id))
    return {"revoked key": revoked, "non-admin key": member, "admin key": admin}


@pytest.fixture
def keys(issued: dict[str, IssuedKey]) -> dict[str, str | None]:
    return {"no key": None, **{who: key.plaintext for who, key in issued.items()}}


def _expect_api(who: str, status: int) -> bool:
    if who in ("no key", "revoked key"):
        return status == 401
    if who == "non-admin key":
        return status == 403
    return status not in (401, 403) and status < 500


def test_admin_api_matrix(gateway: GatewayServer, keys: dict[str, str | None]) -> None:
    document = httpx.get(f"{gateway.base_url}/openapi.json").json()
    cells = api_cells(document)
    assert len(cells) >= 10, cells
    documented = {(m.upper(), p) for p, ops in document["paths"].items() for m in ops}
    missing = REQUIRED_API - documented
    assert not missing, missing
    wrong = []
    with httpx.Client(base_url=gateway.base_url, timeout=30) as c:
        # The admin column last: its mutations must not change what the others see.
        for who in ("no key", "revoked key", "non-admin key", "admin key"):
            key = keys[who]
            headers = {"authorization": f"Bearer {key}"} if key else {}
            for method, path, has_body in cells:
                r = c.request(method, path, headers=headers, json={} if has_body else None)
                if not _expect_api(who, r.status_code):
                    wrong.append(f"{who:14} {method} {path} -> {r.status_code}")
                elif r.status_code in (401, 403):
                    assert {"message", "type", "code"} <= set(r.json()["error"])
    assert not wrong, "\n".join(wrong)


def _all_routes(routes: Any) -> Iterator[tuple[str, set[str]]]:
    """(path, methods) of every route; included routers are walked (FastAPI nests them)."""
    for route in routes:
        if hasattr(route, "effective_route_contexts"):
            for ctx in route.effective_route_contexts():
                yield ctx.path, set(getattr(ctx.original_route, "methods", None) or ())
        else:
            yield getattr(route, "path", ""), set(getattr(route, "methods", None) or ())


def _page_templates(gateway: GatewayServer) -> set[tuple[str, str]]:
    """(method, path template) of every admin page route that needs a session."""
    routes = set()
    for path, methods in _all_routes(gateway.app.api.routes):
        if not path.startswith("/admin") or path.startswith(ADMIN_API):
            continue
        if path.startswith(PAGE_EXEMPT):
            continue
        routes |= {(method, path) for method in methods - {"HEAD"}}
    return routes


def _page_routes(gateway: GatewayServer) -> list[tuple[str, str]]:
    return [(method, _fill(path)) for method, path in sorted(_page_templates(gateway))]


def _sign_in(c: httpx.Client, key: str) -> httpx.Response:
    form = c.get("/admin/sign-in")
    assert form.status_code == 200, form.text
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form.text) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', form.text
    )
    assert match, "sign-in form has no csrf_token field"
    return c.post("/admin/sign-in", data={"api_key": key, "csrf_token": match.group(1)})


def _redirects_to_sign_in(c: httpx.Client, method: str, path: str) -> bool:
    """True if the page sends the visitor to sign-in (after at most a few /admin hops)."""
    for _ in range(5):
        r = c.request(method, path)
        location = r.headers.get("location", "")
        if r.status_code not in (302, 303, 307) or not location.startswith("/admin"):
            return False
        if location.startswith("/admin/sign-in"):
            return True
        method, path = "GET", location
    return False


def test_admin_pages_matrix(
    gateway: GatewayServer, keys: dict[str, str | None], issued: dict[str, IssuedKey]
) -> None:
    pages = _page_routes(gateway)
    if not pages:
        pytest.skip("no admin pages are mounted in this build (only /admin/api)")
    missing = REQUIRED_PAGES - _page_templates(gateway)
    assert not missing, missing
    gets = [(m, p) for m, p in pages if m == "GET"]
    wrong = []
    base = gateway.base_url
    # Anonymous, and API keys sent as bearer headers: pages only accept a signed-in session.
    for who in ("no key", "revoked key", "non-admin key", "admin key"):
        key = keys[who]
        headers = {"authorization": f"Bearer {key}"} if key else {}
        with httpx.Client(base_url=base, timeout=30, headers=headers) as c:
            for method, path in pages:
                if _redirects_to_sign_in(c, method, path):
                    continue
                r = c.request(method, path)
                # A form post without a session may also be refused outright by its CSRF check.
                if method == "GET" or r.status_code != 403:
                    wrong.append(f"{who:14} bearer {method} {path} -> {r.status_code}")
    # Sign-in refuses keys that are not a live admin's, and sets no session.
    for who in ("revoked key", "non-admin key"):
        with httpx.Client(base_url=base, timeout=30) as c:
            r = _sign_in(c, str(keys[who]))
            assert r.status_code in (401, 403), (who, r.status_code)
            assert all(_redirects_to_sign_in(c, "GET", p) for _, p in gets), who
    # A signed-in admin sees every page; revoking the key ends the session at once.
    with httpx.Client(base_url=base, timeout=30) as c:
        r = _sign_in(c, str(keys["admin key"]))
        assert r.status_code in (302, 303), r.text
        for _, path in gets:
            r = c.get(path)
            if _redirects_to_sign_in(c, "GET", path) or r.status_code in (401, 403, 500):
                wrong.append(f"admin session  GET {path} -> {r.status_code}")

        admin_key_id = issued["admin key"].key_id
        gateway.call(lambda rt: _revoke(rt, admin_key_id))
        for _, path in gets:
            if not _redirects_to_sign_in(c, "GET", path):
                wrong.append(f"revoked session GET {path} still served")
    assert not wrong, "\n".join(wrong)
