"""The system under test: fast upstream + migrated, seeded gateway, and the targets to load.

Targets are entries in ``Stack.targets()``; one with its own server (LiteLLM's
proxy) is also one more ``Child``.
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
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg

import litellm_proxy
from loadgen import Target
from procs import Child, descendants, free_port, pin_processes_named, run_checked

HERE = Path(__file__).resolve().parent
UPSTREAM_MODEL = "bench-internal"
PROD_MODEL = "bench/prod"
PREVIEW_MODEL = "bench/preview-experiment"
UPSTREAM_KEY = "bench-upstream-key"
BENCH_USER = "bench@example.invalid"
DEFAULT_PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
# The second gateway process, with tracing on (OTLP to the mock upstream), and its targets.
TRACED = "gateway+otel"
TRACED_TARGETS = ("gateway+otel", "experiment+otel")
# Variables of the developer's shell that would change what the gateways do.
FOREIGN_ENV = ("PREVIEWGATE_", "OTEL_", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")


@dataclass(frozen=True)
class Pinning:
    """Which CPUs the gateway and everything else (upstream, load generator) may use."""

    gateway: set[int] | None
    others: set[int] | None

    @classmethod
    def for_machine(cls, enabled: bool, cpus: set[int], gateway_cpus: int = 1) -> Pinning:
        if not enabled or len(cpus) < 2:
            return cls(None, None)
        ordered = sorted(cpus)
        # The gateway gets the first N CPUs, the others the rest (at least the last one).
        return cls(set(ordered[:gateway_cpus]), set(ordered[gateway_cpus:] or ordered[-1:]))

    def describe(self) -> str:
        if self.gateway is None or self.others is None:
            return "off"
        text = (
            f"gateway on CPU {sorted(self.gateway)}, "
            f"upstream + load generator on CPU {sorted(self.others)}"
        )
        return text + (" (shared: indicative only)" if self.gateway & self.others else "")


class Stack:
    """Owns a temp dir, the servers and (with --postgres) a throwaway database."""

    def __init__(
        self,
        pinning: Pinning,
        postgres_admin_dsn: str | None,
        workers: int = 1,
        uvicorn: tuple[str, str] | None = None,
        litellm: bool = False,
        pin_postgres: bool = False,
        traced: bool = False,
    ) -> None:
        self.pinning = pinning
        self.pin_postgres = pin_postgres
        self.pg_admin = postgres_admin_dsn
        self.workers = workers
        self.uvicorn = uvicorn  # (http, loop): plain `uvicorn` instead of `previewgate serve`
        self.want_litellm = litellm
        self.litellm: Child | None = None
        self.litellm_port = 0
        self.litellm_error: str | None = None
        self.pg_database: str | None = None
        self._unpin_postgres: Callable[[], None] = lambda: None
        self.root = Path(tempfile.mkdtemp(prefix="previewgate-bench-"))
        self.bin = Path(sys.executable).parent
        self.upstream: Child | None = None
        self.gateway: Child | None = None
        self.want_traced = traced
        self.traced: Child | None = None
        self.traced_port = free_port()
        self.user_key = ""
        self.gateway_log_problems: list[str] = []  # filled when the stack closes
        self.upstream_port = free_port()
        self.gateway_port = free_port()

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        if self.pg_admin is not None and self.pin_postgres:
            # The database server is another machine in production: keep it off the
            # gateway's CPU, beside the upstream and the load generator.
            self._unpin_postgres = pin_processes_named("postgres", self.pinning.others)
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
        upstream = {
            "internal_id": UPSTREAM_MODEL,
            "base_url": f"http://127.0.0.1:{self.upstream_port}/v1",
        }
        # Production model, preview id with a 1:1 experiment, and the user whose key we send.
        seed = [sys.executable, str(HERE / "seed.py"), json.dumps(upstream)]
        out = run_checked([*seed, PROD_MODEL, PREVIEW_MODEL, BENCH_USER], env)
        self.user_key = out.split()[-1]
        self.gateway = Child(
            "gateway",
            self._gateway_argv(cli, self.gateway_port),
            env,
            self.root / "gateway.log",
            self.pinning.gateway,
        )
        self._wait_gateway()
        if self.want_traced:
            # Same store, CPU and settings; only tracing differs. Loaded in turn with the
            # other, never at the same time.
            traced_env = {
                **env,
                "PREVIEWGATE_PORT": str(self.traced_port),
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": (
                    f"http://127.0.0.1:{self.upstream_port}/v1/traces"
                ),
            }
            self.traced = Child(
                TRACED,
                self._gateway_argv(cli, self.traced_port),
                traced_env,
                self.root / "gateway-otel.log",
                self.pinning.gateway,
            )
            self.traced.wait_http_ok(f"http://127.0.0.1:{self.traced_port}/healthz")
        if self.want_litellm:
            self._start_litellm()

    def _gateway_argv(self, cli: str, port: int) -> list[str]:
        workers = ["--workers", str(self.workers)]
        if self.uvicorn is None:
            return [cli, "serve", *workers]
        # Same settings as `previewgate serve` except the HTTP parser and the event loop.
        from previewgate.cli.serve import uvicorn_config_kwargs

        http, loop = self.uvicorn
        settings = {**uvicorn_config_kwargs(), "http": http, "loop": loop, "log_level": "warning"}
        flags = [
            (f"--{k}" if v else f"--no-{k}") if isinstance(v, bool) else f"--{k}={v}"
            for k, v in ((k.replace("_", "-"), v) for k, v in settings.items())
        ]
        app = "previewgate.app:create_app_from_env"
        listen = ["--host", "127.0.0.1", "--port", str(port)]
        return [sys.executable, "-m", "uvicorn", app, "--factory", *listen, *workers, *flags]

    def _wait_gateway(self) -> None:
        assert self.gateway is not None
        if self.workers > 1:  # every worker process started, not just the first one
            deadline = time.monotonic() + 60
            while len(self._gateway_workers()) < self.workers:
                if time.monotonic() > deadline or self.gateway.proc.poll() is not None:
                    raise RuntimeError(f"gateway workers missing:\n{self.gateway.log_tail()}")
                time.sleep(0.1)
        self.gateway.wait_http_ok(f"http://127.0.0.1:{self.gateway_port}/healthz")

    def _gateway_workers(self) -> list[int]:
        """uvicorn's worker processes (not multiprocessing's resource tracker)."""
        assert self.gateway is not None
        found = []
        for pid in descendants(self.gateway.pid):
            try:
                if b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                    found.append(pid)
            except OSError:
                continue
        return found

    def _start_litellm(self) -> None:
        upstream = f"http://127.0.0.1:{self.upstream_port}/v1"
        cfg = litellm_proxy.config(upstream, UPSTREAM_MODEL, UPSTREAM_KEY)
        try:
            self.litellm, self.litellm_port = litellm_proxy.start(
                self.root, cfg, self._base_env(), self.pinning.gateway
            )
        except litellm_proxy.LiteLLMUnavailable as exc:
            self.litellm_error = str(exc)

    def close(self) -> None:
        try:
            for child in (self.litellm, self.traced, self.gateway, self.upstream):
                if child is not None:
                    child.stop()
            self._read_gateway_log()
            if self.pg_database is not None:
                name, self.pg_database = self.pg_database, None
                asyncio.run(self._pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        finally:
            self._unpin_postgres()
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
        targets = [
            Target("direct", up, UPSTREAM_MODEL, UPSTREAM_KEY, UPSTREAM_MODEL.encode(), "upstream"),
            Target("gateway", gw, PROD_MODEL, self.user_key, PROD_MODEL.encode(), "gateway"),
            # An experimented preview id: assignment, blinding and evidence capture included.
            Target(
                "experiment", gw, PREVIEW_MODEL, self.user_key, PREVIEW_MODEL.encode(), "gateway"
            ),
            # The same experiment asked through Anthropic's Messages API: translated both ways.
            Target(
                "messages",
                f"http://127.0.0.1:{self.gateway_port}/v1/messages",
                PREVIEW_MODEL,
                self.user_key,
                PREVIEW_MODEL.encode(),
                "gateway",
                api="messages",
            ),
        ]
        if self.traced is not None:
            traced = f"http://127.0.0.1:{self.traced_port}/v1/chat/completions"
            for name, model in zip(TRACED_TARGETS, (PROD_MODEL, PREVIEW_MODEL), strict=True):
                targets.append(Target(name, traced, model, self.user_key, model.encode(), TRACED))
        if self.litellm is not None:
            ll = f"http://127.0.0.1:{self.litellm_port}/v1/chat/completions"
            model, key = litellm_proxy.MODEL, litellm_proxy.MASTER_KEY
            targets.append(Target("litellm", ll, model, key, model.encode(), "litellm"))
        return targets

    def pids(self) -> dict[str, int]:
        """Server processes whose CPU time is read (with their descendants: uvicorn workers)."""
        assert self.upstream is not None and self.gateway is not None
        pids = {"upstream": self.upstream.pid, "gateway": self.gateway.pid}
        if self.workers > 1:  # each worker alone too: how evenly the load is spread
            for n, pid in enumerate(sorted(self._gateway_workers())):
                pids[f"gateway worker {n}"] = pid
        if self.traced is not None:
            pids[TRACED] = self.traced.pid
        if self.litellm is not None:
            pids["litellm"] = self.litellm.pid
        return pids

    def gateway_metrics_url(self, process: str = "gateway") -> str:
        port = self.traced_port if process == TRACED else self.gateway_port
        return f"http://127.0.0.1:{port}/metrics"

    def _read_gateway_log(self) -> None:
        # The gateways log at WARNING, so every line they wrote is a problem worth showing.
        for child in (self.gateway, self.traced):
            if child is not None and child.log_path.exists():
                text = child.log_path.read_text(errors="replace")
                self.gateway_log_problems += [line for line in text.splitlines() if line.strip()]

    # -- environment --------------------------------------------------------------------
    def _base_env(self) -> dict[str, str]:
        # Start from a clean slate so a developer's settings (ours, tracing, proxies) cannot
        # leak in.
        return {k: v for k, v in os.environ.items() if not k.upper().startswith(FOREIGN_ENV)}

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
