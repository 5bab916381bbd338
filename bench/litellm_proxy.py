"""LiteLLM's proxy as a side-by-side target: its own virtualenv, a minimal config, one worker.

The virtualenv lives outside the repository (``VENV``; override with
PREVIEWGATE_BENCH_LITELLM_VENV) and is created on first use with ``python3 -m venv``
and pip. The proxy routes ``MODEL`` to the same mock upstream as the gateway, with no
database, no spend or error logs and no callbacks, and checks a master key (the gateway
checks a user key too).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from procs import Child, free_port

VENV = Path(os.environ.get("PREVIEWGATE_BENCH_LITELLM_VENV", "/tmp/previewgate-bench-litellm-venv"))
REQUIREMENT = "litellm[proxy]"
MODEL = "bench/litellm"
MASTER_KEY = "sk-bench-litellm"
INSTALL_TIMEOUT_S = 900.0
START_TIMEOUT_S = 120.0


class LiteLLMUnavailable(RuntimeError):
    """LiteLLM could not be installed or started; the benchmark goes on without it."""


def _run(argv: list[str], timeout_s: float) -> None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LiteLLMUnavailable(f"{' '.join(argv)}: {exc}") from exc
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise LiteLLMUnavailable(f"{' '.join(argv)} failed ({done.returncode}):\n{tail}")


def ensure_installed() -> Path:
    """The ``litellm`` executable, installing ``litellm[proxy]`` into ``VENV`` if missing."""
    exe = VENV / "bin" / "litellm"
    if exe.exists():
        return exe
    print(f"installing {REQUIREMENT} into {VENV} (first use only)...", file=sys.stderr, flush=True)
    if not (VENV / "bin" / "pip").exists():
        _run(["python3", "-m", "venv", str(VENV)], 120.0)
    _run([str(VENV / "bin" / "pip"), "install", "--quiet", REQUIREMENT], INSTALL_TIMEOUT_S)
    if not exe.exists():
        raise LiteLLMUnavailable(f"{REQUIREMENT} installed but {exe} is missing")
    return exe


def version() -> str | None:
    meta = sorted(VENV.glob("lib/python*/site-packages/litellm-*.dist-info"))
    return meta[-1].name.removeprefix("litellm-").removesuffix(".dist-info") if meta else None


def config(upstream_url: str, upstream_model: str, upstream_key: str) -> dict[str, object]:
    return {
        "model_list": [
            {
                "model_name": MODEL,
                "litellm_params": {
                    "model": f"openai/{upstream_model}",
                    "api_base": upstream_url,
                    "api_key": upstream_key,
                },
            }
        ],
        "litellm_settings": {
            "drop_params": True,
            "turn_off_message_logging": True,
            "callbacks": [],
            "success_callback": [],
            "failure_callback": [],
            "set_verbose": False,
        },
        "general_settings": {
            "master_key": MASTER_KEY,
            "disable_spend_logs": True,
            "disable_error_logs": True,
        },
    }


def start(
    root: Path, cfg: dict[str, object], env: dict[str, str], cpus: set[int] | None
) -> tuple[Child, int]:
    """Start ``litellm --config`` (one worker) pinned to ``cpus``; return it and its port."""
    exe = ensure_installed()
    port = free_port()
    path = root / "litellm.yaml"
    path.write_text(json.dumps(cfg, indent=2))  # JSON is YAML
    env = {k: v for k, v in env.items() if k not in ("DATABASE_URL", "VIRTUAL_ENV")}
    # Quiet, and no fetch of the model price map from the network at start-up.
    env |= {"LITELLM_LOG": "ERROR", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    argv = [str(exe), "--config", str(path), "--host", "127.0.0.1", "--port", str(port)]
    child = Child("litellm", [*argv, "--num_workers", "1"], env, root / "litellm.log", cpus)
    try:
        child.wait_http_ok(f"http://127.0.0.1:{port}/health/liveliness", START_TIMEOUT_S)
    except RuntimeError as exc:
        child.stop()
        raise LiteLLMUnavailable(f"the LiteLLM proxy did not start: {exc}") from exc
    return child, port
