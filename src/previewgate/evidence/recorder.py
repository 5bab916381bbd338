"""Turns finished experimented requests into blobs and attribution rows.

Runs inside the background writer after the usage rows have landed. Each side
(system prompt, rest of the request, response) independently gets its hash,
``__absent__`` or ``__failed__``: a failing blob store, or a capture that raises on
odd input, never stops the row nor the other rows of the batch.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from previewgate import metrics
from previewgate.evidence import queries
from previewgate.evidence.blobs import BlobStore, BlobStoreError
from previewgate.evidence.capture import capture_prompt
from previewgate.evidence.models import ABSENT, FAILED
from previewgate.formats import canonical_request
from previewgate.usage.events import AttributionEvent, UsageEvent

log = logging.getLogger(__name__)
# Blob writes in flight at once: overlaps round trips (S3) and fsyncs (folder).
BLOB_CONCURRENCY = 16
# A batch of big-context requests is captured and written in slices of about this many input
# bytes, one thread hop each, so the captured bytes held at once stay bounded.
SLICE_BYTES = 64 * 1024 * 1024
# Small requests are captured on the event loop, this many input bytes (~0.2 ms of work) between
# yields. A worker thread would hold the GIL for its whole slice, and the loop waits up to the
# interpreter's switch interval (5 ms) for it at each turn: the gateway's p99 at low load.
INLINE_BYTES = 8 * 1024
# Behind (more events waiting than this batch), runs are this long (~7 ms): under full load a
# short run per loop turn let the backlog grow without bound (bench/README.md, "Writer on
# PostgreSQL").
CATCH_UP_BYTES = 256 * 1024

# One side's evidence before the blob writes: bytes still to store, or already its final
# column value (ABSENT, or FAILED when capturing it raised).
Side = bytes | str
# (system prompt, rest of the request, response), was_truncated
Captured = tuple[tuple[Side, Side, Side], bool]


def _capture_failed(side: str, exc: Exception) -> str:
    # Counted like a failed write: the blob will never exist. Request content is client
    # data, so only the exception type is logged.
    metrics.BLOB_FAILURES.inc()
    log.warning("evidence capture failed (%s): %s", side, type(exc).__name__)
    return FAILED


def _capture(attribution: AttributionEvent, limit_bytes: int) -> Captured:
    system: Side
    rest: Side
    response: Side
    truncated = False
    try:
        body = attribution.upstream_body
        if attribution.upstream_format != "openai-chat":
            body = canonical_request(attribution.upstream_format, body)
        prompt = capture_prompt(body, limit_bytes)
    except Exception as exc:  # e.g. RecursionError on a body nested ~1000 deep
        system = rest = _capture_failed("prompt", exc)
    else:
        system = ABSENT if prompt.system is None else prompt.system
        rest = prompt.rest
        truncated = prompt.was_truncated
    answer = attribution.response
    try:
        captured = answer.finish(attribution.secrets) if answer is not None else None
    except Exception as exc:
        response = _capture_failed("response", exc)
    else:
        response = ABSENT if captured is None else captured.body
        truncated = truncated or (captured is not None and captured.was_truncated)
    return (system, rest, response), truncated


def _input_bytes(attribution: AttributionEvent) -> int:
    return attribution.upstream_bytes + attribution.response_bytes


def _is_small(attribution: AttributionEvent) -> bool:
    return _input_bytes(attribution) <= INLINE_BYTES


def _capture_run(
    attributions: Sequence[AttributionEvent], start: int, limit_bytes: int, budget: int
) -> list[Captured]:
    """Captures from ``start`` on, all small or all big as the first one is, until about
    ``budget`` input bytes (at least one capture)."""
    small = _is_small(attributions[start])
    out: list[Captured] = []
    for attribution in attributions[start:]:
        size = _input_bytes(attribution)
        if out and (size > budget or (size <= INLINE_BYTES) != small):
            break
        budget -= size
        out.append(_capture(attribution, limit_bytes))
    return out


class EvidenceRecorder:
    def __init__(self, blobs: BlobStore, limit_bytes: int) -> None:
        self._blobs = blobs
        self._limit = limit_bytes

    async def _store(self, data: bytes) -> str:
        try:
            return await self._blobs.put_if_absent(data)
        except (BlobStoreError, OSError) as exc:
            metrics.BLOB_FAILURES.inc()
            log.warning("blob write failed: %s", type(exc).__name__)
            return FAILED

    async def _store_all(self, payloads: list[bytes]) -> dict[bytes, str]:
        """Each payload's sha256 (or FAILED); a few writes in flight at once."""
        keys: dict[bytes, str] = {}
        pending = iter(payloads)

        async def drain() -> None:
            for data in pending:  # shared by all workers: each payload is taken once
                keys[data] = await self._store(data)

        count = min(BLOB_CONCURRENCY, len(payloads))
        if count <= 1:
            await drain()
            return keys
        workers = [asyncio.ensure_future(drain()) for _ in range(count)]
        try:
            await asyncio.gather(*workers)
        except BaseException:
            for worker in workers:
                worker.cancel()
            raise
        return keys

    async def rows_for(
        self, events: list[UsageEvent], *, behind: bool = False
    ) -> list[dict[str, Any]]:
        """Attribution rows for the attributed ``events``, in their order; blobs are written first.

        Each side's column is its blob's sha256, ABSENT, or FAILED (the store refused the
        write, or capturing that side raised). ``created_at`` is the usage row's.
        """
        attributed = [(e, e.attribution) for e in events if e.attribution is not None]
        attributions = [a for _, a in attributed]
        rows: list[dict[str, Any]] = []
        known: dict[bytes, str] = {}  # payload -> its column value, for this batch
        while len(rows) < len(attributed):
            start = len(rows)
            if _is_small(attributions[start]):
                budget = CATCH_UP_BYTES if behind else INLINE_BYTES
                part = _capture_run(attributions, start, self._limit, budget)
                await asyncio.sleep(0)  # let requests through between runs
            else:
                # Canonical JSON of multi-MiB bodies takes milliseconds: off the event loop,
                # in one thread hop per slice (a hop per row costs more than small work).
                part = await asyncio.to_thread(
                    _capture_run, attributions, start, self._limit, SLICE_BYTES
                )
            # The same system prompt recurs across a batch: write each distinct payload once.
            unique = dict.fromkeys(s for sides, _ in part for s in sides if isinstance(s, bytes))
            known.update(await self._store_all([s for s in unique if s not in known]))
            for (event, attribution), (sides, truncated) in zip(
                attributed[len(rows) :], part, strict=False
            ):
                system, rest, response = (known[s] if isinstance(s, bytes) else s for s in sides)
                rows.append(
                    {
                        "usage_id": event.id,
                        "variant_version_id": attribution.variant_version_id,
                        "allocation_subject": attribution.allocation_subject,
                        "client_request_id": attribution.client_request_id,
                        "system_prompt_sha256": system,
                        "request_body_sha256": rest,
                        "response_sha256": response,
                        "was_truncated": truncated,
                        "request_kind": attribution.request_kind,
                        # Identical to the usage row's, by construction: one value travels both.
                        "created_at": event.created_at,
                    }
                )
            for payload in unique:  # small ones recur (system prompts); big ones go now
                if len(payload) > INLINE_BYTES:
                    del known[payload]
        return rows

    async def insert(self, session: AsyncSession, rows: list[dict[str, Any]]) -> None:
        await queries.insert_requests(session, rows)
