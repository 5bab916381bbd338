"""A multi-megabyte export file streams: neither the gateway nor the client side of this
test ever holds it. The peak of Python allocations (every thread: the gateway runs in
this process) stays a small constant while 64 MiB pass through."""

from __future__ import annotations

import hashlib
import os
import tracemalloc
import uuid
from datetime import date
from pathlib import Path

import httpx

from previewgate.partners.models import ExportFile
from previewgate.runtime import Runtime
from tests.support.portal_world import World

SIZE = 64 * 1024 * 1024
PEAK_LIMIT = 8 * 1024 * 1024


def _write_file(root: Path, key: str) -> str:
    """The file written to the blob folder piece by piece, as the exporter would; its sha256."""
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with path.open("wb") as out:
        for _ in range(SIZE // (1024 * 1024)):
            piece = os.urandom(1024 * 1024)
            digest.update(piece)
            out.write(piece)
    return digest.hexdigest()


async def _add_row(runtime: Runtime, partner_id: str, key: str, sha256: str) -> str:
    async with runtime.sessions() as session, session.begin():
        row = ExportFile(
            partner_id=uuid.UUID(partner_id),
            day=date(2026, 11, 29),
            kind="traces",
            session_hash=sha256,
            object_key=key,
            bytes=SIZE,
            records=1,
            sha256=sha256,
            redactor_version="test",
        )
        session.add(row)
        await session.flush()
        return str(row.id)


def test_a_large_download_streams_in_constant_memory(world: World) -> None:
    gateway, a = world.gateway, world.alpha
    root = Path(gateway.settings.blob_url.removeprefix("file://"))
    key = f"partner/{a.id}/traces/2026-11-29/big.jsonl.gz"
    sha256 = _write_file(root, key)
    file_id = gateway.call(lambda rt: _add_row(rt, a.id, key, sha256))
    url = f"{gateway.base_url}/partner/api/exports/{file_id}/download"
    headers = {"authorization": f"Bearer {a.viewer_key}"}
    received = hashlib.sha256()
    size = 0
    tracemalloc.start()
    try:
        with httpx.stream("GET", url, headers=headers, timeout=60) as r:
            assert r.status_code == 200
            for chunk in r.iter_raw():
                received.update(chunk)
                size += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size == SIZE and received.hexdigest() == sha256
    print(f"64 MiB download: peak Python allocations {peak / 2**20:.1f} MiB")
    assert peak < PEAK_LIMIT, peak
    # A range from the middle streams the same way.
    middle = {"range": f"bytes={SIZE // 2}-{SIZE // 2 + 999}"} | headers
    part = httpx.get(url, headers=middle, timeout=60)
    assert part.status_code == 206 and len(part.content) == 1000
