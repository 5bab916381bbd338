"""Seed the demo: an admin, a production model, and (when available) a preview experiment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from previewgate.accounts import service as accounts
from previewgate.accounts.models import User
from previewgate.catalog import service as catalog
from previewgate.catalog.models import CatalogModel
from previewgate.crypto import KeyCipher

DEMO_ADMIN = "admin@demo.local"
DEMO_MODEL = "demo/echo"
DEMO_UPSTREAM_KEY = "sk-demo-upstream-key"


@dataclass(frozen=True)
class DemoSeed:
    admin_key: str


async def seed_demo(
    session: AsyncSession, cipher: KeyCipher, data_dir: Path, upstream_base: str
) -> DemoSeed:
    """Idempotent: re-running reuses the data folder and refreshes upstream addresses."""
    admin = await session.scalar(select(User).where(User.email == DEMO_ADMIN))
    key_file = data_dir / "demo-admin.key"
    if admin is None or not key_file.exists():
        if admin is None:
            admin = await accounts.create_user(session, DEMO_ADMIN, is_admin=True)
        key = (await accounts.issue_key(session, admin)).plaintext
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
    admin_key = key_file.read_text().strip()

    upstream = {"internal_id": "mock-echo-1", "base_url": upstream_base}
    model = await session.get(CatalogModel, DEMO_MODEL)
    if model is None:
        await catalog.create_model(
            session,
            cipher,
            catalog.ModelCreate(
                public_id=DEMO_MODEL,
                kind="production",
                display_name="Demo echo model",
                description="A local mock model that answers without internet.",
                upstream=upstream,  # type: ignore[arg-type]
                api_key=DEMO_UPSTREAM_KEY,
            ),
        )
    else:
        model.upstream = catalog.parse_upstream(upstream).stored()
    await session.flush()
    return DemoSeed(admin_key=admin_key)
