"""The request browser and prompt lookup behind the admin API.

Pages are keyset-paginated newest first on ``(created_at, usage_id)``; the cursor is an
opaque URL-safe string carrying the last row's key, so pages stay stable while new requests
arrive.  Rows carry usage fields and prompt/response hashes, never key material.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from previewgate.errors import NotFound, ServiceUnavailable, Unprocessable
from previewgate.evidence.blobs import BlobStore, BlobStoreError, is_key
from previewgate.reporting import queries

MAX_PAGE = 200


def encode_cursor(created_at: datetime, usage_id: uuid.UUID) -> str:
    raw = json.dumps([created_at.isoformat(), str(usage_id)], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """Inverse of ``encode_cursor``; Unprocessable for anything it did not produce."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, usage_id = json.loads(raw)
        parsed = datetime.fromisoformat(at)
        if parsed.tzinfo is None:
            raise ValueError("naive timestamp")
        return parsed, uuid.UUID(usage_id)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise Unprocessable("cursor is not one this API returned") from exc


def _json_value(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


async def browse_requests(
    session: AsyncSession,
    experiment_id: uuid.UUID,
    *,
    cursor: str | None = None,
    limit: int = 50,
    variant_version_id: uuid.UUID | None = None,
    has_error: bool | None = None,
) -> dict[str, Any]:
    """One page: ``{"data": [row...], "next_cursor": str | None}``."""
    if not 1 <= limit <= MAX_PAGE:
        raise Unprocessable(f"limit must be between 1 and {MAX_PAGE}")
    before = decode_cursor(cursor) if cursor else None
    experiment = await queries.load_experiment(session, experiment_id)
    version_ids = [version.id for variant in experiment.variants for version in variant.versions]
    if variant_version_id is not None:
        if variant_version_id not in version_ids:
            raise NotFound(f"version {variant_version_id} is not part of this experiment")
        version_ids = [variant_version_id]
    rows = await queries.request_page(
        session, version_ids, before=before, limit=limit + 1, has_error=has_error
    )
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        next_cursor = encode_cursor(last["created_at"], last["usage_id"])
    return {
        "data": [{key: _json_value(value) for key, value in row.items()} for row in page],
        "next_cursor": next_cursor,
    }


async def read_prompt(blobs: BlobStore, sha256: str) -> bytes:
    """The stored bytes of a prompt/response blob.

    Only 64 lowercase hex characters reach the store: sentinels (``__absent__``...), other
    spellings and path-like input are refused with 422 before any I/O.
    """
    if not is_key(sha256):
        raise Unprocessable(
            "a prompt key is 64 lowercase hex characters; sentinels such as __absent__ "
            "or __deleted__ have no stored object"
        )
    try:
        data = await blobs.get(sha256)
    except BlobStoreError as exc:
        raise ServiceUnavailable("the blob store is unavailable") from exc
    if data is None:
        raise NotFound(f"no stored object {sha256}")
    return data
