"""The load soak (bench/soak.py) in its short form: 5 s of mixed traffic, then its checks.

It needs PostgreSQL and Redis, so it takes the ``backend`` fixture only to run once, in
the PostgreSQL process of ``make test``; it makes and drops its own database.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_soak_short_form(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("the soak runs on PostgreSQL + Redis only")
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "soak.py"), "--duration", "5", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["ok"] and all(result["checks"].values()), result
    tally = result["tally"]
    assert result["requests"] > 100 and tally["experimented"] > 0 and tally["upstream_induced"] > 0
    assert result["usage_rows"] == result["requests"]
