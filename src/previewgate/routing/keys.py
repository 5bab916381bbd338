"""Keys the snapshot does not know yet: looked up in the store, but never at any cost.

A key created a moment ago (by the CLI, another process) is valid before the next reload
brings it in, so a miss is checked against the store once. Three bounds keep misses from
reaching the store unchecked:

* single flight: a burst of requests with the same new key makes one query;
* a negative cache remembers recent misses (bounded, a few seconds);
* a token bucket bounds the rate of miss lookups; beyond it a miss is refused from memory
  (401) without being remembered, so a real new key caught in a flood of invalid ones
  succeeds on a later try, and at the latest when the generation poll reloads the state.

Known keys never come here: they are a dict lookup in the snapshot.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from previewgate import metrics
from previewgate.errors import Unauthorized
from previewgate.routing.snapshot import Caller

# The caller of a live key and whether its user is funded, or None.
Found = tuple[Caller, bool] | None
Finder = Callable[[str], Awaitable[Found]]


@dataclass(frozen=True, slots=True)
class MissLimits:
    rate_per_s: float = 20.0
    burst: int = 50
    negative_ttl_s: float = 5.0
    negative_max: int = 10_000


class FirstSeenKeys:
    def __init__(self, find: Finder, limits: MissLimits | None = None) -> None:
        self._find = find
        self._limits = limits or MissLimits()
        self._tokens = float(self._limits.burst)
        self._refilled = time.monotonic()
        self._misses: OrderedDict[str, float] = OrderedDict()  # key hash -> expiry
        self._flights: dict[str, asyncio.Task[Found]] = {}

    def forget_misses(self) -> None:
        """After a reload: a key missing before may exist now."""
        self._misses.clear()

    async def find(self, key_hash: str) -> Found:
        """The caller of ``key_hash`` from the store, or None when unknown or over the limit.
        Raises what the store raises (the caller decides what an outage means)."""
        lookup = self._flights.get(key_hash)
        if lookup is not None:
            metrics.KEY_LOOKUPS["joined"].inc()
        else:
            now = time.monotonic()
            expiry = self._misses.get(key_hash)
            if expiry is not None:
                if expiry > now:
                    metrics.KEY_LOOKUPS["remembered_missing"].inc()
                    return None
                del self._misses[key_hash]
            if not self._take_token(now):
                metrics.KEY_LOOKUPS["limited"].inc()
                return None
            # A task of its own: a client that goes away does not cancel the others' answer.
            lookup = asyncio.create_task(self._lookup(key_hash), name="key-lookup")
            self._flights[key_hash] = lookup
            lookup.add_done_callback(lambda done: self._landed(key_hash, done))
        return await asyncio.shield(lookup)

    async def _lookup(self, key_hash: str) -> Found:
        try:
            found = await self._find(key_hash)
        except Exception:
            metrics.KEY_LOOKUPS["error"].inc()
            raise
        if found is None:
            metrics.KEY_LOOKUPS["missing"].inc()
            self._remember_miss(key_hash, time.monotonic())
        else:
            metrics.KEY_LOOKUPS["found"].inc()
        return found

    def _landed(self, key_hash: str, done: asyncio.Task[Found]) -> None:
        del self._flights[key_hash]
        if not done.cancelled():
            done.exception()  # retrieved here, in case every waiter has gone

    def _take_token(self, now: float) -> bool:
        limits = self._limits
        self._tokens = min(
            float(limits.burst), self._tokens + (now - self._refilled) * limits.rate_per_s
        )
        self._refilled = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True

    def _remember_miss(self, key_hash: str, now: float) -> None:
        self._misses[key_hash] = now + self._limits.negative_ttl_s
        while len(self._misses) > self._limits.negative_max:
            self._misses.popitem(last=False)


def bearer_key(authorization: str | None, anonymous_key: str) -> str | None:
    """The key of ``Authorization: Bearer <key>``; None when absent or the configured
    anonymous key (``PREVIEWGATE_ANONYMOUS_KEY``); 401 when malformed."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("Authorization must be 'Bearer <api key>'")
    if anonymous_key and token == anonymous_key:
        return None  # not a secret: SDKs that insist on a key may call anonymously with it
    return token
