"""A worker killed (SIGKILL) in the middle of an export, then restarted: the same files as an
uninterrupted export, each once in the index, every turn in exactly one file."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from previewgate.config import Settings
from previewgate.partners.export import Exporter
from previewgate.partners.export_worker import ExportWorker
from previewgate.runtime import Runtime
from tests.support.faults import gateway_env, wait_until
from tests.support.partner_turns import seed_partner_day
from tests.support.servers import GatewayServer

SESSIONS = 30
TURNS_PER_SESSION = 60


def _worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("PREVIEWGATE_")} | env
    return subprocess.Popen(
        [sys.executable, "-m", "previewgate", "export", "worker", "--once", "--settle-s", "0"],
        env=full,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def test_a_killed_export_resumes_to_the_same_files(
    gateway: GatewayServer, settings: Settings
) -> None:
    day = datetime.now(UTC).date() - timedelta(days=1)
    seeded = gateway.call(lambda rt: seed_partner_day(rt, day, SESSIONS, TURNS_PER_SESSION))
    env = gateway_env(settings)
    root = Path(settings.resolved_blob_url.removeprefix("file://"))
    traces = root / f"partner/{seeded.partner_id}/traces/{day}"

    first = _worker(env)
    # Killed once the first files are written, long before the last one.
    wait_until(
        lambda: traces.is_dir() and len(list(traces.glob("*.jsonl.gz"))) >= 2,
        timeout=60,
        interval=0.01,
        what="the first export files",
    )
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    written_before = len(list(traces.glob("*.jsonl.gz")))
    assert 2 <= written_before < SESSIONS, "the kill must land mid-export"
    index = gateway.call(lambda rt: _index(rt, seeded.partner_id))
    assert index == [], "an interrupted export commits no index rows"

    second = _worker(env)
    output, _ = second.communicate(timeout=300)
    assert second.returncode == 0, output.decode()

    index = gateway.call(lambda rt: _index(rt, seeded.partner_id))
    traces_index = [row for row in index if row[1] == "traces"]
    assert len({row[0] for row in index}) == len(index), "an object key twice in the index"
    assert len(traces_index) == SESSIONS
    assert sum(row[2] for row in traces_index) == seeded.turns
    turn_ids = []
    for key, _, records, sha256 in traces_index:
        blob = (root / key).read_bytes()
        assert hashlib.sha256(blob).hexdigest() == sha256
        lines = gzip.decompress(blob).splitlines()
        assert len(lines) == records
        turn_ids += [orjson.loads(line)["turn_id"] for line in lines]
    assert len(turn_ids) == len(set(turn_ids)) == seeded.turns  # no duplicates, no gaps

    # An uninterrupted export writes exactly these bytes.
    clean = gateway.call(lambda rt: _clean_export(rt, seeded.partner_id, day))
    assert clean == {(key, sha) for key, _, _, sha in index}


async def _index(runtime: Runtime, partner_id: object) -> list[tuple[str, str, int, str]]:
    from sqlalchemy import select

    from previewgate.partners.models import ExportFile

    async with runtime.sessions() as session:
        rows = await session.execute(
            select(ExportFile.object_key, ExportFile.kind, ExportFile.records, ExportFile.sha256)
            .where(ExportFile.partner_id == partner_id)
            .order_by(ExportFile.object_key)
        )
        return [(k, kind, n, sha) for k, kind, n, sha in rows]


async def _clean_export(runtime: Runtime, partner_id: object, day: object) -> set[tuple[str, str]]:
    exporter = Exporter(runtime.sessions, runtime.blobs, runtime.cipher)
    result = await exporter.export_day(partner_id, day)  # type: ignore[arg-type]
    return {(f.object_key, f.sha256) for f in result.files}


def test_workers_side_by_side_export_each_day_once(backend: str, gateway: GatewayServer) -> None:
    if backend != "postgresql":
        pytest.skip("several workers need row locks (SKIP LOCKED): one worker on SQLite")
    first = datetime.now(UTC).date() - timedelta(days=8)
    seeded = gateway.call(
        lambda rt: seed_partner_day(rt, first, sessions=12, turns_per_session=20, days=6)
    )

    async def race(runtime: Runtime) -> list[list[tuple[str, int]]]:
        exporter = Exporter(runtime.sessions, runtime.blobs, runtime.cipher)
        workers = [ExportWorker(runtime.sessions, exporter, settle_s=0) for _ in range(3)]
        await workers[0].follow()
        done = await asyncio.gather(*(w.export_pending() for w in workers))
        return [[(str(d.day), d.turns) for d in one] for one in done]

    results = gateway.call(race)
    exported = [day for one in results for day, _ in one]
    assert sorted(exported) == sorted({str(first + timedelta(days=n)) for n in range(6)})
    assert sum(turns for one in results for _, turns in one) == seeded.turns
    assert sum(1 for one in results if one) >= 2, "the days were shared between workers"
