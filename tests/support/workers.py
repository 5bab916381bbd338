"""A ``previewgate serve --workers N`` process tree, and connections pinned to one worker.

Which worker answered is read from the kernel, not from the app: a test finds the
accepted end of its own connection in /proc/net/tcp and the worker holding that socket.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
from pathlib import Path
from typing import Any

from tests.support.faults import GatewayProcess, metric_value, wait_until

MODEL = "demo/prod"


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
        self.workers: list[int] = []  # none yet: a start that fails stops only the parent
        super().__init__(env, log_path, args=["--workers", str(workers)])
        self.workers = wait_until(
            lambda: self._children(workers), timeout=30, what="worker processes"
        )

    def _children(self, count: int) -> list[int] | None:
        assert self.proc.poll() is None, self.log()
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        pids = [int(p) for p in path.read_text().split()]
        # multiprocessing's resource tracker is a child too; it serves nothing.
        found = [p for p in pids if b"resource_tracker" not in cmdline(p)]
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
            if cmdline(pid):
                os.kill(pid, signal.SIGKILL)


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


class TwoWorkerGateways:
    """Starts ``serve --workers 2`` gateways on a store and stops every one it started.

    The periodic reload is ten minutes away, so only what a test enables (Redis, the
    generation poll) can explain a worker's new state.
    """

    def __init__(self, log_dir: Path) -> None:
        self._log_dir = log_dir
        self.started: list[Gateway] = []

    def start(self, store: dict[str, str], *, redis_url: str | None, poll_s: float) -> Gateway:
        env = {
            **store,
            "PREVIEWGATE_CACHE_TTL_S": "600",
            "PREVIEWGATE_ROUTING_POLL_S": str(poll_s),
            "PREVIEWGATE_HOST": "127.0.0.1",
        }
        if redis_url:
            env["PREVIEWGATE_REDIS_URL"] = redis_url
        gateway = Gateway(env, 2, self._log_dir / f"gateway-{len(self.started)}.log")
        self.started.append(gateway)
        return gateway

    def stop_all(self) -> None:
        for gateway in self.started:
            gateway.stop()
