"""Sessions and CSRF over plain HTTP (both store backends)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select

from previewgate.accounts import queries as accounts_queries
from previewgate.accounts import service as accounts
from previewgate.accounts.models import ApiKey
from previewgate.admin_pages.auth import PRESESSION_COOKIE, SESSION_COOKIE
from previewgate.config import Settings
from previewgate.crypto import hash_api_key
from previewgate.runtime import Runtime
from tests.admin_pages.helpers import csrf_of, mount_pages, signed_in_client
from tests.support.seed import create_user
from tests.support.servers import GatewayServer


def test_anonymous_visits_are_sent_to_sign_in(backend: str, pages: GatewayServer) -> None:
    with httpx.Client(base_url=pages.base_url) as client:
        for path in ("/admin", "/admin/experiments", "/admin/experiments/new"):
            r = client.get(path, follow_redirects=True)
            assert r.url.path == "/admin/sign-in", path
            assert "Admin API key" in r.text
        r = client.get("/admin/experiments")
        assert r.status_code == 303
        assert r.headers["location"] == "/admin/sign-in?next=/admin/experiments"


def test_sign_in_sets_a_strict_httponly_cookie_without_the_key(
    backend: str, pages: GatewayServer, admin_key: str
) -> None:
    client = httpx.Client(base_url=pages.base_url)
    form = client.get("/admin/sign-in")
    r = client.post(
        "/admin/sign-in",
        data={"api_key": admin_key, "csrf_token": csrf_of(form.text), "next": "/admin/experiments"},
    )
    assert r.status_code == 303 and r.headers["location"] == "/admin/experiments"
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE))
    lowered = cookie.lower()
    assert "httponly" in lowered and "samesite=strict" in lowered and "path=/admin" in lowered
    assert "max-age=43200" in lowered
    assert admin_key not in cookie
    assert client.get("/admin/experiments").status_code == 200


def test_non_admin_and_unknown_keys_are_refused(backend: str, pages: GatewayServer) -> None:
    user_key = pages.call(lambda rt: create_user(rt, "dev@example.com"))
    client = httpx.Client(base_url=pages.base_url)
    for key in (user_key, "pg-not-a-key", ""):
        token = csrf_of(client.get("/admin/sign-in").text)
        r = client.post("/admin/sign-in", data={"api_key": key, "csrf_token": token})
        assert r.status_code == 401
        assert "not an active admin API key" in r.text
        assert SESSION_COOKIE not in r.headers.get("set-cookie", "")
    assert client.get("/admin/experiments").status_code == 303


def test_form_posts_without_a_valid_csrf_token_are_refused(
    backend: str, pages: GatewayServer, admin_key: str
) -> None:
    client = signed_in_client(pages, admin_key)
    token = csrf_of(client.get("/admin/experiments/new").text)
    data = {"public_model_id": "acme/preview-x", "name": "sneaky"}
    for bad in ({}, {"csrf_token": ""}, {"csrf_token": token[:-2] + "xx"}):
        r = client.post("/admin/experiments", data={**data, **bad})
        assert r.status_code == 403, bad
        assert "did not come from this site" in r.text
    r = client.post("/admin/sign-out", data={})
    assert r.status_code == 403
    # Sign-in is a form too: without the token bound to its cookie it is refused.
    fresh = httpx.Client(base_url=pages.base_url)
    r = fresh.post("/admin/sign-in", data={"api_key": admin_key, "csrf_token": token})
    assert r.status_code == 403
    # Another session's token is not this session's token.
    other = signed_in_client(pages, admin_key)
    other_token = csrf_of(other.get("/admin/experiments/new").text)
    assert other_token != token
    r = client.post("/admin/experiments", data={**data, "csrf_token": other_token})
    assert r.status_code == 403


def test_sign_out_and_revocation_end_the_session(
    backend: str, pages: GatewayServer, admin_key: str
) -> None:
    client = signed_in_client(pages, admin_key)
    token = csrf_of(client.get("/admin/experiments").text)
    r = client.post("/admin/sign-out", data={"csrf_token": token})
    assert r.status_code == 303 and r.headers["location"] == "/admin/sign-in"
    assert client.get("/admin/experiments").status_code == 303

    client = signed_in_client(pages, admin_key)
    stolen = client.cookies.get(SESSION_COOKIE, path="/admin")
    assert client.get("/admin/experiments").status_code == 200

    async def revoke_all(rt: Runtime) -> None:
        async with rt.sessions() as session, session.begin():
            for key_id in (await session.scalars(select(ApiKey.id))).all():
                await accounts_queries.revoke_key(session, key_id)
        await rt.routing.refresh_now()

    pages.call(revoke_all)
    replay = httpx.Client(base_url=pages.base_url, cookies={SESSION_COOKIE: stolen})
    assert replay.get("/admin/experiments").status_code == 303


def _sent_to_sign_in(r: httpx.Response) -> bool:
    return r.status_code == 303 and r.headers["location"].startswith("/admin/sign-in")


def test_a_copied_cookie_ends_with_sign_out_and_with_its_key(
    backend: str, pages: GatewayServer, admin_key: str
) -> None:
    client = signed_in_client(pages, admin_key)
    copied = client.cookies.get(SESSION_COOKIE, path="/admin")
    token = csrf_of(client.get("/admin/experiments").text)
    other = signed_in_client(pages, admin_key)  # a second session of the same admin
    r = client.post("/admin/sign-out", data={"csrf_token": token})
    assert r.status_code == 303 and r.headers["location"] == "/admin/sign-in"
    # The copy still carries a valid signature and CSRF token; the session behind it is gone.
    replay = httpx.Client(base_url=pages.base_url, cookies={SESSION_COOKIE: copied})
    assert _sent_to_sign_in(replay.get("/admin/experiments"))
    form = {"csrf_token": token, "public_model_id": "acme/preview-x", "name": "after sign-out"}
    assert _sent_to_sign_in(replay.post("/admin/experiments", data=form))
    assert _sent_to_sign_in(replay.post("/admin/sign-out", data={"csrf_token": token}))
    assert other.get("/admin/experiments").status_code == 200  # only that session ended

    # Sessions made from a second key of the same admin outlive the first key's revocation.
    async def second_key(rt: Runtime) -> str:
        async with rt.sessions() as session, session.begin():
            user = await accounts.get_user_by_email(session, "ops@example.com")
            return (await accounts.issue_key(session, user)).plaintext

    spare = signed_in_client(pages, pages.call(second_key))
    first_cookie = other.cookies.get(SESSION_COOKIE, path="/admin")

    async def revoke_first(rt: Runtime) -> None:
        # Straight in the store, without refreshing the routing cache: the session check
        # reads the store itself.
        async with rt.sessions() as session, session.begin():
            key_id = await session.scalar(
                select(ApiKey.id).where(ApiKey.hash == hash_api_key(admin_key))
            )
            assert key_id is not None
            await accounts_queries.revoke_key(session, key_id)

    pages.call(revoke_first)
    stolen = httpx.Client(base_url=pages.base_url, cookies={SESSION_COOKIE: first_cookie})
    assert _sent_to_sign_in(stolen.get("/admin/experiments"))
    assert _sent_to_sign_in(other.get("/admin/experiments"))
    assert spare.get("/admin/experiments").status_code == 200


def test_refusals_and_unknown_pages_render_as_pages(
    backend: str, pages: GatewayServer, admin_key: str
) -> None:
    client = signed_in_client(pages, admin_key)
    r = client.get(f"/admin/experiments/{uuid.uuid4()}")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "does not exist" in r.text
    assert client.get("/admin/experiments/not-a-uuid").status_code == 422
    token = csrf_of(client.get("/admin/experiments/new").text)
    data = {"csrf_token": token, "public_model_id": "acme/unknown", "name": "x"}
    r = client.post("/admin/experiments", data=data)
    assert r.status_code == 422
    assert "is not in the catalog" in r.text  # the service's own words, next to the form
    assert r.headers["content-security-policy"].startswith("default-src 'self'")


def test_cookies_are_secure_behind_a_trusted_https_proxy(
    backend: str, make_gateway: Any, settings: Settings, pages: GatewayServer, admin_key: str
) -> None:
    proxied = mount_pages(make_gateway(settings.replace(trusted_proxies=["127.0.0.1/32"])))
    for server, secure in ((pages, False), (proxied, True)):
        client = httpx.Client(base_url=server.base_url, headers={"x-forwarded-proto": "https"})
        form = client.get("/admin/sign-in")
        # httpx keeps Secure cookies off plain http, so the test hands the form's cookie back.
        presession = {PRESESSION_COOKIE: form.cookies[PRESESSION_COOKIE]}
        data = {"api_key": admin_key, "csrf_token": csrf_of(form.text)}
        r = client.post("/admin/sign-in", data=data, cookies=presession)
        cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE))
        assert ("secure" in cookie.lower().split("; ")) is secure


def test_the_favicon_is_served_to_anyone(backend: str, pages: GatewayServer) -> None:
    with httpx.Client(base_url=pages.base_url) as client:
        r = client.get("/favicon.ico")
        assert r.status_code == 200 and r.headers["content-type"] == "image/x-icon"
        assert r.content[:4] == b"\x00\x00\x01\x00"  # an ICO directory with one image
        svg = client.get("/admin/static/favicon.svg")
        assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
        sign_in = client.get("/admin/sign-in").text
        assert '<link rel="icon" href="/favicon.ico"' in sign_in
        assert client.get("/favicon.png").status_code == 404
