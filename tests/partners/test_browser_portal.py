"""A partner admin in Chromium: signs in, finds its experiment, sees its checkpoints'
results and only aggregates of the others, downloads a trace file, adds a webhook
endpoint, sends a test event to a local receiver and sees the delivery in the log.
Pages fit 1280 px and a phone. Screenshots go to ``PREVIEWGATE_SCREENSHOTS`` when set
(``docs/screenshots`` for the README), else to the test's temporary folder."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from previewgate.config import Settings
from tests.admin_pages.helpers import chromium
from tests.admin_pages.test_browser_layout import OVERFLOW
from tests.support.experiments import PREVIEW_ID
from tests.support.portal_world import World
from tests.support.receiver import Receiver
from tests.support.servers import GatewayServer


@pytest.fixture
def gateway(make_gateway: Callable[[Settings], GatewayServer], settings: Settings) -> GatewayServer:
    # The delivery worker runs inside the gateway, as with PREVIEWGATE_WEBHOOK_WORKER=1.
    live = {"webhook_allowed_networks": ["127.0.0.0/8"], "webhook_worker": True}
    return make_gateway(settings.model_copy(update=live))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def browser(world: World) -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def _shots(tmp_path: Path) -> Path:
    out = Path(os.environ.get("PREVIEWGATE_SCREENSHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    return out


def _sign_in(page: Page, base_url: str, key: str) -> None:
    page.goto(f"{base_url}/partner")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base_url}/partner/experiments")


def _until_delivered(page: Page, receiver: Receiver, deadline_s: float = 20) -> None:
    """Reload the endpoint's log until the worker has delivered the test event."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        page.reload()
        if page.locator("#deliveries").get_by_text("delivered").count():
            return
        page.wait_for_timeout(250)  # a browser-side pause between reloads, not a timing test
    raise AssertionError(f"not delivered; the receiver saw {len(receiver.received)} requests")


def test_a_partner_admin_works_in_the_portal(
    world: World, browser: Browser, receiver: Receiver, tmp_path: Path
) -> None:
    base, a, b = world.gateway.base_url, world.alpha, world.bravo
    shots = _shots(tmp_path)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    _sign_in(page, base, a.admin_key)

    # Its experiment, its checkpoints' results, the others only as aggregates.
    expect(page.locator("#experiments")).to_contain_text("other slot 1")
    page.screenshot(path=str(shots / "partner-experiments.png"), full_page=True)
    page.get_by_role("link", name=PREVIEW_ID).click()
    expect(page.locator("#own-table")).to_contain_text(a.internal_ids[1])
    expect(page.locator("#slot-table")).to_contain_text("control")
    expect(page.locator("#slot-table")).to_contain_text("other slot 1")
    expect(page.locator("#srm-check")).to_contain_text("Sample ratio check")
    html = page.content()
    assert not [v for v in b.secrets() if v in html]
    assert page.evaluate(OVERFLOW) <= 0
    page.screenshot(path=str(shots / "partner-experiment.png"), full_page=True)

    # A trace file, downloaded and checked against its sha256.
    page.get_by_role("link", name="Traces").click()
    with page.expect_download() as info:
        page.get_by_role("link", name="2026-11-30-s1.jsonl.gz").click()
    saved = tmp_path / "download.jsonl.gz"
    info.value.save_as(saved)
    assert (
        hashlib.sha256(saved.read_bytes()).hexdigest()
        == hashlib.sha256(world.export_bytes).hexdigest()
    )

    # A webhook endpoint to a local receiver, a test event, the delivery in the log.
    page.get_by_role("link", name="Webhooks").click()
    page.get_by_label("URL").fill(receiver.url)
    page.get_by_label("Description").fill("staging verifier")
    page.get_by_role("button", name="Add endpoint").click()
    expect(page.locator("#secret")).to_contain_text("whsec_")
    page.get_by_role("link", name="Done").click()
    page.get_by_role("button", name="Send a test event").click()
    expect(page.locator(".flash")).to_contain_text("queued")
    _until_delivered(page, receiver)
    assert [r.status for r in receiver.received] == [200]
    assert b'"type":"webhook.test"' in receiver.received[0].body.replace(b" ", b"")
    page.screenshot(path=str(shots / "partner-webhook.png"), full_page=True)
    page.locator("#deliveries").get_by_role("link", name="webhook.test").click()
    expect(page.locator("#attempts")).to_contain_text("200")

    # Every page fits 1280 px and a phone: wide tables scroll inside their own box.
    paths = [
        "/experiments",
        f"/experiments/{world.exp.id}",
        f"/slots/{a.slot_ids[0]}",
        f"/checkpoints/{a.version_ids[-1]}",
        "/exports",
        "/webhooks",
        f"/webhooks/{a.endpoint_id}",
        f"/deliveries/{a.delivery_id}",
        "/members",
    ]
    for path in paths:
        page.goto(f"{base}/partner{path}")
        assert page.evaluate(OVERFLOW) <= 0, path
    phone = browser.new_context(viewport={"width": 390, "height": 844})
    small = phone.new_page()
    _sign_in(small, base, a.viewer_key)
    for path in paths:
        small.goto(f"{base}/partner{path}")
        assert small.evaluate(OVERFLOW) <= 0, path
    phone.close()
    context.close()
