"""Trace export throughput and memory on one partner day of N turns.

Seeds a throwaway embedded store (SQLite + blob folder in a temp dir) with one partner
whose slot served N turns on one UTC day (``--distinct`` different prompts/answers, so a
million turns do not need two million blobs), then runs ``previewgate export run`` as a
child process and reports turns/s, wall time and the child's peak RSS.

    .venv/bin/python bench/export_day.py [--turns 1000000] [--sessions 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the seeding helper lives with the tests

from tests.support.partner_turns import seed_partner_day  # noqa: E402

from previewgate.config import Settings  # noqa: E402
from previewgate.runtime import Runtime  # noqa: E402
from previewgate.store.migrate import upgrade  # noqa: E402


async def _seed(settings: Settings, turns: int, sessions: int, distinct: int) -> str:
    runtime = Runtime.build(settings)
    try:
        await upgrade(runtime.engine)
        day = datetime.now(UTC).date() - timedelta(days=1)
        seeded = await seed_partner_day(
            runtime, day, sessions, turns // sessions, distinct_texts=distinct, batch=20_000
        )
        return seeded.day.isoformat()
    finally:
        await runtime.blobs.close()
        await runtime.engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=1_000_000)
    parser.add_argument("--sessions", type=int, default=20_000)
    parser.add_argument("--distinct", type=int, default=5_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pg-export-bench-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREVIEWGATE_")}
        env |= {
            "PREVIEWGATE_DATA_DIR": tmp,
            "PREVIEWGATE_ENCRYPTION_KEY": base64.b64encode(os.urandom(32)).decode(),
            "PREVIEWGATE_LOG_LEVEL": "WARNING",
        }
        settings = Settings(data_dir=Path(tmp), encryption_key=env["PREVIEWGATE_ENCRYPTION_KEY"])
        began = time.monotonic()
        day = asyncio.run(_seed(settings, args.turns, args.sessions, args.distinct))
        seeded_s = time.monotonic() - began
        print(f"seeded {args.turns} turns in {args.sessions} sessions: {seeded_s:.0f} s")
        began = time.monotonic()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "previewgate",
                "export",
                "run",
                "--partner",
                "bulk",
                "--day",
                day,
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        elapsed = time.monotonic() - began
        if done.returncode != 0:
            print(done.stdout, done.stderr)
            return 1
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(done.stdout.strip().splitlines()[-1])
        print(
            f"export: {args.turns} turns in {elapsed:.1f} s = {args.turns / elapsed:,.0f} turns/s; "
            f"peak RSS of the exporting process {peak_mib:.0f} MiB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
