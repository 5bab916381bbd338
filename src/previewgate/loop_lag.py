"""How late the event loop runs what is due: the scheduling delay, sampled every few ms.

A task asks to wake after ``interval_s`` and records how much later than that it ran.
Anything that holds the loop (a CPU-heavy batch, a blocking call) shows up as lag, for
every request waiting on the same loop. Exported on ``/metrics`` as a histogram, so
stalls are visible in production and per benchmark cell (``bench/overhead.py`` reads
the buckets before and after each cell).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from previewgate import metrics

log = logging.getLogger(__name__)


class LoopLagMonitor:
    def __init__(self, interval_s: float = 0.005) -> None:
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None
        self.worst_s = 0.0  # since start, for logs and tests

    def start(self) -> LoopLagMonitor:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="loop-lag")
        return self

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        observe = metrics.LOOP_LAG.observe
        while True:
            due = loop.time() + self._interval_s
            await asyncio.sleep(self._interval_s)
            lag = max(loop.time() - due, 0.0)
            observe(lag)
            if lag > self.worst_s:
                self.worst_s = lag

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
