"""The background writer: usage rows, then experiment evidence, off the request path.

``submit`` is synchronous and O(1) for the request path. Two loops run beside it:

- the usage loop batches usage rows (lingering briefly so low traffic still batches);
- the evidence loop turns the events whose usage rows landed into blobs and attribution
  rows, so slow blob I/O never holds usage rows back.

A failing store is retried with capped exponential backoff while events stay buffered;
past the bound, new events are dropped and counted in ``/metrics``. A usage row the store
refuses while it is up (a value its column rejects) is isolated and dropped after three
tries, also counted, so it never blocks the rows behind it. Attribution failures are
counted and logged; they never roll back usage rows.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, cast

from sqlalchemy import Table, insert, text
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from previewgate import metrics
from previewgate.accounts import queries as accounts
from previewgate.routing.generation import bump_generation
from previewgate.usage.events import UsageEvent
from previewgate.usage.models import Usage

log = logging.getLogger(__name__)
TRANSIENT = (OperationalError, InterfaceError, OSError, TimeoutError)


class EvidenceSink(Protocol):
    """Turns experimented events into attribution rows (writing their blobs on the way)."""

    async def rows_for(
        self, events: list[UsageEvent], *, behind: bool = False
    ) -> list[dict[str, Any]]: ...

    async def insert(self, session: AsyncSession, rows: list[dict[str, Any]]) -> None: ...


class UsageWriter:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        evidence: EvidenceSink | None,
        *,
        batch_size: int = 500,
        max_buffer: int = 100_000,
        max_backoff_s: float = 5.0,
        linger_s: float = 0.25,
        routing_changed: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._sessions = sessions
        # Told when a charge empties a balance: the user is no longer funded.
        self._routing_changed = routing_changed
        self._evidence = evidence
        self._batch_size = batch_size
        self._max_buffer = max_buffer
        self._max_backoff_s = max_backoff_s
        # Wait this long for a batch to fill: one transaction per request would cost more
        # CPU than the request itself at low concurrency.
        self._linger_s = linger_s
        self._buffer: collections.deque[UsageEvent] = collections.deque()
        self._evidence_buffer: collections.deque[UsageEvent] = collections.deque()
        self._usage_wake = asyncio.Event()
        self._evidence_wake = asyncio.Event()
        self._urgent = asyncio.Event()
        self._usage_idle = asyncio.Event()
        self._evidence_idle = asyncio.Event()
        self._usage_idle.set()
        self._evidence_idle.set()
        self._tasks: list[asyncio.Task[None]] = []
        self._evidence_failures = 0
        self._suspects = 0  # rows of a refused batch still to be written one by one
        self._poison_attempts = 0
        self.dropped = 0

    def submit(self, event: UsageEvent) -> None:
        if self.depth >= self._max_buffer:
            # Drop the newest: the oldest may be part of a batch being written right now.
            self._drop(1, "usage buffer full")
            return
        self._buffer.append(event)
        metrics.WRITER_QUEUE.set(self.depth)
        self._usage_idle.clear()
        self._usage_wake.set()
        if len(self._buffer) >= self._batch_size:
            self._urgent.set()

    @property
    def depth(self) -> int:
        return len(self._buffer) + len(self._evidence_buffer)

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._usage_loop(), name="usage-writer"),
            asyncio.create_task(self._evidence_loop(), name="evidence-writer"),
        ]

    async def flush(self) -> None:
        """Wait until everything submitted so far is written (tests, shutdown)."""
        self._urgent.set()
        self._usage_wake.set()
        await self._usage_idle.wait()
        # The usage loop hands events over before it goes idle, so this sees them.
        await self._evidence_idle.wait()

    async def stop(self, timeout_s: float = 30.0) -> None:
        """Drain what is buffered (bounded by ``timeout_s``), then stop."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.flush(), timeout_s)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.depth:
            self._drop(self.depth, "writer stopped before the store took them")

    def _drop(self, count: int, why: str) -> None:
        self.dropped += count
        metrics.WRITER_DROPPED.inc(count)
        log.error("dropped %d usage event(s): %s", count, why)

    async def _run(
        self,
        pending: collections.deque[UsageEvent],
        wake: asyncio.Event,
        idle: asyncio.Event,
        drain: Callable[[], Awaitable[None]],
        linger: bool,
    ) -> None:
        backoff = 0.05
        while True:
            if not pending:
                idle.set()
                wake.clear()
                await wake.wait()
                if linger and not self._urgent.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._urgent.wait(), self._linger_s)
                self._urgent.clear()
                continue
            try:
                await drain()
            except Exception as exc:
                metrics.WRITER_FAILURES.inc()
                log.warning("write failed (%s); retrying in %.2fs", type(exc).__name__, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff_s)
                continue
            backoff = 0.05

    async def _usage_loop(self) -> None:
        await self._run(self._buffer, self._usage_wake, self._usage_idle, self._drain_usage, True)

    async def _evidence_loop(self) -> None:
        await self._run(
            self._evidence_buffer,
            self._evidence_wake,
            self._evidence_idle,
            self._drain_evidence,
            False,
        )

    async def _drain_usage(self) -> None:
        # After a refused batch, rows go one at a time until that batch is through.
        size = 1 if self._suspects else self._batch_size
        batch = [self._buffer[i] for i in range(min(size, len(self._buffer)))]
        try:
            await self._write_usage(batch)
        except Exception as exc:
            if not await self._store_alive():
                raise  # an outage: keep everything and retry with backoff
            self._refused(batch, exc)
            return
        self._poison_attempts = 0
        self._suspects = max(0, self._suspects - len(batch))
        for _ in batch:
            self._buffer.popleft()
        experimented = [e for e in batch if e.attribution is not None]
        if self._evidence is not None and experimented:
            self._evidence_buffer.extend(experimented)
            self._evidence_idle.clear()
            self._evidence_wake.set()
        metrics.WRITER_QUEUE.set(self.depth)

    def _refused(self, batch: list[UsageEvent], exc: Exception) -> None:
        """The store is up but refused ``batch``: isolate the bad row instead of retrying forever.

        One bad row (e.g. a value the column type rejects) must not block every row behind
        it. The batch is retried row by row; a single row refused three times is dropped and
        counted in ``previewgate_writer_dropped_total``.
        """
        metrics.WRITER_FAILURES.inc()
        if len(batch) > 1:
            self._suspects = len(batch)
            log.warning("store refused a batch (%s); writing it row by row", type(exc).__name__)
            return
        self._poison_attempts += 1
        if self._poison_attempts < 3:
            return
        self._poison_attempts = 0
        self._suspects = max(0, self._suspects - 1)
        self._buffer.popleft()
        # The row's values come from clients: log the error type only.
        self._drop(1, f"the store refuses the row ({type(exc).__name__})")

    async def _store_alive(self) -> bool:
        try:
            async with self._sessions() as session:
                await session.execute(text("select 1"))
        except Exception:
            return False
        return True

    async def _drain_evidence(self) -> None:
        """Attribution after usage; transient store errors retry, data errors drop the batch."""
        assert self._evidence is not None
        count = min(self._batch_size, len(self._evidence_buffer))
        batch = [self._evidence_buffer[i] for i in range(count)]
        # Blobs first, outside any transaction: no connection is held during blob I/O.
        # More waiting than this batch: the recorder takes longer turns on the event loop.
        rows = await self._evidence.rows_for(batch, behind=len(self._evidence_buffer) > count)
        try:
            async with self._sessions() as session, session.begin():
                await self._evidence.insert(session, rows)
        except TRANSIENT:
            raise
        except Exception as exc:
            self._evidence_failures += 1
            if self._evidence_failures < 3:
                raise
            metrics.ATTRIBUTION_FAILURES.inc(len(batch))
            log.error("dropped %d attribution rows: %s", len(batch), type(exc).__name__)
            rows = []
        self._evidence_failures = 0
        for _ in batch:
            self._evidence_buffer.popleft()
        metrics.WRITER_WRITTEN.labels("model_experiment_request").inc(len(rows))
        metrics.WRITER_QUEUE.set(self.depth)

    async def _write_usage(self, batch: list[UsageEvent]) -> None:
        async with self._sessions() as session, session.begin():
            # Core, not the ORM bulk path: the ORM layer costs CPU on the event loop per row.
            await session.execute(
                insert(cast(Table, Usage.__table__)), [e.usage_row() for e in batch]
            )
            charges: dict[uuid.UUID, int] = collections.defaultdict(int)
            for event in batch:
                if event.user_id is not None and event.cost_microusd:
                    charges[event.user_id] += event.cost_microusd
            emptied = bool(charges) and await accounts.charge_balances(session, charges)
            if emptied:
                # Funding decides routes: the charge is a routing change like any other.
                await bump_generation(session)
        if emptied and self._routing_changed is not None:
            await self._routing_changed()
        metrics.WRITER_WRITTEN.labels("usage").inc(len(batch))
