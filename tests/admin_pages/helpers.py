"""Shared helpers of the admin page tests: a mounted gateway, sessions, traffic, a browser."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from playwright.sync_api import Browser, Page, sync_playwright

from previewgate.admin_pages.endpoints import router
from tests.support.experiments import PREVIEW_ID, LiveExperiment
from tests.support.servers import GatewayServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def mount_pages(gateway: GatewayServer) -> GatewayServer:
    """Mount the admin pages unless the app already does (it will, once wired in app.py)."""
    api = gateway.app.api
    if "/admin/sign-in" not in _paths(api.routes):
        api.include_router(router)
    return gateway


def _paths(routes: list[Any]) -> set[str]:
    # FastAPI nests included routers; their routes are listed by effective_route_contexts().
    found = set()
    for route in routes:
        if hasattr(route, "effective_route_contexts"):
            found |= {ctx.path for ctx in route.effective_route_contexts()}
        else:
            found.add(getattr(route, "path", ""))
    return found


def csrf_of(html: str) -> str:
    found = CSRF_RE.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def signed_in_client(gateway: GatewayServer, api_key: str, area: str = "/admin") -> httpx.Client:
    """An httpx client holding a session cookie of ``area`` (``/admin`` or ``/partner``)
    obtained through its sign-in form."""
    client = httpx.Client(base_url=gateway.base_url, timeout=30)
    form = client.get(f"{area}/sign-in")
    r = client.post(
        f"{area}/sign-in", data={"api_key": api_key, "csrf_token": csrf_of(form.text), "next": ""}
    )
    assert r.status_code == 303, r.text
    return client


def chat(gateway: GatewayServer, public_id: str, text: str, machine: str, **extra: Any) -> int:
    """One real chat completion through the gateway, with a system prompt."""
    body = {
        "model": public_id,
        "messages": [
            {"role": "system", "content": "You are a careful assistant (system prompt 42)."},
            {"role": "user", "content": text},
        ],
        **extra,
    }
    r = httpx.post(
        f"{gateway.base_url}/v1/chat/completions",
        json=body,
        headers={"x-machine-id": machine, "x-kilo-request": f"req-{uuid.uuid4().hex[:12]}"},
        timeout=30,
    )
    return r.status_code


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's chromium, headless; Playwright gives every launch a fresh temporary profile."""
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def sign_in(page: Page, base_url: str, api_key: str) -> None:
    page.goto(f"{base_url}/admin/sign-in")
    page.get_by_label("Admin API key").fill(api_key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base_url}/admin/experiments")


def admin_api(gateway: GatewayServer, api_key: str) -> httpx.Client:
    return httpx.Client(
        base_url=gateway.base_url, headers={"authorization": f"Bearer {api_key}"}, timeout=30
    )


def skewed_traffic(gateway: GatewayServer, exp: LiveExperiment) -> dict[str, int]:
    """Real requests through the gateway: 30 subjects land in slot 0 and 8 in slot 1 (a
    sample-ratio mismatch against equal weights), three of slot 1's fail upstream, slot 0 is
    hot-swapped half-way, and one request has no system prompt."""
    wanted = {0: 30, 1: 8}
    found: dict[int, list[str]] = {0: [], 1: []}
    n = 0
    while any(len(found[i]) < wanted[i] for i in wanted):
        machine = f"machine-{n}"
        index = exp.slots.index(exp.slot_for("machine", machine))
        if len(found[index]) < wanted[index]:
            found[index].append(machine)
        n += 1
    statuses: dict[str, int] = {}
    for i, machine in enumerate(found[0][:20] + found[1]):
        text = "#mock:500 boom" if machine in found[1][:3] else f"question {i} from {machine}"
        statuses[machine] = chat(gateway, PREVIEW_ID, text, machine)
    slot = exp.slots[0]
    r = exp.post(
        f"/variants/{slot.variant_id}/versions",
        json={
            "upstream": {
                "internal_id": "acme-internal-rc0-swapped",
                "base_url": slot.mock.base_url,
            },
            "api_key": "sk-partner-secret-0-swapped-91b2",
        },
    )
    assert r.status_code == 201, r.text
    for i, machine in enumerate(found[0][20:]):
        statuses[machine] = chat(gateway, PREVIEW_ID, f"after the swap {i}", machine)
    bare = {"model": PREVIEW_ID, "messages": [{"role": "user", "content": "no system here"}]}
    r = httpx.post(
        f"{gateway.base_url}/v1/chat/completions",
        json=bare,
        headers={"x-machine-id": found[0][0]},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    gateway.flush()
    return statuses
