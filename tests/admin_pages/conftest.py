"""Fixtures of the admin page tests: the pages mounted on a real gateway, and one browser."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page

from tests.admin_pages.helpers import chromium, mount_pages
from tests.support.seed import create_user
from tests.support.servers import GatewayServer


@pytest.fixture
def pages(gateway: GatewayServer) -> GatewayServer:
    return mount_pages(gateway)


@pytest.fixture
def admin_key(pages: GatewayServer) -> str:
    return pages.call(lambda rt: create_user(rt, "ops@example.com", admin=True))


@pytest.fixture
def browser(pages: GatewayServer) -> Iterator[Browser]:
    # Sync Playwright keeps an event loop running in this thread, so the browser starts
    # after the store fixtures (which call asyncio.run) and stops before their teardown.
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def pytest_runtest_setup(item: pytest.Item) -> None:
    # Browser tests exercise pages, not the store: one backend keeps the suite fast. Skipped
    # here, before any fixture creates a database or starts a browser.
    params = getattr(item, "callspec", None)
    backend = params.params.get("backend") if params else None
    if item.path.name.startswith("test_browser_") and backend != "sqlite":
        pytest.skip("browser tests run on the sqlite backend only")
