"""Turns finished experimented requests into blobs and attribution rows.

Runs inside the background writer after the usage rows have landed. Each side
(system prompt, rest of the request, response) independently gets its hash,
``__absent__`` or ``__failed__``: a failing blob store never stops the row.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

from previewgate import metrics
from previewgate.evidence.blobs import BlobStore, BlobStoreError
from previewgate.evidence.capture import capture_prompt
from previewgate.evidence.models import ABSENT, FAILED, ExperimentRequest
from previewgate.evidence.sse_assembly import ResponseAssembler
from previewgate.usage.events import UsageEvent

log = logging.getLogger(__name__)
# Blob writes in flight at once: overlaps round trips (S3) and fsyncs (folder).
BLOB_CONCURRENCY = 16


def assemble_response(
    chunks: Sequence[bytes], streamed: bool, limit_bytes: int
) -> tuple[bytes | None, bool]:
    """The assembled response (text, tool calls, finish reason, usage) as canonical JSON."""
    if not chunks:
        return None, False
    assembler = ResponseAssembler(limit_bytes)
    # An upstream error answers a stream request with a plain JSON body.
    if streamed and not chunks[0].lstrip().startswith(b"{"):
        for chunk in chunks:
            assembler.feed(chunk)
    else:
        assembler.feed_json(b"".join(chunks))
    captured = assembler.finish()
    if captured is None:
        return None, False
    return captured.body, captured.was_truncated


class EvidenceRecorder:
    def __init__(self, blobs: BlobStore, limit_bytes: int) -> None:
        self._blobs = blobs
        self._limit = limit_bytes

    async def _store(self, data: bytes | None) -> str:
        if data is None:
            return ABSENT
        try:
            return await self._blobs.put_if_absent(data)
        except (BlobStoreError, OSError) as exc:
            metrics.BLOB_FAILURES.inc()
            log.warning("blob write failed: %s", type(exc).__name__)
            return FAILED

    async def row_for(self, event: UsageEvent) -> dict[str, Any]:
        attribution = event.attribution
        assert attribution is not None
        # Canonical JSON of multi-MiB bodies takes milliseconds: keep it off the event loop.
        prompt = await asyncio.to_thread(capture_prompt, attribution.upstream_body, self._limit)
        response, response_truncated = await asyncio.to_thread(
            assemble_response, attribution.response_chunks, attribution.streamed, self._limit
        )
        return {
            "usage_id": event.id,
            "variant_version_id": attribution.variant_version_id,
            "allocation_subject": attribution.allocation_subject,
            "client_request_id": attribution.client_request_id,
            "system_prompt_sha256": await self._store(prompt.system),
            "request_body_sha256": await self._store(prompt.rest),
            "response_sha256": await self._store(response),
            "was_truncated": prompt.was_truncated or response_truncated,
            # Identical to the usage row's, by construction: one value travels both.
            "created_at": event.created_at,
        }

    async def rows_for(self, events: list[UsageEvent]) -> list[dict[str, Any]]:
        """Attribution rows for ``events``; their blobs are written, a few at a time."""
        limit = asyncio.Semaphore(BLOB_CONCURRENCY)

        async def bounded(event: UsageEvent) -> dict[str, Any]:
            async with limit:
                return await self.row_for(event)

        return list(await asyncio.gather(*(bounded(e) for e in events if e.attribution)))

    async def insert(self, session: AsyncSession, rows: list[dict[str, Any]]) -> None:
        if rows:
            await session.execute(insert(cast(Table, ExperimentRequest.__table__)), rows)
