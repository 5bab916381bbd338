"""The README's ``sh`` blocks run as written against ``previewgate demo`` (what `make run` runs).

Every block is run in order, in one shell, from a folder that holds the demo's data folder as
``.previewgate`` (the blocks read the admin key there, as they would in a checkout). ``curl``
fails on an HTTP error status, so a block that answers 4xx or 5xx fails the test.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
from pathlib import Path

from tests.support.faults import GatewayProcess

README = Path(__file__).resolve().parents[1] / "README.md"
SH_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)
# The demo listens on PORT and its upstreams on PORT+1..PORT+3.
DEMO_PORTS = 4


def sh_blocks() -> list[str]:
    return SH_BLOCK.findall(README.read_text())


def _free_run(count: int) -> int:
    """A port such that it and the next ``count - 1`` are free."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = int(probe.getsockname()[1])
        if base + count > 65535:
            continue
        held = []
        try:
            for port in range(base, base + count):
                s = socket.socket()
                held.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in held:
                s.close()
    raise AssertionError("no run of free ports")


def test_readme_has_runnable_blocks() -> None:
    blocks = sh_blocks()
    assert len(blocks) >= 2
    assert any("/v1/chat/completions" in b for b in blocks)
    assert not any("jq " in b for b in blocks), "jq is not installed on a fresh machine"


def test_readme_sh_blocks_run_against_the_demo(tmp_path: Path) -> None:
    port = _free_run(DEMO_PORTS)
    data = tmp_path / ".previewgate"
    demo = GatewayProcess(
        {"PREVIEWGATE_DATA_DIR": str(data), "PREVIEWGATE_PORT": str(port)},
        tmp_path / "demo.log",
        command="demo",
        cwd=tmp_path,
    )
    try:
        script = "\n".join(
            [
                "set -euo pipefail",
                'curl() { command curl --fail-with-body --show-error "$@"; echo; }',
                *sh_blocks(),
            ]
        )
        env = {**os.environ, "GW": demo.base_url}
        env.pop("ADMIN", None)
        done = subprocess.run(
            ["bash", "-c", script],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        demo.stop()
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\n{demo.log()}"
    # The blocks did what they say: answers came back, the experiment went live.
    assert '"object":"chat.completion"' in done.stdout
    assert '"status":"active"' in done.stdout
    assert "acme/preview-experiment-demo" in done.stdout
