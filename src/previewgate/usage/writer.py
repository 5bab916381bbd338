"""The background writer: batches usage rows, then attribution rows, off the request path.

``submit`` is synchronous and O(1) for the request path. A failing store is
retried with capped exponential backoff while events stay buffered; past the
bound, new events are dropped and counted in ``/metrics``. Attribution
failures are counted and logged; they never roll back usage rows.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy import case, insert, update
from sqlalchemy.exc import InterfaceError, OperationalError
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
        linger_s: float = 0.05,
    ) -> None:
        self._sessions = sessions
        self._evidence = evidence
        self._batch_size = batch_size
        self._buffer: collections.deque[UsageEvent] = collections.deque()
        self._max_buffer = max_buffer
        self._max_backoff_s = max_backoff_s
        self._wake = asyncio.Event()
        # Wait this long for a batch to fill: one transaction per request would cost more
        # CPU than the request itself at low concurrency.
        self._linger_s = linger_s
        self._urgent = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self._evidence_buffer: collections.deque[UsageEvent] = collections.deque()
        self._evidence_failures = 0
        self.dropped = 0

    def submit(self, event: UsageEvent) -> None:
        if len(self._buffer) + len(self._evidence_buffer) >= self._max_buffer:
            # Drop the newest: the oldest may be part of a batch being written right now.
            self.dropped += 1
            metrics.WRITER_DROPPED.inc()
            log.error("usage buffer full (%d); dropped an event", self._max_buffer)
            return
        self._buffer.append(event)
        metrics.WRITER_QUEUE.set(len(self._buffer))
        self._idle.clear()
        self._wake.set()
        if len(self._buffer) >= self._batch_size:
            self._urgent.set()

    @property
    def depth(self) -> int:
        return len(self._buffer) + len(self._evidence_buffer)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="usage-writer")

    async def flush(self) -> None:
        """Wait until everything submitted so far is written (tests, shutdown)."""
        self._urgent.set()
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
        if self._buffer or self._evidence_buffer:
            log.error(
                "writer stopped with %d unwritten events",
                len(self._buffer) + len(self._evidence_buffer),
            )

    async def _run(self) -> None:
        backoff = 0.05
        while True:
            if not self._buffer and not self._evidence_buffer:
                self._idle.set()
                self._wake.clear()
                self._urgent.clear()
                await self._wake.wait()
                if not self._urgent.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._urgent.wait(), self._linger_s)
                continue
            try:
                if self._buffer:
                    await self._drain_usage()
                if self._evidence_buffer:
                    await self._drain_evidence()
            except Exception as exc:
                metrics.WRITER_FAILURES.inc()
                log.warning("write failed (%s); retrying in %.2fs", type(exc).__name__, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff_s)
                continue
            backoff = 0.05

    async def _drain_usage(self) -> None:
        batch = [self._buffer[i] for i in range(min(self._batch_size, len(self._buffer)))]
        await self._write_usage(batch)
        for _ in batch:
            self._buffer.popleft()
        metrics.WRITER_QUEUE.set(len(self._buffer))
        if self._evidence is not None:
            self._evidence_buffer.extend(e for e in batch if e.attribution is not None)

    async def _drain_evidence(self) -> None:
        """Attribution after usage; transient store errors retry, data errors drop the batch."""
        assert self._evidence is not None
        count = min(self._batch_size, len(self._evidence_buffer))
        batch = [self._evidence_buffer[i] for i in range(count)]
        try:
            async with self._sessions() as session, session.begin():
                written = await self._evidence(session, batch)
        except (OperationalError, InterfaceError, OSError, TimeoutError):
            raise
        except Exception as exc:
            self._evidence_failures += 1
            if self._evidence_failures < 3:
                raise
            metrics.ATTRIBUTION_FAILURES.inc(len(batch))
            log.error("dropped %d attribution rows: %s", len(batch), type(exc).__name__)
            written = 0
        self._evidence_failures = 0
        for _ in batch:
            self._evidence_buffer.popleft()
        metrics.WRITER_WRITTEN.labels("model_experiment_request").inc(written)

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
