"""An export file as a download: streamed from the blob store, one byte range at a time.

The response never holds the file: the blob store yields chunks of ``READ_CHUNK`` bytes
as the client reads them. ``Range`` (one range) answers 206 with ``Content-Range``;
``If-Range`` with a stale ETag sends the whole file; the ETag is the file's sha256.
"""

from __future__ import annotations

import posixpath

from fastapi import Request, Response
from fastapi.responses import StreamingResponse

from previewgate.errors import NotFound
from previewgate.evidence.blobs import BlobStore
from previewgate.http_range import RangeNotSatisfiable, byte_range
from previewgate.partners.models import ExportFile


def file_name(file: ExportFile) -> str:
    return f"{file.day.isoformat()}-{posixpath.basename(file.object_key)}"


async def download(request: Request, blobs: BlobStore, file: ExportFile) -> Response:
    size = file.bytes
    etag = f'"{file.sha256}"'
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": etag,
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": f'attachment; filename="{file_name(file)}"',
    }
    if_range = request.headers.get("if-range")
    try:
        wanted = (
            byte_range(request.headers.get("range"), size) if if_range in (None, etag) else None
        )
    except RangeNotSatisfiable:
        return Response(status_code=416, headers=headers | {"Content-Range": f"bytes */{size}"})
    start, length = wanted or (0, size)
    chunks = await blobs.read_named(file.object_key, start, length)
    if chunks is None:
        raise NotFound(
            "this export file is no longer in the blob store; it is rebuilt on the next export"
        )
    headers["Content-Length"] = str(length)
    if wanted is not None:
        headers["Content-Range"] = f"bytes {start}-{start + length - 1}/{size}"
    media = "application/gzip" if file.object_key.endswith(".gz") else "application/x-ndjson"
    return StreamingResponse(
        chunks, status_code=206 if wanted else 200, headers=headers, media_type=media
    )
