"""The system under test: fast upstream + migrated, seeded gateway, and the targets to load.

Later targets (an experimented preview id, LiteLLM's proxy) are one more entry
in ``Stack.targets()`` plus, if they need their own server, one more ``Child``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import shutil
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from loadgen import Target
from procs import Child, free_port, run_checked

HERE = Path(__file__).resolve().parent
UPSTREAM_MODEL = "bench-internal"
PROD_MODEL = "bench/prod"
PREVIEW_MODEL = "bench/preview-experiment"
UPSTREAM_KEY = "bench-upstream-key"
BENCH_USER = "bench@example.invalid"
DEFAULT_PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True)
class Pinning:
    """Which CPUs the gateway and everything else (upstream, load generator) may use."""

    gateway: set[int] | None
    others: set[int] | None

    @classmethod
    def for_machine(cls, enabled: bool, cpus: set[int]) -> Pinning:
        if not enabled or len(cpus) < 2:
            return cls(None, None)
        first, *rest = sorted(cpus)
        return cls({first}, set(rest))

    def describe(self) -> str:
        if self.gateway is None:
            return "off"
        others = sorted(self.others or ())
        return f"gateway on CPU {sorted(self.gateway)}, upstream + load generator on CPU {others}"


class Stack:
    """Owns a temp dir, the two servers and (with --postgres) a throwaway database."""

    def __init__(self, pinning: Pinning, postgres_admin_dsn: str | None) -> None:
        self.pinning = pinning
        self.pg_admin = postgres_admin_dsn
        self.pg_database: str | None = None
        self.root = Path(tempfile.mkdtemp(prefix="previewgate-bench-"))
        self.bin = Path(sys.executable).parent
        self.upstream: Child | None = None
        self.gateway: Child | None = None
        self.user_key = ""
        self.gateway_log_problems: list[str] = []  # filled when the stack closes
        self.upstream_port = free_port()
        self.gateway_port = free_port()

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        self.upstream = Child(
            "upstream",
            [sys.executable, str(HERE / "fast_upstream.py"), "--port", str(self.upstream_port)],
            self._base_env(),
            self.root / "upstream.log",
            self.pinning.others,
        )
        self.upstream.wait_http_ok(f"http://127.0.0.1:{self.upstream_port}/healthz")
        env = self._gateway_env()
        cli = str(self.bin / "previewgate")
        run_checked([cli, "migrate"], env)
        upstream = {
            "internal_id": UPSTREAM_MODEL,
            "base_url": f"http://127.0.0.1:{self.upstream_port}/v1",
        }
        add = [cli, "models", "add", PROD_MODEL, "--kind", "production"]
        run_checked(
            [*add, "--upstream", json.dumps(upstream), "--api-key-env", "BENCH_UPSTREAM_KEY"], env
        )
        self._seed_experiment(cli, upstream, env)
        # Real clients authenticate, so the key lookup is part of the measured path.
        self.user_key = run_checked([cli, "users", "create", BENCH_USER], env).split()[-1]
        self.gateway = Child(
            "gateway", [cli, "serve"], env, self.root / "gateway.log", self.pinning.gateway
        )
        self.gateway.wait_http_ok(f"http://127.0.0.1:{self.gateway_port}/healthz")

    def _seed_experiment(self, cli: str, upstream: dict[str, str], env: dict[str, str]) -> None:
        """A preview id split 1:1 between two slots, both served by the mock upstream."""
        run_checked([cli, "models", "add", PREVIEW_MODEL, "--kind", "preview"], env)
        create = [cli, "experiments", "create", PREVIEW_MODEL, "--name", "bench"]
        experiment_id = run_checked([*create, "--no-require-opt-in"], env).split()[-1]
        for label in ("rc-a", "rc-b"):
            run_checked(
                [
                    cli,
                    "experiments",
                    "add-variant",
                    experiment_id,
                    label,
                    "--upstream",
                    json.dumps(upstream),
                    "--api-key-env",
                    "BENCH_UPSTREAM_KEY",
                ],
                env,
            )
        run_checked([cli, "experiments", "activate", experiment_id], env)

    def close(self) -> None:
        try:
            for child in (self.gateway, self.upstream):
                if child is not None:
                    child.stop()
            self._read_gateway_log()
            if self.pg_database is not None:
                name, self.pg_database = self.pg_database, None
                asyncio.run(self._pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Stack:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- what the load generator sees -------------------------------------------------
    def targets(self) -> list[Target]:
        """The baseline first: every other row is compared with ``targets()[0]``."""
        up = f"http://127.0.0.1:{self.upstream_port}/v1/chat/completions"
        gw = f"http://127.0.0.1:{self.gateway_port}/v1/chat/completions"
        return [
            Target("direct", up, UPSTREAM_MODEL, UPSTREAM_KEY, UPSTREAM_MODEL.encode(), "upstream"),
            Target("gateway", gw, PROD_MODEL, self.user_key, PROD_MODEL.encode(), "gateway"),
            # An experimented preview id: assignment, blinding and evidence capture included.
            Target(
                "experiment", gw, PREVIEW_MODEL, self.user_key, PREVIEW_MODEL.encode(), "gateway"
            ),
        ]

    def pids(self) -> dict[str, int]:
        assert self.upstream is not None and self.gateway is not None
        return {"upstream": self.upstream.pid, "gateway": self.gateway.pid}

    def gateway_metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}/metrics"

    def _read_gateway_log(self) -> None:
        # The gateway logs at WARNING, so every line it wrote is a problem worth showing.
        if self.gateway is not None and self.gateway.log_path.exists():
            text = self.gateway.log_path.read_text(errors="replace")
            self.gateway_log_problems = [line for line in text.splitlines() if line.strip()]

    # -- environment --------------------------------------------------------------------
    def _base_env(self) -> dict[str, str]:
        # Start from a clean slate so a developer's PREVIEWGATE_* settings cannot leak in.
        return {k: v for k, v in os.environ.items() if not k.startswith("PREVIEWGATE_")}

    def _gateway_env(self) -> dict[str, str]:
        return {
            **self._base_env(),
            "PREVIEWGATE_DATABASE_URL": self._database_url(),
            "PREVIEWGATE_DATA_DIR": str(self.root),
            "PREVIEWGATE_ENCRYPTION_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
            "PREVIEWGATE_HOST": "127.0.0.1",
            "PREVIEWGATE_PORT": str(self.gateway_port),
            "PREVIEWGATE_LOG_LEVEL": "WARNING",
            "BENCH_UPSTREAM_KEY": UPSTREAM_KEY,
        }

    def _database_url(self) -> str:
        if self.pg_admin is None:
            return f"sqlite+aiosqlite:///{self.root}/bench.db"
        self.pg_database = f"pgbench_{uuid.uuid4().hex[:12]}"
        asyncio.run(self._pg_admin(f'CREATE DATABASE "{self.pg_database}"'))
        base = self.pg_admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
        return f"{base}/{self.pg_database}"

    async def _pg_admin(self, sql: str) -> None:
        assert self.pg_admin is not None
        conn = await asyncpg.connect(self.pg_admin)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()
