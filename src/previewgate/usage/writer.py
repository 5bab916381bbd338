"""The background writer: batches usage rows, then attribution rows, off the request path.

``submit`` is synchronous and O(1) for the request path. A failing store is
retried with capped exponential backoff while events stay buffered; past the
bound, the oldest events are dropped and counted in ``/metrics``. Attribution
failures are counted and logged; they never roll back usage rows.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy import case, insert, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from previewgate import metrics
from previewgate.accounts.models import User
from previewgate.usage.events import UsageEvent
from previewgate.usage.models import Usage

log = logging.getLogger(__name__)

# Writes the experiment evidence (blobs + attribution rows) for events whose usage rows landed.
EvidenceWriter = Callable[[AsyncSession, Sequence[UsageEvent]], Awaitable[int]]


class UsageWriter:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        evidence: EvidenceWriter | None,
        *,
        batch_size: int = 500,
        max_buffer: int = 100_000,
        max_backoff_s: float = 5.0,
    ) -> None:
        self._sessions = sessions
        self._evidence = evidence
        self._batch_size = batch_size
        self._buffer: collections.deque[UsageEvent] = collections.deque()
        self._max_buffer = max_buffer
        self._max_backoff_s = max_backoff_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self.dropped = 0

    def submit(self, event: UsageEvent) -> None:
        if len(self._buffer) >= self._max_buffer:
            self._buffer.popleft()
            self.dropped += 1
            metrics.WRITER_DROPPED.inc()
            log.error("usage buffer full (%d); dropped the oldest event", self._max_buffer)
        self._buffer.append(event)
        metrics.WRITER_QUEUE.set(len(self._buffer))
        self._idle.clear()
        self._wake.set()

    @property
    def depth(self) -> int:
        return len(self._buffer)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="usage-writer")

    async def flush(self) -> None:
        """Wait until everything submitted so far is written (tests, shutdown)."""
        self._wake.set()
        await self._idle.wait()

    async def stop(self, timeout_s: float = 30.0) -> None:
        """Drain what is buffered (bounded by ``timeout_s``), then stop."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.flush(), timeout_s)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._buffer:
            log.error("writer stopped with %d unwritten events", len(self._buffer))

    async def _run(self) -> None:
        backoff = 0.05
        while True:
            if not self._buffer:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            batch = [self._buffer[i] for i in range(min(self._batch_size, len(self._buffer)))]
            try:
                await self._write_usage(batch)
            except Exception as exc:
                metrics.WRITER_FAILURES.inc()
                log.warning(
                    "usage write failed (%s); retrying in %.2fs", type(exc).__name__, backoff
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff_s)
                continue
            backoff = 0.05
            for _ in batch:
                # Events may have been dropped from the left while we wrote; pop what we wrote.
                if self._buffer and self._buffer[0] is _:
                    self._buffer.popleft()
                else:
                    with contextlib.suppress(ValueError):
                        self._buffer.remove(_)
            metrics.WRITER_QUEUE.set(len(self._buffer))
            await self._write_evidence(batch)

    async def _write_usage(self, batch: list[UsageEvent]) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(insert(Usage), [e.usage_row() for e in batch])
            charges: dict[object, int] = collections.defaultdict(int)
            for event in batch:
                if event.user_id is not None and event.cost_microusd:
                    charges[event.user_id] += event.cost_microusd
            if charges:
                await session.execute(
                    update(User)
                    .where(User.id.in_(list(charges)))
                    .values(
                        balance_microusd=User.balance_microusd
                        - case(charges, value=User.id, else_=0)
                    )
                )
        metrics.WRITER_WRITTEN.labels("usage").inc(len(batch))

    async def _write_evidence(self, batch: list[UsageEvent]) -> None:
        experimented = [e for e in batch if e.attribution is not None]
        if not experimented or self._evidence is None:
            return
        for attempt in range(3):
            try:
                async with self._sessions() as session, session.begin():
                    written = await self._evidence(session, experimented)
                metrics.WRITER_WRITTEN.labels("model_experiment_request").inc(written)
                return
            except Exception as exc:
                log.warning(
                    "attribution write failed (%s), attempt %d", type(exc).__name__, attempt + 1
                )
                await asyncio.sleep(0.1 * 2**attempt)
        metrics.ATTRIBUTION_FAILURES.inc(len(experimented))
        log.error("dropped %d attribution rows after retries", len(experimented))
