"""Every form of the partner portal needs the session's CSRF token, and a page session
ends with the membership it was made for."""

from __future__ import annotations

import httpx

from tests.admin_pages.helpers import csrf_of, signed_in_client
from tests.support.portal_world import World


def test_every_portal_form_refuses_a_forged_token(world: World) -> None:
    a = world.alpha
    user_id, _ = world.member(a, "viewer")
    admin = signed_in_client(world.gateway, a.admin_key, "/partner")
    forms = {
        "/partner/webhooks": {"url": "https://hooks.example.com/x", "event_types": "export.ready"},
        f"/partner/webhooks/{a.endpoint_id}/test": {},
        f"/partner/webhooks/{a.endpoint_id}/rotate": {"grace_s": "60"},
        f"/partner/webhooks/{a.endpoint_id}/replay-dead": {"since": "2000-01-01"},
        f"/partner/deliveries/{a.delivery_id}/replay": {},
        "/partner/members": {"email": "forged@alpha.example"},
        f"/partner/members/{user_id}/remove": {},
        "/partner/sign-out": {},
    }
    before = admin.get("/partner/api/members", headers={"authorization": f"Bearer {a.admin_key}"})
    for path, fields in forms.items():
        for token in ({}, {"csrf_token": "forged"}):
            r = admin.post(path, data=fields | token)
            assert r.status_code == 403, (path, token)
    # Nothing changed: the same members, the session still open.
    after = admin.get("/partner/api/members", headers={"authorization": f"Bearer {a.admin_key}"})
    assert before.json() == after.json()
    assert admin.get("/partner/experiments").status_code == 200
    # With the token, the same form works.
    token = csrf_of(admin.get("/partner/members").text)
    r = admin.post(f"/partner/members/{user_id}/remove", data={"csrf_token": token})
    assert r.status_code == 303


def test_a_page_session_ends_with_its_membership(world: World) -> None:
    a = world.alpha
    user_id, key = world.member(a, "viewer")
    viewer = signed_in_client(world.gateway, key, "/partner")
    assert viewer.get("/partner/experiments").status_code == 200
    r = world.admin.delete(f"/admin/api/partners/{a.id}/members/{user_id}")
    assert r.status_code == 200, r.text
    r = viewer.get("/partner/experiments")
    assert r.status_code == 303 and r.headers["location"].startswith("/partner/sign-in")
    # Signing in again is refused: the key belongs to no partner any more.
    form = viewer.get("/partner/sign-in")
    r = viewer.post("/partner/sign-in", data={"api_key": key, "csrf_token": csrf_of(form.text)})
    assert r.status_code == 401


def test_signing_out_ends_the_session_for_every_copy(world: World) -> None:
    a = world.alpha
    viewer = signed_in_client(world.gateway, a.viewer_key, "/partner")
    copied = dict(viewer.cookies)
    token = csrf_of(viewer.get("/partner/experiments").text)
    assert viewer.post("/partner/sign-out", data={"csrf_token": token}).status_code == 303
    r = httpx.get(world.gateway.base_url + "/partner/experiments", cookies=copied)
    assert r.status_code == 303
