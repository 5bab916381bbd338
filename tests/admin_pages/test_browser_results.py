"""Live results, charts and the request browser after real traffic (sqlite backend only)."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.admin_pages.helpers import admin_api, sign_in, skewed_traffic
from tests.support.experiments import create_preview_model, start_experiment
from tests.support.servers import GatewayServer, MockServer

ERROR_RATES = """() => window.previewgateCharts.errors.data.datasets.map((d) => ({
  spanGaps: d.spanGaps,
  fakeZero: d.data.filter((p) => p.requests === 0 && p.y !== null).length,
}))"""
REQUEST_GAPS = "() => window.previewgateCharts.requests.data.datasets.map((d) => d.spanGaps)"
POINTS = """() => Object.fromEntries(Object.entries(window.previewgateCharts).map(([name, chart]) =>
  [name, chart.data.datasets.map((d) => d.data.filter((p) => p !== null).length)]))"""


def test_results_charts_and_request_bodies(
    backend: str, pages: GatewayServer, admin_key: str, mock: MockServer, page: Page
) -> None:
    admin = admin_api(pages, admin_key)
    create_preview_model(admin)
    exp = start_experiment(admin, [mock, mock])
    statuses = skewed_traffic(pages, exp)
    assert sorted(set(statuses.values())) == [200, 500]

    sign_in(page, pages.base_url, admin_key)
    page.goto(f"{pages.base_url}/admin/experiments/{exp.id}#results")
    expect(page.locator("#srm-banner")).to_contain_text("SAMPLE RATIO MISMATCH")
    expect(page.locator("#srm-check")).to_contain_text("failed, p < 0.001")
    stats = page.locator("#stats-table tbody tr")
    expect(stats).to_have_count(3)  # slot 0 before and after the swap, slot 1
    expect(stats.filter(has_text="acme-internal-rc0-swapped")).to_have_count(1)
    slot0, slot1_info = exp.slots  # ordered by variant id: slot 0 is the control
    slot1 = stats.filter(has_text=slot1_info.internal_id)
    expect(slot1.locator("td").nth(1)).to_have_text("8")  # requests
    expect(slot1.locator("td").nth(3)).to_have_text("3")  # errors
    comparison = page.locator("#comparison-table tbody tr")
    expect(comparison).to_have_count(4)
    expect(comparison.first).to_contain_text("error rate")
    expect(comparison.first.locator("td").nth(3)).to_contain_text("37.5%")  # difference
    # "*" after a bound marks one clipped to the rate's range (see reporting/inference.py).
    expect(comparison.first.locator("td").nth(4)).to_have_text(re.compile(r"^\[.*%\*?, .*%\*?\]$"))
    expect(comparison.first.locator("td").nth(5)).to_have_text(re.compile(r"\d"))

    page.wait_for_function("() => window.previewgateCharts !== undefined")
    points = page.evaluate(POINTS)
    assert len(points["requests"]) == 3 and all(n >= 1 for n in points["requests"])
    assert len(points["errors"]) == 3
    assert points["latency"] == [3, 3]  # p50 and p95 for each checkpoint
    # Error rates: a bucket without requests has no rate (never a fake 0 %), and the line
    # spans such buckets instead of breaking into dots; request counts are drawn as they are.
    rates = page.evaluate(ERROR_RATES)
    assert rates and all(r["spanGaps"] and r["fakeZero"] == 0 for r in rates), rates
    assert page.evaluate(REQUEST_GAPS) == [False, False, False]
    swaps = page.evaluate("() => window.previewgateCharts.requests.options.plugins.swapMarks")
    assert [s["label"] for s in swaps["swaps"]] == [f"{slot0.label} → acme-internal-rc0-swapped"]
    for canvas in page.locator(".charts canvas").all():
        assert canvas.bounding_box()["height"] > 100  # type: ignore[index]

    page.get_by_role("link", name="Request browser").click()
    rows = page.locator("li.request")
    expect(rows).to_have_count(39)
    newest = rows.first
    expect(newest).to_contain_text(slot0.label)
    newest.locator("summary").click()
    expect(newest.locator(".sentinel")).to_have_text("no system prompt")
    expect(newest.locator("pre.blob").first).to_contain_text("no system here")
    expect(newest.locator("pre.blob").nth(1)).to_contain_text("Hello! This is a reply")

    page.get_by_label("Outcome").select_option("errors")
    page.get_by_role("button", name="Apply").click()
    expect(rows).to_have_count(3)
    failed = rows.first
    failed.locator("summary").focus()
    page.keyboard.press("Enter")  # rows open from the keyboard too
    expect(failed.locator("pre.blob").first).to_contain_text("system prompt 42")
    expect(failed.locator("pre.blob").nth(1)).to_contain_text("#mock:500 boom")
    expect(failed).to_contain_text("500")

    swapped = page.locator("#version option", has_text="acme-internal-rc0-swapped")
    page.get_by_label("Checkpoint").select_option(swapped.get_attribute("value"))
    page.get_by_label("Outcome").select_option("all")
    page.get_by_role("button", name="Apply").click()
    expect(rows).to_have_count(11)  # ten after the swap and the one without a system prompt

    # Wiping: the rows stay, their bodies become "wiped".
    page.goto(f"{pages.base_url}/admin/experiments/{exp.id}#wipe")
    page.get_by_label("I understand the prompts cannot be restored").check()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Wipe prompts").click()
    expect(page.locator(".flash")).to_contain_text("Wiped the prompts and responses of 39 requests")
    page.get_by_role("link", name="Request browser").click()
    expect(rows).to_have_count(39)
    rows.first.locator("summary").click()
    expect(rows.first.locator(".sentinel")).to_have_text(["wiped", "wiped", "wiped"])
