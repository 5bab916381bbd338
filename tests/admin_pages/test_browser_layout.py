"""Narrow screens, keyboard and no JavaScript, on the seeded demo (sqlite backend only)."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from previewgate.crypto import hash_api_key
from tests.admin_pages.demo import seed_demo
from tests.admin_pages.helpers import sign_in
from tests.support.servers import GatewayServer

OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


def _seed(pages: GatewayServer, admin_key: str) -> str:
    snapshot = pages.runtime.routing.snapshot
    assert snapshot is not None
    admin_id = snapshot.callers[hash_api_key(admin_key)].user_id
    return str(pages.call(lambda rt: seed_demo(rt, admin_id)))


def _open(browser: Browser, base_url: str, key: str, **options: object) -> Page:
    context = browser.new_context(**options)  # type: ignore[arg-type]
    context.set_default_timeout(10_000)
    page = context.new_page()
    sign_in(page, base_url, key)
    return page


def test_pages_fit_a_phone_and_work_from_the_keyboard(
    backend: str, pages: GatewayServer, admin_key: str, browser: Browser
) -> None:
    exp_id = _seed(pages, admin_key)
    page = _open(browser, pages.base_url, admin_key, viewport={"width": 390, "height": 844})
    detail = f"{pages.base_url}/admin/experiments/{exp_id}"
    for url in (f"{pages.base_url}/admin/experiments", detail, f"{detail}/requests"):
        page.goto(url)
        assert page.evaluate(OVERFLOW) <= 0, url  # wide tables scroll inside their own box
    page.goto(detail)
    page.wait_for_function("() => window.previewgateCharts !== undefined")
    assert page.locator("#chart-requests").bounding_box()["width"] <= 390  # type: ignore[index]

    page.goto(f"{pages.base_url}/admin/experiments")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    link = page.get_by_role("link", name="Checkpoint bake-off: rc3 vs rc4")
    for _ in range(20):
        page.keyboard.press("Tab")
        if link.evaluate("(el) => el === document.activeElement"):
            break
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Checkpoint bake-off: rc3 vs rc4")


def test_list_and_detail_are_readable_without_javascript(
    backend: str, pages: GatewayServer, admin_key: str, browser: Browser
) -> None:
    exp_id = _seed(pages, admin_key)
    page = _open(browser, pages.base_url, admin_key, java_script_enabled=False)
    expect(page.locator("table.list tbody tr")).to_have_count(4)
    page.get_by_role("link", name="Checkpoint bake-off: rc3 vs rc4").click()
    expect(page).to_have_url(f"{pages.base_url}/admin/experiments/{exp_id}")
    expect(page.locator("article.variant")).to_have_count(2)
    expect(page.locator("#stats-table tbody tr")).to_have_count(3)
    page.locator("article.variant").first.locator("summary", has_text="Hot-swap").click()
    expect(page.locator("article.variant").first.get_by_label("Upstream (JSON)")).to_be_visible()
    page.get_by_role("button", name="Pause").click()
    expect(page.locator(".flash")).to_contain_text("paused")
