"""The demo seed is idempotent and leaves a routable two-slot experiment."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from previewgate.crypto import KeyCipher
from previewgate.demo.seed import DEMO_PREVIEW, seed_demo, seed_demo_experiment
from previewgate.experiments import service as experiments
from previewgate.experiments.models import Experiment


async def test_seed_twice_reuses_data_and_swaps_ports(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path, encryption_key: str
) -> None:
    import base64

    cipher = KeyCipher(base64.b64decode(encryption_key))
    first_bases = ["http://127.0.0.1:9001/v1", "http://127.0.0.1:9002/v1"]
    second_bases = ["http://127.0.0.1:9101/v1", "http://127.0.0.1:9102/v1"]
    keys = []
    for bases in (first_bases, second_bases):
        async with sessions() as session, session.begin():
            seeded = await seed_demo(session, cipher, tmp_path, "http://127.0.0.1:9000/v1")
            keys.append(seeded.admin_key)
            await seed_demo_experiment(session, cipher, bases)
    assert keys[0] == keys[1]  # the admin key is reused from the data folder
    async with sessions() as session:
        [exp] = list(
            await session.scalars(
                select(Experiment).where(Experiment.public_model_id == DEMO_PREVIEW)
            )
        )
        assert exp.status == "active" and len(exp.variants) == 2
        current = {
            v.label: (await experiments.current_version(session, v.id)) for v in exp.variants
        }
        assert sorted(c.upstream["base_url"] for c in current.values() if c) == second_bases
        assert all(len(v.versions) == 2 for v in exp.variants)  # a swap, not an edit
