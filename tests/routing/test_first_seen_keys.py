"""The bounds on store lookups of keys the routing state does not know (``routing.keys``),
against the real store: the finder is the accounts query the runtime uses, counted, and
held back where a test needs lookups to overlap."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from previewgate.accounts.queries import caller_by_key_hash
from previewgate.config import Settings
from previewgate.crypto import hash_api_key
from previewgate.routing.keys import FirstSeenKeys, Found, MissLimits
from previewgate.runtime import Runtime
from tests.support.seed import create_user


class CountingFinder:
    """``accounts.queries.caller_by_key_hash`` in its own session, counted per key hash."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.calls: list[str] = []
        self.release = asyncio.Event()
        self.release.set()

    async def __call__(self, key_hash: str) -> Found:
        self.calls.append(key_hash)
        await self.release.wait()
        async with self.runtime.sessions() as session:
            return await caller_by_key_hash(session, key_hash)


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    built = Runtime.build(settings)
    yield built
    await built.blobs.close()
    await built.engine.dispose()


@pytest.fixture
async def live(runtime: Runtime) -> str:
    """The hash of a live key in the store."""
    return hash_api_key(await create_user(runtime, "live@example.com"))


def _nobody() -> str:
    return hash_api_key(f"pg-{secrets.token_hex(16)}")


async def test_a_burst_with_one_new_key_makes_one_lookup(runtime: Runtime, live: str) -> None:
    finder = CountingFinder(runtime)
    finder.release.clear()
    keys = FirstSeenKeys(finder)
    waiting = [asyncio.create_task(keys.find(live)) for _ in range(100)]
    await asyncio.sleep(0)
    finder.release.set()
    found = {await w for w in waiting}
    assert len(found) == 1 and None not in found
    assert finder.calls == [live]


async def test_a_client_that_leaves_does_not_cancel_the_others_lookup(
    runtime: Runtime, live: str
) -> None:
    finder = CountingFinder(runtime)
    finder.release.clear()
    keys = FirstSeenKeys(finder)
    leaving = asyncio.create_task(keys.find(live))
    staying = asyncio.create_task(keys.find(live))
    await asyncio.sleep(0)
    leaving.cancel()
    finder.release.set()
    assert await staying is not None
    assert finder.calls == [live]


async def test_misses_are_remembered_until_they_expire_or_a_reload(runtime: Runtime) -> None:
    finder = CountingFinder(runtime)
    keys = FirstSeenKeys(finder, MissLimits(negative_ttl_s=60))
    nobody = _nobody()
    assert await keys.find(nobody) is None
    assert await keys.find(nobody) is None
    assert finder.calls == [nobody]
    keys.forget_misses()
    assert await keys.find(nobody) is None
    assert finder.calls == [nobody, nobody]


async def test_the_negative_cache_is_bounded(runtime: Runtime) -> None:
    finder = CountingFinder(runtime)
    keys = FirstSeenKeys(finder, MissLimits(rate_per_s=1e9, burst=1000, negative_max=3))
    nobody = [_nobody() for _ in range(4)]
    for key_hash in nobody:
        await keys.find(key_hash)
    await keys.find(nobody[0])  # evicted first (oldest): looked up again
    await keys.find(nobody[3])  # still remembered
    assert finder.calls == [*nobody, nobody[0]]


async def test_beyond_the_rate_misses_are_refused_without_a_lookup_or_memory(
    runtime: Runtime, live: str
) -> None:
    finder = CountingFinder(runtime)
    keys = FirstSeenKeys(finder, MissLimits(rate_per_s=0.001, burst=5))
    for _ in range(50):
        assert await keys.find(_nobody()) is None
    assert len(finder.calls) == 5
    # A live key caught by the limit is not remembered as missing: a later try can find it.
    assert await keys.find(live) is None
    assert live not in finder.calls


async def test_a_store_failure_reaches_every_waiter_and_is_not_remembered(
    settings: Settings, tmp_path: Path
) -> None:
    # A store that cannot be opened: its directory does not exist.
    unreachable = settings.model_copy(
        update={"database_url": f"sqlite+aiosqlite:///{tmp_path}/missing/dir/store.db"}
    )
    runtime = Runtime.build(unreachable)
    try:
        finder = CountingFinder(runtime)
        keys = FirstSeenKeys(finder)
        key_hash = _nobody()
        for _ in range(2):
            with pytest.raises(OperationalError):
                await keys.find(key_hash)
        assert finder.calls == [key_hash, key_hash]
    finally:
        await runtime.engine.dispose()
