"""In-process routing state, refreshed beside the request path.

The cache holds one immutable Snapshot. It reloads when told to (the local
admin mutation calls ``refresh_now``; other processes hear a Redis pub/sub
message) and at least every TTL seconds, which bounds staleness when Redis is
absent or a message is lost. When reloads fail for longer than the TTL the
snapshot is *stale*: the gateway then fails closed for anything that might be
experimented (see ``resolve``).
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
from previewgate.gateway.snapshot import Snapshot

log = logging.getLogger(__name__)
CHANNEL = "previewgate:invalidate"

# Called with the monotonic time the load began: the state is at least that fresh.
Loader = Callable[[float], Awaitable[Snapshot]]


class RoutingCache:
    def __init__(self, loader: Loader, ttl_s: float, redis_url: str | None = None) -> None:
        self._loader = loader
        self._ttl_s = ttl_s
        self._redis_url = redis_url
        self._snapshot: Snapshot | None = None
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._redis: Redis | None = None
        self._lock = asyncio.Lock()
        self.generation = 0

    @property
    def snapshot(self) -> Snapshot | None:
        return self._snapshot

    def is_fresh(self, now: float | None = None) -> bool:
        snap = self._snapshot
        if snap is None:
            return False
        return (now if now is not None else time.monotonic()) - snap.loaded_at <= self._ttl_s

    async def start(self) -> None:
        with contextlib.suppress(Exception):
            await self.refresh_now()
        self._tasks.append(asyncio.create_task(self._refresh_loop(), name="routing-refresh"))
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
            self.generation += 1
            metrics.CACHE_RELOADS.inc()

    async def invalidate(self) -> None:
        """After an admin mutation commits: reload here, and tell every other process."""
        await self.refresh_now()
        await self.publish()

    async def publish(self) -> None:
        if not self._redis_url:
            return
        try:
            await self._client().publish(CHANNEL, b"1")
        except (RedisError, OSError) as exc:
            # Other processes catch up within the TTL.
            log.warning("routing invalidation not published: %s", type(exc).__name__)

    def _client(self) -> Redis:
        if self._redis is None:
            assert self._redis_url
            self._redis = Redis.from_url(
                self._redis_url, socket_connect_timeout=2, socket_timeout=5
            )
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
