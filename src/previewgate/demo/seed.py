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
from previewgate.catalog.schemas import ModelCreate, Pricing
from previewgate.catalog.upstream import UpstreamSpec
from previewgate.crypto import KeyCipher
from previewgate.experiments import service as experiments
from previewgate.experiments.models import ROUTING_STATUSES, Experiment
from previewgate.experiments.schemas import ExperimentCreate, VariantCreate

DEMO_ADMIN = "admin@demo.local"
DEMO_MODEL = "demo/echo"
DEMO_UPSTREAM_KEY = "sk-demo-upstream-key"
# USD per million tokens: the production demo model is priced, so answers show a usage.cost
# (preview traffic stays free), and the demo admin gets prepaid credit to spend on it.
DEMO_PRICING = {"input": 0.5, "output": 1.5}
DEMO_CREDIT_MICROUSD = 10_000_000


DEMO_PREVIEW = "acme/preview-experiment-demo"
DEMO_CHECKPOINTS = (("rc-a", "acme-rc-a-internal"), ("rc-b", "acme-rc-b-internal"))


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
    if admin.balance_microusd <= 0:
        admin.balance_microusd = DEMO_CREDIT_MICROUSD

    upstream = {"internal_id": "mock-echo-1", "base_url": upstream_base}
    model = await session.get(CatalogModel, DEMO_MODEL)
    if model is None:
        await catalog.create_model(
            session,
            cipher,
            ModelCreate(
                public_id=DEMO_MODEL,
                kind="production",
                display_name="Demo echo model",
                description="A local mock model that answers without internet.",
                upstream=upstream,  # type: ignore[arg-type]
                api_key=DEMO_UPSTREAM_KEY,
                pricing=Pricing(**DEMO_PRICING),
            ),
        )
    else:
        model.upstream = catalog.parse_upstream(upstream).stored()
        model.pricing = model.pricing or dict(DEMO_PRICING)
    await session.flush()
    return DemoSeed(admin_key=admin_key)


async def seed_demo_experiment(
    session: AsyncSession, cipher: KeyCipher, checkpoint_bases: list[str]
) -> None:
    """A preview model with an active two-variant experiment over two mock checkpoints.

    Anonymous callers are allowed and no opt-in is required, so a newcomer's curl works;
    real experiments default to requiring both an API key and an opt-in.
    """
    if await session.get(CatalogModel, DEMO_PREVIEW) is None:
        await catalog.create_model(
            session,
            cipher,
            ModelCreate(public_id=DEMO_PREVIEW, kind="preview", display_name="Acme preview (demo)"),
        )
    routing = await session.scalar(
        select(Experiment).where(
            Experiment.public_model_id == DEMO_PREVIEW, Experiment.status.in_(ROUTING_STATUSES)
        )
    )
    if routing is None:
        created = await experiments.create_experiment(
            session,
            ExperimentCreate(
                public_model_id=DEMO_PREVIEW,
                name="Acme RC bake-off (demo)",
                require_opt_in=False,
                allow_anonymous=True,
            ),
        )
        for (label, internal_id), base in zip(DEMO_CHECKPOINTS, checkpoint_bases, strict=True):
            await experiments.add_variant(
                session,
                cipher,
                created.id,
                VariantCreate(
                    label=label,
                    weight=1,
                    upstream=UpstreamSpec(internal_id=internal_id, base_url=base),  # type: ignore[arg-type]
                    api_key=f"sk-demo-{label}",
                ),
            )
        await experiments.activate(session, created.id)
        return
    # Re-run on other ports: hot-swap each slot to the new address (versions are insert-only).
    for variant in sorted(routing.variants, key=lambda v: v.label):
        index = [label for label, _ in DEMO_CHECKPOINTS].index(variant.label)
        current = await experiments.current_version(session, variant.id)
        if current is not None and current.upstream.get("base_url") != checkpoint_bases[index]:
            upstream = {**current.upstream, "base_url": checkpoint_bases[index]}
            await experiments.swap_variant_version(
                session, cipher, routing.id, variant.id, upstream, f"sk-demo-{variant.label}"
            )
