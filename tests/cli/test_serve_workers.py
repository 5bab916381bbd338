"""`previewgate serve --workers 2` as a real process tree: load spread, invalidation, exits.

Which worker answered is read from the kernel, not from the app: the test finds the
accepted end of its own connection in /proc/net/tcp and the worker holding that socket.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from previewgate.cli.main import cli
from tests.conftest import REDIS_URL
from tests.support.faults import GatewayProcess, metric_value, wait_until

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

MODEL = "demo/prod"
UPSTREAM = '{"internal_id": "m", "base_url": "http://127.0.0.1:9/v1"}'


def _accepted_inode(server_port: int, client_port: int) -> str | None:
    local, remote = f"0100007F:{server_port:04X}", f"0100007F:{client_port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == local and fields[2] == remote:
            return fields[9]
    return None


def _holder(inode: str, pids: list[int]) -> int | None:
    target = f"socket:[{inode}]"
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) == target:
                    return pid
            except OSError:
                continue  # closed in between
    return None


class Pinned:
    """One keep-alive connection, and the worker process that accepted it."""

    def __init__(self, port: int, workers: list[int]) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.conn.connect()
        assert self.conn.sock is not None
        self.local = self.conn.sock.getsockname()
        self.request("GET", "/healthz")  # accepted by now
        inode = _accepted_inode(port, self.local[1])
        self.worker = _holder(inode, workers) if inode else None

    def request(
        self, method: str, path: str, body: Any = None, key: str | None = None
    ) -> tuple[int, Any]:
        headers = {"authorization": f"Bearer {key}"} if key else {}
        data = None
        if body is not None:
            data, headers["content-type"] = json.dumps(body), "application/json"
        self.conn.request(method, path, body=data, headers=headers)
        resp = self.conn.getresponse()
        raw = resp.read()
        # http.client reconnects silently; a new connection might reach another worker.
        assert self.conn.sock is not None and self.conn.sock.getsockname() == self.local
        ctype = resp.getheader("content-type", "")
        return resp.status, json.loads(raw) if ctype.startswith("application/json") else raw

    def metric(self, name: str) -> float:
        status, text = self.request("GET", "/metrics")
        assert status == 200
        return metric_value(text.decode(), name)

    def model_name(self) -> str:
        status, body = self.request("GET", "/api/openrouter/models")
        assert status == 200
        return next(str(m["name"]) for m in body["data"] if m["id"] == MODEL)

    def close(self) -> None:
        self.conn.close()


class Gateway(GatewayProcess):
    """``previewgate serve --workers N`` in a subprocess, and its worker processes."""

    def __init__(self, env: dict[str, str], workers: int, log_path: Path) -> None:
        super().__init__(env, log_path, args=["--workers", str(workers)])
        self.workers = wait_until(
            lambda: self._children(workers), timeout=30, what="worker processes"
        )

    def _children(self, count: int) -> list[int] | None:
        assert self.proc.poll() is None, self.log()
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        pids = [int(p) for p in path.read_text().split()]
        # multiprocessing's resource tracker is a child too; it serves nothing.
        found = [p for p in pids if b"resource_tracker" not in _cmdline(p)]
        return found if len(found) == count else None

    def connect_to_each_worker(self, timeout_s: float = 30) -> dict[int, Pinned]:
        """One connection per worker, opened until the kernel has handed one to each."""
        pinned: dict[int, Pinned] = {}

        def attempt() -> bool:
            assert self.proc.poll() is None, self.log()
            try:
                conn = Pinned(self.port, self.workers)
            except ConnectionRefusedError:
                return False  # no worker listens before its app has started
            if conn.worker in pinned or conn.worker is None:
                conn.close()
            else:
                pinned[conn.worker] = conn
            return len(pinned) == len(self.workers)

        wait_until(attempt, timeout=timeout_s, what=f"connections on each worker ({pinned})")
        return pinned

    def stop(self) -> None:
        super().stop()
        for pid in self.workers:  # only if the parent failed to stop them
            if _cmdline(pid):
                os.kill(pid, signal.SIGKILL)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


@pytest.fixture
def store_env(
    database_url: str, encryption_key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """The test's store, also set here for the in-process CLI that seeds it."""
    env = {
        "PREVIEWGATE_DATABASE_URL": database_url,
        "PREVIEWGATE_ENCRYPTION_KEY": encryption_key,
        "PREVIEWGATE_DATA_DIR": str(tmp_path / "data"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def start_gateway(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], Gateway]]:
    """Starts two-worker gateways on a given store; stops whatever is left at teardown."""
    started: list[Gateway] = []

    def _start(store: dict[str, str]) -> Gateway:
        env = {
            **store,
            "PREVIEWGATE_REDIS_URL": REDIS_URL,
            # Far beyond the test: no periodic reload can explain a worker's new state.
            "PREVIEWGATE_CACHE_TTL_S": "600",
            "PREVIEWGATE_HOST": "127.0.0.1",
        }
        gateway = Gateway(env, 2, tmp_path / f"gateway-{len(started)}.log")
        started.append(gateway)
        return gateway

    yield _start
    for gateway in started:
        gateway.stop()


def _seed() -> str:
    """An admin and one model; returns the admin's API key."""
    runner = CliRunner()
    made = runner.invoke(cli, ["users", "create", "ops@example.com", "--admin"])
    assert made.exit_code == 0, made.output
    added = runner.invoke(cli, ["models", "add", MODEL, "--upstream", UPSTREAM, "--name", "v1"])
    assert added.exit_code == 0, added.output
    return made.output.strip().splitlines()[-1]


def test_catalog_change_reaches_every_worker(
    store_env: dict[str, str], start_gateway: Callable[[dict[str, str]], Gateway]
) -> None:
    # store_env comes first: its database is dropped after the gateway has stopped.
    admin_key = _seed()
    gateway = start_gateway(store_env)
    pinned = gateway.connect_to_each_worker()
    assert sorted(pinned) == sorted(gateway.workers)
    editor, *others = workers = list(pinned.values())
    # A worker is subscribed once it has reloaded a second time: the listener wakes the
    # reloader right after SUBSCRIBE (the first reload is at startup).
    for w in workers:
        wait_until(
            lambda w=w: w.metric("previewgate_cache_reloads_total") >= 2, what="subscription"
        )
    assert [w.model_name() for w in workers] == ["v1"] * len(workers)
    heard = [w.metric("previewgate_cache_invalidations_total") for w in workers]

    status, body = editor.request(
        "PATCH", f"/admin/api/models/{MODEL}", {"display_name": "v2"}, key=admin_key
    )
    assert status == 200, body

    for w in others:  # told only by Redis: the TTL is ten minutes
        wait_until(
            lambda w=w: w.model_name() == "v2", timeout=5, what=f"worker {w.worker} to serve it"
        )
    assert editor.model_name() == "v2"
    after = [w.metric("previewgate_cache_invalidations_total") for w in workers]
    assert all(a > b for a, b in zip(after, heard, strict=True)), (heard, after)

    for w in workers:
        w.close()
    gateway.stop()
    assert gateway.proc.returncode == 0, gateway.log()
    assert not any(_cmdline(pid) for pid in gateway.workers), "a worker outlived the parent"


def test_a_dead_worker_stops_the_gateway(
    start_gateway: Callable[[dict[str, str]], Gateway], tmp_path: Path
) -> None:
    # Supervision does not depend on the store: embedded defaults, one run.
    gateway = start_gateway({"PREVIEWGATE_DATA_DIR": str(tmp_path / "data")})
    survivor, victim = gateway.connect_to_each_worker()  # both serving
    os.kill(victim, signal.SIGKILL)
    assert gateway.wait() == 1, gateway.log()
    assert f"worker {victim} exited (status -9); stopping the gateway" in gateway.log()
    assert not _cmdline(survivor), "the other worker outlived the parent"
