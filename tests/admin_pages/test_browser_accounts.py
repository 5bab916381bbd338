"""An operator sets up a preview model, a user, a key and an experiment, all from the pages
(sqlite backend only); the key shown once then works against the gateway."""

from __future__ import annotations

import json

import httpx
from playwright.sync_api import Page, expect

from tests.admin_pages.helpers import sign_in
from tests.support.experiments import PREVIEW_ID
from tests.support.servers import GatewayServer, MockServer

PARTNER_KEY = "sk-partner-pages-7c1d"


def _flash(page: Page, text: str) -> None:
    expect(page.locator(".flash")).to_contain_text(text)


def _nav(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True).click()


def _chat(gateway: GatewayServer, key: str) -> httpx.Response:
    return httpx.post(
        f"{gateway.base_url}/v1/chat/completions",
        headers={"authorization": f"Bearer {key}"},
        json={"model": PREVIEW_ID, "messages": [{"role": "user", "content": "hello there"}]},
        timeout=30,
    )


def test_operator_sets_up_model_user_key_and_experiment_from_the_pages(
    backend: str, pages: GatewayServer, admin_key: str, mock: MockServer, page: Page
) -> None:
    sign_in(page, pages.base_url, admin_key)

    # The "New experiment" page points to the model form while no preview model exists.
    _nav(page, "New experiment")
    page.get_by_role("link", name="add a preview model").click()
    page.get_by_label("Public id").fill(PREVIEW_ID)
    expect(page.get_by_role("radio", name="preview")).to_be_checked()
    page.get_by_label("Display name").fill("Acme preview")
    page.get_by_label("Disclosure text").fill("Prompts are kept 30 days for evaluation.")
    page.get_by_role("button", name="Add model").click()
    _flash(page, f"Model {PREVIEW_ID} added.")
    row = page.locator("#models-table tr").filter(has_text=PREVIEW_ID)
    expect(row).to_contain_text("preview")
    expect(row).to_contain_text("version 1")

    _nav(page, "Users")
    page.locator("#create-user summary").click()
    page.get_by_label("E-mail").fill("dev@example.com")
    page.get_by_role("button", name="Create user").click()
    _flash(page, "User dev@example.com created.")
    expect(page.get_by_role("heading", level=1)).to_have_text("dev@example.com")
    page.get_by_role("button", name="Create API key").click()
    expect(page.get_by_text("shown only this once")).to_be_visible()
    key = page.get_by_label("API key", exact=True).input_value()
    assert key.startswith("pg-") and len(key) > 30
    expect(page.locator("#keys-table tbody tr")).to_have_count(1)
    expect(page.locator("#keys-table")).to_contain_text(key[:10])
    expect(page.locator("#keys-table")).not_to_contain_text(key)

    _nav(page, "New experiment")
    page.get_by_label("Preview model").select_option(PREVIEW_ID)
    page.get_by_label("Name").fill("Pages bake-off")
    page.get_by_role("button", name="Create draft").click()
    _flash(page, "Experiment created.")
    form = page.locator("#add-variant")
    form.get_by_label("Label").fill("control")
    upstream = {"internal_id": "rc-pages", "base_url": mock.base_url}
    form.get_by_label("Upstream (JSON)").fill(json.dumps(upstream))
    form.get_by_label("Partner API key").fill(PARTNER_KEY)
    form.get_by_role("button", name="Add variant").click()
    _flash(page, "Variant added.")
    page.get_by_role("button", name="Activate").click()
    _flash(page, "Experiment is active.")

    # The key shown once works: opt in to the disclosure, then a chat reaches the checkpoint.
    assert _chat(pages, key).json()["error"]["code"] == "opt_in_required"
    opt_in = httpx.post(
        f"{pages.base_url}/v1/preview-models/{PREVIEW_ID}/opt-in",
        headers={"authorization": f"Bearer {key}"},
    )
    assert opt_in.status_code == 200, opt_in.text
    answer = _chat(pages, key)
    assert answer.status_code == 200, answer.text
    assert answer.json()["choices"][0]["message"]["content"].startswith("Hello!")
    assert mock.upstream.requests[-1].body["model"] == "rc-pages"

    # Never shown again; revoking it from the page stops it at once.
    _nav(page, "Users")
    page.get_by_role("link", name="dev@example.com").click()
    expect(page.get_by_text("shown only this once")).to_have_count(0)
    assert key not in page.content()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=f"Revoke key {key[:10]}").click()
    _flash(page, "Key revoked")
    expect(page.locator("#keys-table tbody tr.revoked")).to_have_count(1)
    assert _chat(pages, key).status_code == 401
