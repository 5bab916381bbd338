"""Retention: wiping an experiment's prompt references and collecting unreferenced blobs.

Policy: experiment evidence follows the experiment's opt-in retention, not the account, so
soft-deleting a user keeps their attribution rows and blobs.  An operator removes an
experiment's prompts with ``wipe_prompts`` (hash columns become ``__deleted__``, or the
attribution rows are dropped; usage rows always stay) and then reclaims storage with
``gc_blobs``.

GC safety: a blob is deleted only if no attribution row references it in any hash column
*and* its last-modified time is older than the grace period.  The blob store refreshes an
object's modified time whenever a writer stores it again (see ``blobs.py``), so a blob that
a concurrent write is about to reference is young and kept.  Keys are checked in batches
(``IN`` lists over indexed hash columns, migration 0002), so memory stays bounded whatever
the store's size.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from previewgate.errors import NotFound
from previewgate.evidence import queries
from previewgate.evidence.blobs import BlobStore
from previewgate.experiments.models import Experiment
from previewgate.store.base import utcnow

GC_BATCH = 2000  # keys per reference check: a few thousand keeps IN lists cheap
GC_DELETE_CONCURRENCY = 16  # parallel deletes (S3 round trips)


@dataclass
class GcResult:
    scanned: int = 0
    deleted: int = 0
    kept_referenced: int = 0
    kept_young: int = 0


async def wipe_prompts(
    session: AsyncSession, experiment_id: uuid.UUID, *, drop_rows: bool = False
) -> int:
    """Set the experiment's hash columns to ``__deleted__`` (or delete its attribution rows
    with ``drop_rows``); return how many rows changed.  Idempotent: already wiped rows are
    not counted again.  Blobs are removed later by ``gc_blobs``."""
    if await session.get(Experiment, experiment_id) is None:
        raise NotFound(f"experiment {experiment_id} does not exist")
    if drop_rows:
        rows = await queries.delete_requests(session, experiment_id)
    else:
        rows = await queries.wipe_hashes(session, experiment_id)
    await session.flush()
    return rows


async def gc_blobs(
    session: AsyncSession, blobs: BlobStore, grace_s: float, *, now: datetime | None = None
) -> GcResult:
    """Delete every blob that no row references and whose age exceeds ``grace_s`` seconds.

    A negative grace treats every blob as old (tests).  Returns what was scanned, deleted
    and kept (and why).
    """
    result = GcResult()
    cutoff = (now or utcnow()) - timedelta(seconds=grace_s)
    batch: list[str] = []
    async for key, modified in blobs.iter_keys():
        result.scanned += 1
        if modified >= cutoff:
            result.kept_young += 1
            continue
        batch.append(key)
        if len(batch) >= GC_BATCH:
            await _sweep(session, blobs, batch, result)
            batch = []
    await _sweep(session, blobs, batch, result)
    return result


async def _sweep(
    session: AsyncSession, blobs: BlobStore, batch: list[str], result: GcResult
) -> None:
    referenced = await queries.referenced_keys(session, batch)
    result.kept_referenced += len(referenced)
    orphans = [key for key in batch if key not in referenced]
    for start in range(0, len(orphans), GC_DELETE_CONCURRENCY):
        chunk = orphans[start : start + GC_DELETE_CONCURRENCY]
        deleted = await asyncio.gather(*(blobs.delete(key) for key in chunk))
        result.deleted += sum(deleted)
