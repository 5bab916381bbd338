"""A store shared by gateway subprocesses and the CLI, as an operator would run them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def run_cli(env: dict[str, str], *args: str) -> str:
    """``previewgate ARGS`` in a subprocess; its stdout (fails the test on a non-zero exit)."""
    done = subprocess.run(
        [sys.executable, "-m", "previewgate", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def key_of(output: str) -> str:
    """The API key ``users create`` / ``keys create`` prints on its last line."""
    return output.strip().splitlines()[-1]


@pytest.fixture
def store(database_url: str, encryption_key: str, tmp_path: Path) -> dict[str, str]:
    """The environment of a process on the test's store (and nothing else of ours)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREVIEWGATE_")}
    env.update(
        {
            "PREVIEWGATE_DATABASE_URL": database_url,
            "PREVIEWGATE_ENCRYPTION_KEY": encryption_key,
            "PREVIEWGATE_DATA_DIR": str(tmp_path / "data"),
        }
    )
    return env
