"""Screenshots of the admin pages for the README, from the seeded demo.

    python -m tests.admin_pages.screenshots [OUTPUT_DIR]   (default: docs/screenshots)

Starts a gateway on a temporary SQLite store, seeds ``demo.seed_demo`` and drives
Debian's chromium headless (nothing is downloaded).
"""

from __future__ import annotations

import asyncio
import base64
import os
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Page

from previewgate.accounts import queries as accounts_queries
from previewgate.accounts import service as accounts
from previewgate.config import Settings
from previewgate.crypto import hash_api_key
from previewgate.runtime import Runtime
from previewgate.store.engine import create_engine
from previewgate.store.migrate import upgrade
from tests.admin_pages.demo import seed_demo
from tests.admin_pages.helpers import chromium, mount_pages, sign_in
from tests.support.seed import add_model, create_user
from tests.support.servers import GatewayServer

LIST_PNG = "admin-experiments.png"
DETAIL_PNG = "admin-experiment-detail.png"
MODELS_PNG = "admin-models.png"
USER_PNG = "admin-user-keys.png"


async def _catalog_and_users(rt: Runtime) -> uuid.UUID:
    """A priced production model and a user with credit and two keys (one revoked)."""
    await add_model(
        rt,
        public_id="acme/coder-large",
        kind="production",
        display_name="Acme Coder Large",
        upstream={"internal_id": "coder-large-2025-11", "base_url": "https://api.acme.example/v1"},
        api_key="sk-demo-not-a-real-key",
        pricing={"input": 1.25, "output": 10.0},
    )
    async with rt.sessions() as session, session.begin():
        user = await accounts.create_user(session, "dev@acme.example")
        await accounts.add_credit(session, user, 25_000_000)
        old = await accounts.issue_key(session, user)
        await accounts.issue_key(session, user)
        await accounts_queries.revoke_key(session, old.key_id)
    await rt.routing.refresh_now()
    return user.id


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


@contextmanager
def demo_gateway() -> Iterator[tuple[GatewayServer, str, str]]:
    """A gateway with the demo seeded: (server, admin API key, active experiment id)."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/demo.db"
        asyncio.run(_migrate(url))
        settings = Settings(
            data_dir=Path(tmp) / "data",
            database_url=url,
            blob_url=f"file://{tmp}/blobs",
            encryption_key=base64.b64encode(os.urandom(32)).decode(),
        )
        server = mount_pages(GatewayServer(settings))
        try:
            key = server.call(lambda rt: create_user(rt, "ops@acme.example", admin=True))
            snapshot = server.runtime.routing.snapshot
            assert snapshot is not None
            admin_id = snapshot.callers[hash_api_key(key)].user_id
            exp_id = server.call(lambda rt: seed_demo(rt, admin_id))
            server.call(_catalog_and_users)
            yield server, key, str(exp_id)
        finally:
            server.stop()


def capture(page: Page, base_url: str, exp_id: str, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    page.goto(f"{base_url}/admin/experiments")
    list_png = out / LIST_PNG
    page.screenshot(path=str(list_png), full_page=True)
    page.goto(f"{base_url}/admin/experiments/{exp_id}")
    page.wait_for_function("() => window.previewgateCharts !== undefined")
    charts = page.locator(".charts").bounding_box()
    assert charts is not None
    detail_png = out / DETAIL_PNG
    bottom = charts["y"] + charts["height"] + 16
    page.screenshot(
        path=str(detail_png), full_page=True, clip={"x": 0, "y": 0, "width": 1280, "height": bottom}
    )
    models_png = out / MODELS_PNG
    page.goto(f"{base_url}/admin/models")
    page.screenshot(path=str(models_png), full_page=True)
    page.goto(f"{base_url}/admin/users")
    page.get_by_role("link", name="dev@acme.example").click()
    user_png = out / USER_PNG
    page.screenshot(path=str(user_png), full_page=True)
    return [list_png, detail_png, models_png, user_png]


def main(argv: list[str]) -> int:
    out = Path(argv[1] if len(argv) > 1 else "docs/screenshots")
    with demo_gateway() as (server, key, exp_id), chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        sign_in(page, server.base_url, key)
        for path in capture(page, server.base_url, exp_id, out):
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
