"""Seeding helpers that go through the same services the API uses."""

from __future__ import annotations

from typing import Any

from previewgate.accounts import service as accounts
from previewgate.catalog import service as catalog
from previewgate.catalog.schemas import ModelCreate
from previewgate.runtime import Runtime


async def create_user(
    runtime: Runtime, email: str, *, admin: bool = False, credit_usd: float = 0
) -> str:
    """Create a user and return a fresh plaintext API key, as one routing change."""
    async with runtime.change() as session:
        user = await accounts.create_user(session, email, is_admin=admin)
        if credit_usd:
            await accounts.add_credit(session, user, round(credit_usd * 1_000_000))
        return (await accounts.issue_key(session, user)).plaintext


async def add_model(runtime: Runtime, **fields: Any) -> None:
    async with runtime.change() as session:
        await catalog.create_model(session, runtime.cipher, ModelCreate(**fields))


def serve_model(
    gateway: Any,
    base_url: str,
    public_id: str = "demo/prod",
    internal_id: str = "internal-prod",
    kind: str = "production",
    proxy: str | None = None,
    **fields: Any,
) -> None:
    """Register a catalog model served by ``base_url`` (through egress ``proxy``, if given)
    on a test gateway."""
    upstream = {"internal_id": internal_id, "base_url": base_url}
    if proxy is not None:
        upstream["proxy"] = proxy
    gateway.call(
        lambda rt: add_model(rt, public_id=public_id, kind=kind, upstream=upstream, **fields)
    )
