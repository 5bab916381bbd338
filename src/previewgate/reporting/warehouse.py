"""The operator's warehouse passthrough: one day of ``warehouse_turns`` (a migration-managed,
secret-free view) as one Parquet or CSV file in the blob store, for dbt or a warehouse
loader. Rows are read in batches (bounded memory); Parquet through pyarrow, CSV through the
standard library."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from previewgate.evidence.blobs import BlobStore

Format = Literal["parquet", "csv"]
BATCH = 10_000
# The view's columns and their Arrow types (the view is the contract: see migration 0007).
SCHEMA = pa.schema(
    [
        ("usage_id", pa.string()),
        ("created_at", pa.timestamp("ms", tz="UTC")),
        ("experiment_id", pa.string()),
        ("public_model_id", pa.string()),
        ("experiment_name", pa.string()),
        ("variant_id", pa.string()),
        ("variant_label", pa.string()),
        ("partner_id", pa.string()),
        ("version_id", pa.string()),
        ("internal_id", pa.string()),
        ("allocation_subject", pa.string()),
        ("client_request_id", pa.string()),
        ("capture_truncated", pa.bool_()),
        ("user_id", pa.string()),
        ("session_id", pa.string()),
        ("status_code", pa.int32()),
        ("has_error", pa.bool_()),
        ("error_kind", pa.string()),
        ("input_tokens", pa.int64()),
        ("output_tokens", pa.int64()),
        ("cached_tokens", pa.int64()),
        ("cost_microusd", pa.int64()),
        ("ttfb_ms", pa.int64()),
        ("total_ms", pa.int64()),
        ("streamed", pa.bool_()),
    ]
)
_QUERY = text(
    f"SELECT {', '.join(SCHEMA.names)} FROM warehouse_turns "
    "WHERE created_at >= :start AND created_at < :end ORDER BY created_at, usage_id"
)


def object_key(day: date, fmt: Format) -> str:
    return f"warehouse/turns/{day.isoformat()}.{fmt}"


UUID_COLUMNS = frozenset(
    {"usage_id", "experiment_id", "variant_id", "partner_id", "version_id", "user_id"}
)


def _value(name: str, value: Any) -> Any:
    if name in UUID_COLUMNS and value is not None:
        # SQLite keeps uuids as 32 hex digits: written the same on both stores.
        return str(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))
    if name in ("capture_truncated", "has_error", "streamed") and value is not None:
        return bool(value)  # SQLite gives 0/1
    if name == "created_at" and isinstance(value, str):  # SQLite gives text
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


async def _batches(session: AsyncSession, day: date) -> AsyncIterator[list[dict[str, Any]]]:
    start = datetime.combine(day, time(), tzinfo=UTC)
    result = await session.stream(
        _QUERY.execution_options(yield_per=BATCH),
        {"start": _bind(session, start), "end": _bind(session, start + timedelta(days=1))},
    )
    async for partition in result.partitions(BATCH):
        yield [
            {n: _value(n, v) for n, v in zip(SCHEMA.names, row, strict=True)} for row in partition
        ]


def _bind(session: AsyncSession, moment: datetime) -> Any:
    # A textual query binds plain values: SQLite stores UTC without a zone, as text.
    if session.get_bind().dialect.name == "sqlite":
        return moment.replace(tzinfo=None).isoformat(sep=" ")
    return moment


async def export_day(
    session: AsyncSession, blobs: BlobStore, day: date, fmt: Format
) -> tuple[str, int]:
    """Write the day's file; its object key and how many rows it holds."""
    rows = 0
    if fmt == "parquet":
        sink = io.BytesIO()
        with pq.ParquetWriter(sink, SCHEMA, compression="zstd") as writer:
            async for batch in _batches(session, day):
                writer.write_table(pa.Table.from_pylist(batch, schema=SCHEMA))
                rows += len(batch)
        data = sink.getvalue()
    else:
        text_sink = io.StringIO()
        out = csv.DictWriter(text_sink, fieldnames=SCHEMA.names, lineterminator="\n")
        out.writeheader()
        async for batch in _batches(session, day):
            out.writerows(_csv_rows(batch))
            rows += len(batch)
        data = text_sink.getvalue().encode()
    key = object_key(day, fmt)
    await blobs.put_named(key, data)
    return key, rows


def _csv_rows(batch: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}
        for row in batch
    ]
