"""The bounds on store lookups of keys the routing state does not know (``routing.keys``).

The finder here is a counter in front of a dict: what is under test is how often, and for
whom, ``FirstSeenKeys`` calls it; the store side runs for real in ``test_unknown_keys``.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from previewgate.routing.keys import FirstSeenKeys, Found, MissLimits
from previewgate.routing.snapshot import Caller

KNOWN = {"h-live": (Caller(uuid.uuid4(), False), True)}


class CountingFinder:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.release = asyncio.Event()
        self.release.set()

    async def __call__(self, key_hash: str) -> Found:
        self.calls.append(key_hash)
        await self.release.wait()
        return KNOWN.get(key_hash)


async def test_a_burst_with_one_new_key_makes_one_lookup() -> None:
    finder = CountingFinder()
    finder.release.clear()
    keys = FirstSeenKeys(finder)
    waiting = [asyncio.create_task(keys.find("h-live")) for _ in range(100)]
    await asyncio.sleep(0)
    finder.release.set()
    assert {await w for w in waiting} == {KNOWN["h-live"]}
    assert finder.calls == ["h-live"]


async def test_a_client_that_leaves_does_not_cancel_the_others_lookup() -> None:
    finder = CountingFinder()
    finder.release.clear()
    keys = FirstSeenKeys(finder)
    leaving = asyncio.create_task(keys.find("h-live"))
    staying = asyncio.create_task(keys.find("h-live"))
    await asyncio.sleep(0)
    leaving.cancel()
    finder.release.set()
    assert await staying == KNOWN["h-live"]
    assert finder.calls == ["h-live"]


async def test_misses_are_remembered_until_they_expire_or_a_reload() -> None:
    finder = CountingFinder()
    keys = FirstSeenKeys(finder, MissLimits(negative_ttl_s=60))
    assert await keys.find("h-nobody") is None
    assert await keys.find("h-nobody") is None
    assert finder.calls == ["h-nobody"]
    keys.forget_misses()
    assert await keys.find("h-nobody") is None
    assert finder.calls == ["h-nobody", "h-nobody"]


async def test_the_negative_cache_is_bounded() -> None:
    finder = CountingFinder()
    keys = FirstSeenKeys(finder, MissLimits(rate_per_s=1e9, burst=1000, negative_max=3))
    for n in range(4):
        await keys.find(f"h-{n}")
    await keys.find("h-0")  # evicted first (oldest): looked up again
    await keys.find("h-3")  # still remembered
    assert finder.calls == ["h-0", "h-1", "h-2", "h-3", "h-0"]


async def test_beyond_the_rate_misses_are_refused_without_a_lookup_or_memory() -> None:
    finder = CountingFinder()
    keys = FirstSeenKeys(finder, MissLimits(rate_per_s=0.001, burst=5))
    for n in range(50):
        assert await keys.find(f"h-{n}") is None
    assert len(finder.calls) == 5
    # A live key caught by the limit is not remembered as missing: a later try can find it.
    assert await keys.find("h-live") is None
    assert "h-live" not in finder.calls


async def test_a_store_failure_reaches_every_waiter_and_is_not_remembered() -> None:
    calls = 0

    async def failing(key_hash: str) -> Found:
        nonlocal calls
        calls += 1
        raise OSError("store down")

    keys = FirstSeenKeys(failing)
    with pytest.raises(OSError):
        await keys.find("h-live")
    with pytest.raises(OSError):
        await keys.find("h-live")
    assert calls == 2
