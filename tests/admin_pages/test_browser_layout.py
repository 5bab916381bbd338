"""Narrow screens, keyboard and no JavaScript, on the seeded demo (sqlite backend only)."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect

from previewgate.crypto import hash_api_key
from tests.admin_pages.demo import seed_demo
from tests.admin_pages.helpers import sign_in
from tests.support.servers import GatewayServer

OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
# Each header of a table, left to right, scrolled into view inside the table's own box: is
# it inside the box and on top (not under the sticky first column)?
HEADERS_IN_VIEW = """(selector) => {
  const table = document.querySelector(selector);
  const wrap = table.closest(".table-wrap");
  const box = wrap.getBoundingClientRect();
  const hidden = [];
  for (const th of table.querySelectorAll("thead th")) {
    th.scrollIntoView({ block: "center", inline: "nearest" });
    const r = th.getBoundingClientRect();
    const hit = document.elementFromPoint((r.left + r.right) / 2, (r.top + r.bottom) / 2);
    const inside = r.left >= box.left - 1 && r.right <= box.right + 1 && r.width > 0;
    if (!inside || !hit || !th.contains(hit)) hidden.push(th.textContent.trim());
  }
  return { hidden, count: table.querySelectorAll("thead th").length,
           scrolls: wrap.scrollWidth > wrap.clientWidth };
}"""


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
    more = ("/admin/models", "/admin/models/new", "/admin/users")
    urls = [f"{pages.base_url}/admin/experiments", detail, f"{detail}/requests"]
    for url in urls + [pages.base_url + path for path in more]:
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


def test_per_checkpoint_table_is_readable_at_1280_px_and_on_a_phone(
    backend: str, pages: GatewayServer, admin_key: str, browser: Browser
) -> None:
    exp_id = _seed(pages, admin_key)
    detail = f"{pages.base_url}/admin/experiments/{exp_id}"
    for width, scrolls in ((1280, False), (390, True)):
        page = _open(browser, pages.base_url, admin_key, viewport={"width": width, "height": 900})
        page.goto(detail)
        found = page.evaluate(HEADERS_IN_VIEW, "#stats-table")
        assert found["count"] == 10 and found["hidden"] == [], (width, found)
        # At 1280 px every column fits; on a phone the table scrolls inside its box.
        assert found["scrolls"] is scrolls, (width, found)
        assert page.evaluate(OVERFLOW) <= 0, width
        if scrolls:
            # Scrolled to the last column, the checkpoint column is still at the left edge.
            first = page.locator("#stats-table tbody th").first.bounding_box()
            wrap = page.locator("#stats-table").locator("xpath=..").bounding_box()
            assert first is not None and wrap is not None
            assert abs(first["x"] - wrap["x"]) < 2, (first, wrap)
        # The sample-ratio check is always shown, with its p-value and verdict.
        expect(page.locator("#srm-check")).to_have_text(
            re.compile(r"Sample ratio check:\s+(passed, p = 0\.\d+|failed, p < 0\.001)")
        )
        page.context.close()
