"""An operator runs an experiment's whole life from the browser (sqlite backend only)."""

from __future__ import annotations

import json
import re

import httpx
from playwright.sync_api import Page, expect

from tests.admin_pages.helpers import sign_in
from tests.support.experiments import PREVIEW_ID, create_preview_model
from tests.support.servers import GatewayServer, MockServer


def _flash(page: Page, text: str) -> None:
    expect(page.locator(".flash")).to_contain_text(text)


def _add_variant(page: Page, label: str, internal_id: str, base_url: str, key: str) -> None:
    form = page.locator("#add-variant")
    if form.get_attribute("open") is None:
        form.locator("summary").click()
    form.get_by_label("Label").fill(label)
    form.get_by_label("Weight").fill("1")
    upstream = {"internal_id": internal_id, "base_url": base_url}
    form.get_by_label("Upstream (JSON)").fill(json.dumps(upstream))
    form.get_by_label("Partner API key").fill(key)
    form.get_by_role("button", name="Add variant").click()
    _flash(page, "Variant added.")


def _status(page: Page, status: str) -> None:
    expect(page.locator(".page-head .badge").first).to_have_text(status)


def _buttons(page: Page) -> list[str]:
    return page.locator(".actions button").all_inner_texts()


def test_operator_runs_an_experiment_through_the_pages(
    backend: str, pages: GatewayServer, admin_key: str, mock: MockServer, page: Page
) -> None:
    admin = httpx.Client(base_url=pages.base_url, headers={"authorization": f"Bearer {admin_key}"})
    create_preview_model(admin)
    sign_in(page, pages.base_url, admin_key)

    page.get_by_role("link", name="New experiment").first.click()
    page.get_by_label("Preview model").select_option(PREVIEW_ID)
    page.get_by_label("Name").fill("RC bake-off")
    page.get_by_role("button", name="Create draft").click()
    _flash(page, "Experiment created.")
    _status(page, "draft")
    assert _buttons(page) == ["Activate", "Archive"]

    # A refusal of the lifecycle service is a readable message, not an error page.
    page.get_by_role("button", name="Activate").click()
    _flash(page, "activation requires at least one variant")

    _add_variant(page, "control", "rc-a", mock.base_url, "sk-partner-a-111")
    _add_variant(page, "candidate", "rc-b", mock.base_url, "sk-partner-b-222")
    _add_variant(page, "extra", "rc-c", mock.base_url, "sk-partner-c-555")
    expect(page.locator("article.variant")).to_have_count(3)
    extra = page.get_by_role("article", name="extra")
    page.once("dialog", lambda dialog: dialog.accept())
    extra.get_by_role("button", name="Remove variant").click()
    _flash(page, "Variant removed.")
    expect(page.locator("article.variant")).to_have_count(2)

    # Weights are edited in draft only; shares follow.
    candidate = page.get_by_role("article", name="candidate")
    candidate.locator("summary", has_text="Edit label and weight").click()
    candidate.get_by_label("Weight").fill("3")
    candidate.get_by_role("button", name="Save").click()
    _flash(page, "Variant saved.")
    candidate = page.get_by_role("article", name="candidate")
    expect(candidate.locator(".share-text")).to_have_text("75.0%")

    page.get_by_role("button", name="Activate").click()
    _flash(page, "Experiment is active.")
    _status(page, "active")
    assert _buttons(page) == ["Pause", "Complete"]  # no archive while active
    expect(page.get_by_role("button", name="Remove variant")).to_have_count(0)

    page.get_by_role("button", name="Pause").click()
    _status(page, "paused")
    assert _buttons(page) == ["Resume", "Complete", "Archive"]
    candidate = page.get_by_role("article", name="candidate")
    candidate.locator("summary", has_text="Edit label").click()
    expect(candidate.get_by_label("Weight")).to_have_count(0)  # structural edits: draft only
    candidate.get_by_label("Label").fill("candidate-b")
    candidate.get_by_role("button", name="Save").click()
    _flash(page, "Variant saved.")
    expect(page.get_by_role("heading", name="candidate-b")).to_have_count(1)

    # Hot-swap through the JSON editor: an invalid upstream is shown next to the field.
    card = page.get_by_role("article", name="control")
    card.locator("summary", has_text="Hot-swap checkpoint").click()
    bad = {"internal_id": "rc-a2", "base_url": "ftp://example.com", "headers": {"x": "1"}}
    card.get_by_label("Upstream (JSON)").fill(json.dumps(bad))
    card.get_by_label("Partner API key", exact=True).fill("sk-partner-a-333")
    card.get_by_role("button", name="Hot-swap").click()
    card = page.get_by_role("article", name="control")
    error = card.locator(".field-error")
    expect(error).to_contain_text("base_url")
    expect(error).to_contain_text("headers: unknown field")
    expect(card.get_by_label("Upstream (JSON)")).to_have_attribute("aria-invalid", "true")
    expect(card.get_by_label("Partner API key", exact=True)).to_have_value("")  # never echoed back
    assert "sk-partner-a-333" not in page.content()

    card.get_by_label("Upstream (JSON)").fill('{"internal_id": "rc-a2",')
    card.get_by_label("Partner API key", exact=True).fill("sk-partner-a-333")
    card.get_by_role("button", name="Hot-swap").click()
    card = page.get_by_role("article", name="control")
    expect(card.locator(".field-error")).to_contain_text("not valid JSON")

    good = {"internal_id": "rc-a2", "base_url": mock.base_url, "api_format": "openai-chat"}
    card.get_by_label("Upstream (JSON)").fill(json.dumps(good))
    card.get_by_label("Partner API key", exact=True).fill("sk-partner-a-333")
    card.get_by_role("button", name="Hot-swap").click()
    _flash(page, "Checkpoint hot-swapped")
    card = page.get_by_role("article", name="control")
    timeline = card.locator("table.timeline tbody tr")
    expect(timeline).to_have_count(2)
    expect(timeline.nth(1)).to_contain_text("rc-a2")
    expect(timeline.nth(1)).to_contain_text("current")
    expect(timeline.nth(1)).to_contain_text("key configured")
    expect(timeline.nth(1)).to_contain_text("ops@example.com")

    card.locator("summary", has_text="Rotate key").click()
    card.get_by_label("New partner API key").fill("sk-partner-a-444")
    card.get_by_role("button", name="Rotate key").click()
    _flash(page, "Key rotated")
    card = page.get_by_role("article", name="control")
    expect(card.locator("table.timeline tbody tr")).to_have_count(3)

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Complete").click()
    _status(page, "completed")
    assert _buttons(page) == ["Archive"]
    expect(page.get_by_text("Hot-swap checkpoint")).to_have_count(0)

    page.get_by_role("button", name="Archive").click()
    _flash(page, "Experiment archived.")
    assert _buttons(page) == ["Unarchive"]

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Experiments").click()
    expect(page.get_by_role("link", name="RC bake-off")).to_have_count(0)
    page.get_by_label("show archived").check()
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"archived=on"))
    row = page.locator("tr").filter(has_text="RC bake-off")
    expect(row).to_contain_text("completed")
    expect(row).to_contain_text("archived")
    expect(row).to_contain_text("25.0%")
    expect(row).to_contain_text("candidate-b")
