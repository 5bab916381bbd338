"""The overhead benchmark runs end to end and the gateway really forwards under load.

Runs ``bench/overhead.py`` as a subprocess (its own servers, pinning and cleanup)
with tiny durations; no store fixture, so it runs once, not per backend.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARGS = ("--duration", "0.5", "--warmup", "0.2", "--runs", "1", "--concurrency", "2", "--no-save")


def _rows(table: str) -> dict[tuple[str, str], dict[str, float]]:
    """(mode, target) -> the numeric columns the test cares about."""
    lines = table.splitlines()
    header = next(line.split() for line in lines if line.startswith("mode "))
    # Header names contain spaces ("x direct"), so rely only on the fixed first and last ones.
    assert header[3] == "req/s" and header[-2:] == ["requests", "errors"], header
    rows: dict[tuple[str, str], dict[str, float]] = {}
    for line in lines:
        cells = line.split()
        if len(cells) < 4 or cells[0] not in ("json", "stream"):
            continue
        rows[(cells[0], cells[2])] = {
            "rps": float(cells[3]),
            "requests": float(cells[-2]),
            "errors": float(cells[-1]),
        }
    return rows


def test_overhead_benchmark_prints_direct_and_gateway_rows() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "overhead.py"), *ARGS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = _rows(done.stdout)
    for mode in ("json", "stream"):
        for target in ("direct", "gateway"):
            row = rows.get((mode, target))
            assert row is not None, f"no {mode}/{target} row in:\n{done.stdout}"
            assert row["rps"] > 0 and row["requests"] > 0, row
            # Zero errors also means every gateway answer carried the public model id.
            assert row["errors"] == 0, done.stdout + done.stderr
