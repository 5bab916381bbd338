"""In-process routing state, refreshed beside the request path.

The cache holds one Snapshot and swaps it whole. It reloads

* at once after a change made in this process (``changed``);
* within milliseconds of a change elsewhere, when Redis is configured (pub/sub);
* within ``poll_s`` of a change anywhere, by reading the store's routing generation (one
  primary-key read per poll), so propagation needs nothing but the store;
* at least every TTL/3 seconds, the safety net for anything missed.

When reloads fail for longer than the TTL the snapshot is *stale*: the gateway then fails
closed for anything that might be experimented (see ``gateway.resolve``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from previewgate import metrics
from previewgate.crypto import hash_api_key
from previewgate.errors import ServiceUnavailable, Unauthorized
from previewgate.routing.keys import Finder, FirstSeenKeys, MissLimits, bearer_key
from previewgate.routing.snapshot import Caller, Snapshot

log = logging.getLogger(__name__)
CHANNEL = "previewgate:invalidate"

# Called with the monotonic time the load began: the state is at least that fresh.
Loader = Callable[[float], Awaitable[Snapshot]]
GenerationReader = Callable[[], Awaitable[int]]


async def publish_change(redis: Redis) -> None:
    """Tell every gateway process listening on Redis that routing state changed."""
    try:
        await redis.publish(CHANNEL, b"1")
    except (RedisError, OSError) as exc:
        # Other processes catch up at their next generation poll.
        log.warning("routing change not published: %s", type(exc).__name__)


def redis_client(url: str) -> Redis:
    return Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)


class RoutingCache:
    def __init__(
        self,
        loader: Loader,
        ttl_s: float,
        *,
        read_generation: GenerationReader,
        find_key: Finder,
        poll_s: float = 1.0,
        redis_url: str | None = None,
        miss_limits: MissLimits | None = None,
    ) -> None:
        self._loader = loader
        self._ttl_s = ttl_s
        self._read_generation = read_generation
        self._poll_s = poll_s
        self._redis_url = redis_url
        self._keys = FirstSeenKeys(find_key, miss_limits)
        self._snapshot: Snapshot | None = None
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._redis: Redis | None = None
        self._lock = asyncio.Lock()

    @property
    def snapshot(self) -> Snapshot | None:
        return self._snapshot

    def is_fresh(self, now: float | None = None) -> bool:
        snap = self._snapshot
        if snap is None:
            return False
        return (now if now is not None else time.monotonic()) - snap.loaded_at <= self._ttl_s

    async def caller(self, authorization: str | None, anonymous_key: str) -> Caller | None:
        """The caller of ``Authorization: Bearer <key>``: None when anonymous, 401 when the
        key is not live. A key the snapshot lacks is checked in the store (``routing.keys``)."""
        key = bearer_key(authorization, anonymous_key)
        if key is None:
            return None
        # A dict lookup by sha256 digest: the secret itself is never compared byte by byte.
        key_hash = hash_api_key(key)
        snapshot = self._snapshot
        if snapshot is not None:
            known = snapshot.callers.get(key_hash)
            if known is not None:
                return known
        try:
            found = await self._keys.find(key_hash)
        except Exception as exc:
            log.warning("API key lookup failed: %s", type(exc).__name__)
            raise ServiceUnavailable("cannot check this API key right now") from exc
        if found is None:
            raise Unauthorized("invalid API key")
        caller, funded = found
        # Kept only in the snapshot the lookup began with: a reload since then may have
        # seen the key revoked (and will have it otherwise).
        if snapshot is not None and snapshot is self._snapshot:
            snapshot.callers[key_hash] = caller
            if funded:
                snapshot.funded_users.add(caller.user_id)
        return caller

    async def start(self) -> None:
        with contextlib.suppress(Exception):
            await self.refresh_now()
        self._tasks.append(asyncio.create_task(self._refresh_loop(), name="routing-refresh"))
        self._tasks.append(asyncio.create_task(self._poll_loop(), name="routing-poll"))
        if self._redis_url:
            self._tasks.append(asyncio.create_task(self._listen_loop(), name="routing-listen"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self._redis is not None:
            with contextlib.suppress(Exception):
                await self._redis.aclose()

    async def refresh_now(self) -> None:
        """Reload from the store; raises if the store fails (the old snapshot stays)."""
        async with self._lock:
            started = time.monotonic()
            try:
                snapshot = await self._loader(started)
            except Exception:
                metrics.CACHE_RELOAD_FAILURES.inc()
                raise
            self._snapshot = snapshot
            self._keys.forget_misses()
            metrics.CACHE_RELOADS.inc()

    async def changed(self) -> None:
        """After a routing change committed here: reload here, and tell every other process."""
        try:
            await self.refresh_now()
        except Exception as exc:  # committed all the same; the next poll retries the load
            log.warning("routing state reload after a change failed: %s", type(exc).__name__)
            self._wake.set()
        if self._redis_url:
            await publish_change(self._client())

    def _client(self) -> Redis:
        if self._redis is None:
            assert self._redis_url
            self._redis = redis_client(self._redis_url)
        return self._redis

    async def _refresh_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                # Reload well within the TTL so a healthy store never lets it lapse.
                await asyncio.wait_for(self._wake.wait(), timeout=self._ttl_s / 3)
            self._wake.clear()
            try:
                await self.refresh_now()
            except Exception as exc:
                log.warning("routing state reload failed: %s", type(exc).__name__)
                # Retry soon rather than after a full period.
                await asyncio.sleep(min(1.0, self._ttl_s / 10))
                self._wake.set()

    async def _poll_loop(self) -> None:
        while True:
            await asyncio.sleep(self._poll_s)
            snapshot = self._snapshot
            try:
                generation = await self._read_generation()
            except Exception as exc:  # the refresh loop reports a store that stays down
                log.debug("routing generation poll failed: %s", type(exc).__name__)
                continue
            metrics.ROUTING_GENERATION_POLLS.inc()
            if snapshot is None or generation != snapshot.generation:
                self._wake.set()

    async def _listen_loop(self) -> None:
        backoff = 0.2
        while True:
            pubsub = None
            try:
                pubsub = self._client().pubsub()
                await pubsub.subscribe(CHANNEL)
                # Messages may have been missed while disconnected.
                self._wake.set()
                backoff = 0.2
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        metrics.CACHE_INVALIDATIONS.inc()
                        self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("redis subscription lost (%s); retrying", type(exc).__name__)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                if pubsub is not None:
                    with contextlib.suppress(Exception):
                        await pubsub.aclose()  # type: ignore[no-untyped-call]
