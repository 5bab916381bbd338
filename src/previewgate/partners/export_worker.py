"""The export worker: follows new attribution rows, then exports each partner day once it
has ended.

Two steps, each its own transaction, so a worker killed at any point resumes where the
store says it was:

1. *follow*: read the attribution rows of partner-owned slots after the durable cursor,
   mark their (partner, UTC day) dirty and move the cursor, in one transaction;
2. *export*: claim one dirty day that ended more than ``settle_s`` ago (``SKIP LOCKED`` on
   PostgreSQL, so N workers share the days), export it (``Exporter.export_day`` writes
   the files, then replaces the day's index and clears the flag in one transaction).

A day exported and then reached by late rows (the usage writer lags by up to its linger)
turns dirty again and is exported again, whole: files are rewritten with their new content.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from previewgate.partners import export_queries as queries
from previewgate.partners.export import DayExport, Exporter
from previewgate.store.base import utcnow

log = logging.getLogger(__name__)
FOLLOW_BATCH = 5_000


class ExportWorker:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        exporter: Exporter,
        *,
        interval_s: float = 30.0,
        settle_s: float = 600.0,
    ) -> None:
        self._sessions = sessions
        self._exporter = exporter
        self._interval_s = interval_s
        self._settle_s = settle_s  # how long after midnight UTC a day is considered complete
        self._task: asyncio.Task[None] | None = None

    async def follow(self) -> int:
        """Mark the days of new attribution rows dirty; how many rows were read."""
        total = 0
        while True:
            async with self._sessions() as session, session.begin():
                cursor = await queries.cursor(session)
                after = (
                    (cursor.created_at, cursor.usage_id)
                    if cursor.created_at is not None and cursor.usage_id is not None
                    else None
                )
                rows = await queries.partner_days_after(session, after, FOLLOW_BATCH)
                if not rows:
                    return total
                days = {
                    (partner_id, created_at.astimezone(UTC).date())
                    for created_at, _, partner_id in rows
                }
                await queries.mark_dirty(session, days)
                cursor.created_at, cursor.usage_id = rows[-1][0], rows[-1][1]
                cursor.updated_at = utcnow()
            total += len(rows)

    async def export_pending(self, now: datetime | None = None) -> list[DayExport]:
        """Export every dirty day that has ended (and settled)."""
        before = ((now or utcnow()) - timedelta(seconds=self._settle_s)).astimezone(UTC).date()
        done: list[DayExport] = []
        while True:
            async with self._sessions() as session, session.begin():
                day = await queries.claim_dirty_day(session, before)
                if day is None:
                    return done
                # The row lock is held while the day is exported (another worker skips it)
                # and the new index commits with the claim.
                exported = await self._exporter.export_day(day.partner_id, day.day, session)
            await self._exporter.delete_stale(exported)
            done.append(exported)

    async def run_once(self) -> list[DayExport]:
        await self.follow()
        return await self.export_pending()

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="export-worker")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            try:
                for export in await self.run_once():
                    log.info(
                        "exported %d turns in %d files for partner %s, %s",
                        export.turns,
                        len(export.files),
                        export.partner_id,
                        export.day,
                    )
            except Exception as exc:
                log.warning("export pass failed: %s", type(exc).__name__, exc_info=exc)
            await asyncio.sleep(self._interval_s)
