"""The warehouse passthrough: one day of the secret-free view as Parquet or CSV, read back
with standard tools."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pandas as pd
import pyarrow.parquet as pq

from previewgate.reporting import warehouse
from previewgate.runtime import Runtime
from tests.support.partner_turns import seed_partner_day
from tests.support.servers import GatewayServer


async def _export(runtime: Runtime, day: object, fmt: warehouse.Format) -> tuple[str, int, bytes]:
    async with runtime.sessions() as session:
        key, rows = await warehouse.export_day(session, runtime.blobs, day, fmt)  # type: ignore[arg-type]
    data = await runtime.blobs.get_named(key)
    assert data is not None
    return key, rows, data


def test_a_day_of_turns_as_parquet_and_csv(gateway: GatewayServer) -> None:
    day = datetime.now(UTC).date() - timedelta(days=1)
    seeded = gateway.call(lambda rt: seed_partner_day(rt, day, sessions=4, turns_per_session=5))
    other = gateway.call(lambda rt: _export(rt, day + timedelta(days=1), "csv"))
    assert other[1] == 0  # the next day holds none of them

    key, rows, data = gateway.call(lambda rt: _export(rt, day, "parquet"))
    assert key == f"warehouse/turns/{day}.parquet" and rows == seeded.turns
    table = pq.read_table(io.BytesIO(data))
    assert table.schema == warehouse.SCHEMA
    frame = table.to_pandas()
    assert len(frame) == seeded.turns
    assert set(frame["internal_id"]) == {"bulk-rc-1"}
    assert set(frame["partner_id"]) == {str(seeded.partner_id)}
    assert frame["created_at"].is_monotonic_increasing
    assert (frame["created_at"].dt.date == day).all()

    key, rows, data = gateway.call(lambda rt: _export(rt, day, "csv"))
    assert key.endswith(".csv") and rows == seeded.turns
    frame = pd.read_csv(io.BytesIO(data))
    assert list(frame.columns) == warehouse.SCHEMA.names and len(frame) == seeded.turns
    # Secret-free: no partner key, no upstream URL.
    assert b"sk-bulk-partner-key" not in data and b"127.0.0.1:9" not in data
