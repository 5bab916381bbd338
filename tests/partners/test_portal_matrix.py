"""Who may do what in the partner portal, route by route, on both the API and the pages.

For every ``/partner/api`` and ``/partner`` route that takes an id (experiment, slot,
checkpoint version, export file, webhook endpoint, delivery, member), partner A's viewer
and admin try A's id and B's id; a caller with no key or session, a revoked key (and a
session whose key was revoked), and the operator's admin key or admin session try A's.
Anything that is not A's answers 404, never 403, so ids do not leak; admin-only actions
answer a viewer 403 on A's own ids. Every answer A's members got is then scanned for
anything of B's: slot labels, internal ids, base URLs, upstream keys, ids, name, slug.
The test counts its cells (the README gives the number).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx

from tests.admin_pages.helpers import csrf_of, signed_in_client
from tests.support.portal_world import Side, World

SINCE = "2000-01-01T00:00:00Z"


@dataclass(frozen=True)
class Route:
    kind: str  # the id kind it takes
    method: str
    path: Callable[[World, Side], str]
    ok: int  # the status of a permitted call
    admin_only: bool = False
    body: dict[str, object] | None = None


def _fresh_viewer(world: World, side: Side) -> str:
    user_id, _ = world.member(side, "viewer")
    return user_id


API_ROUTES = [
    Route("experiment", "GET", lambda w, s: f"/experiments/{s.experiment_id}", 200),
    Route("experiment", "GET", lambda w, s: f"/experiments/{s.experiment_id}/results", 200),
    Route("slot", "GET", lambda w, s: f"/slots/{s.slot_ids[0]}", 200),
    Route("version", "GET", lambda w, s: f"/checkpoints/{s.version_ids[0]}/feedback", 200),
    Route("export file", "GET", lambda w, s: f"/exports/{s.export_id}", 200),
    Route("export file", "GET", lambda w, s: f"/exports/{s.export_id}/download", 200),
    Route("endpoint", "GET", lambda w, s: f"/webhooks/{s.endpoint_id}", 200),
    Route("endpoint", "GET", lambda w, s: f"/webhooks/{s.endpoint_id}/deliveries", 200),
    Route("endpoint", "POST", lambda w, s: f"/webhooks/{s.endpoint_id}/test", 202, True),
    Route("endpoint", "POST", lambda w, s: f"/webhooks/{s.endpoint_id}/rotate", 200, True, {}),
    Route(
        "endpoint",
        "POST",
        lambda w, s: f"/webhooks/{s.endpoint_id}/replay-dead?since={SINCE}",
        200,
        True,
    ),
    Route("delivery", "GET", lambda w, s: f"/webhook-deliveries/{s.delivery_id}", 200),
    Route("delivery", "GET", lambda w, s: f"/webhook-deliveries/{s.delivery_id}/attempts", 200),
    Route(
        "delivery", "POST", lambda w, s: f"/webhook-deliveries/{s.delivery_id}/replay", 200, True
    ),
    Route("member", "DELETE", lambda w, s: f"/members/{_fresh_viewer(w, s)}", 204, True),
]
PAGE_ROUTES = [
    Route("experiment", "GET", lambda w, s: f"/experiments/{s.experiment_id}", 200),
    Route("slot", "GET", lambda w, s: f"/slots/{s.slot_ids[0]}", 200),
    Route("version", "GET", lambda w, s: f"/checkpoints/{s.version_ids[0]}", 200),
    Route("export file", "GET", lambda w, s: f"/exports/{s.export_id}/download", 200),
    Route("endpoint", "GET", lambda w, s: f"/webhooks/{s.endpoint_id}", 200),
    Route("endpoint", "POST", lambda w, s: f"/webhooks/{s.endpoint_id}/test", 303, True),
    Route("endpoint", "POST", lambda w, s: f"/webhooks/{s.endpoint_id}/rotate", 200, True),
    Route(
        "endpoint",
        "POST",
        lambda w, s: f"/webhooks/{s.endpoint_id}/replay-dead",
        303,
        True,
        {"since": "2000-01-01"},
    ),
    Route("delivery", "GET", lambda w, s: f"/deliveries/{s.delivery_id}", 200),
    Route("delivery", "POST", lambda w, s: f"/deliveries/{s.delivery_id}/replay", 303, True),
    Route("member", "POST", lambda w, s: f"/members/{_fresh_viewer(w, s)}/remove", 303, True),
]
API_LISTS = ["/me", "/experiments", "/exports", "/webhooks", "/members"]
PAGE_LISTS = ["/experiments", "/exports", "/webhooks", "/members"]


class Answers:
    """Every answer partner A's members got, for the scan at the end."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.cells = 0

    def keep(self, r: httpx.Response) -> int:
        self.texts.append(r.text)
        return r.status_code


def _api(world: World, key: str | None, route: Route, side: Side) -> httpx.Response:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    return httpx.request(
        route.method,
        f"{world.gateway.base_url}/partner/api{route.path(world, side)}",
        headers=headers,
        json=route.body,
        timeout=30,
    )


def _page(client: httpx.Client, world: World, route: Route, side: Side) -> httpx.Response:
    path = "/partner" + route.path(world, side)
    if route.method == "GET":
        return client.get(path)
    home = client.get("/partner/experiments")
    # A caller without a live session has no token to send: it is redirected either way.
    csrf = csrf_of(home.text) if home.status_code == 200 else "none"
    return client.post(path, data={"csrf_token": csrf, **(route.body or {})})


def test_partner_api_authorization_matrix(world: World) -> None:
    a, b = world.alpha, world.bravo
    operator_key = world.admin.headers["authorization"].split(" ", 1)[1]
    world.revoke(world.revoked_user_id)
    answers = Answers()
    for route in API_ROUTES:
        own_role_status = 403 if route.admin_only else route.ok
        assert answers.keep(_api(world, a.viewer_key, route, a)) == own_role_status, route
        assert answers.keep(_api(world, a.admin_key, route, a)) == route.ok, route
        for key in (a.viewer_key, a.admin_key):
            assert answers.keep(_api(world, key, route, b)) == 404, (route, key == a.viewer_key)
        assert _api(world, None, route, a).status_code == 401, route
        assert _api(world, world.revoked_key, route, a).status_code == 401, route
        assert _api(world, operator_key, route, a).status_code == 404, route  # not a member
        answers.cells += 7
    # Invitations carry no id but are for admins only.
    invite = Route("member", "POST", lambda w, s: "/members", 201, True, {"email": "v@a.example"})
    assert answers.keep(_api(world, a.viewer_key, invite, a)) == 403
    assert answers.keep(_api(world, a.admin_key, invite, a)) == 201
    answers.cells += 2
    for path in API_LISTS:
        for key in (a.viewer_key, a.admin_key):
            r = httpx.get(
                f"{world.gateway.base_url}/partner/api{path}",
                headers={"authorization": f"Bearer {key}"},
            )
            assert answers.keep(r) == 200, path
            answers.cells += 1
    print(f"partner API matrix: {answers.cells} cells")
    assert answers.cells == 7 * len(API_ROUTES) + 2 + 2 * len(API_LISTS)
    _scan(answers, b)


def test_partner_pages_authorization_matrix(world: World) -> None:
    a, b = world.alpha, world.bravo
    operator_key = world.admin.headers["authorization"].split(" ", 1)[1]
    gateway = world.gateway
    viewer = signed_in_client(gateway, a.viewer_key, "/partner")
    admin = signed_in_client(gateway, a.admin_key, "/partner")
    revoked = signed_in_client(gateway, world.revoked_key, "/partner")
    world.revoke(world.revoked_user_id)  # its session ends with its key
    anonymous = httpx.Client(base_url=gateway.base_url, timeout=30)
    operator_cookie = signed_in_client(gateway, operator_key).cookies["pg_admin_session"]
    # The operator's admin session, sent under either realm's name, opens no partner page.
    operator = httpx.Client(
        base_url=gateway.base_url,
        cookies={"pg_admin_session": operator_cookie, "pg_partner_session": operator_cookie},
        timeout=30,
    )
    answers = Answers()
    for route in PAGE_ROUTES:
        own_role_status = 403 if route.admin_only else route.ok
        assert answers.keep(_page(viewer, world, route, a)) == own_role_status, route
        assert answers.keep(_page(admin, world, route, a)) == route.ok, route
        for client in (viewer, admin):
            assert answers.keep(_page(client, world, route, b)) == 404, route
        for client in (anonymous, revoked, operator):
            r = _page(client, world, route, a)
            assert r.status_code == 303 and "/partner/sign-in" in r.headers["location"], route
        answers.cells += 7
    # A form without this session's CSRF token is refused, whoever sends it.
    test = PAGE_ROUTES[5]
    r = admin.post("/partner" + test.path(world, a), data={"csrf_token": "forged"})
    assert r.status_code == 403
    # The operator's key does not open a partner session (an operator is not a partner).
    form = anonymous.get("/partner/sign-in")
    r = anonymous.post(
        "/partner/sign-in", data={"api_key": operator_key, "csrf_token": csrf_of(form.text)}
    )
    assert r.status_code == 401 and "pg_partner_session" not in r.headers.get("set-cookie", "")
    answers.cells += 2
    for path in PAGE_LISTS:
        for client in (viewer, admin):
            assert answers.keep(client.get("/partner" + path)) == 200, path
            answers.cells += 1
    print(f"partner pages matrix: {answers.cells} cells")
    assert answers.cells == 7 * len(PAGE_ROUTES) + 2 + 2 * len(PAGE_LISTS)
    _scan(answers, b)


def _scan(answers: Answers, other: Side) -> None:
    texts = "\n".join(answers.texts)
    leaked = [value for value in other.secrets() if value and value in texts]
    assert not leaked, f"partner B's values in A's answers: {leaked}"
