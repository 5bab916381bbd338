"""Real faults for reliability tests: a TCP proxy to cut, a Redis to kill, a gateway to signal.

Nothing here patches a function: a fault is a closed port, a killed process or a
signal, so the gateway meets it exactly as it would in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

import httpx

from tests.support.servers import LoopThread, free_port

T = TypeVar("T")


def wait_until(
    check: Callable[[], T], *, timeout: float = 15.0, interval: float = 0.05, what: str = ""
) -> T:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or check}")
        time.sleep(interval)


def metric(base_url: str, name: str, labels: str = "") -> float:
    """One sample of a Prometheus counter or gauge from ``/metrics`` (0 when absent)."""
    return metric_value(httpx.get(f"{base_url}/metrics", timeout=5).text, name, labels)


def metric_value(exposition: str, name: str, labels: str = "") -> float:
    """One sample from a ``/metrics`` text (0 when absent)."""
    series = re.escape(name + (f"{{{labels}}}" if labels else ""))
    match = re.search(rf"^{series} ([0-9.e+-]+)$", exposition, re.M)
    return float(match.group(1)) if match else 0.0


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


class TcpProxy:
    """A loopback TCP forwarder that can be closed (port refuses, live links reset) and reopened.

    Point a client at ``port`` instead of the real service; ``close()`` is the outage.
    """

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._thread = LoopThread("tcp-proxy")
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()
        self.open()

    def open(self) -> None:
        self._thread.run(self._open())

    def close(self) -> None:
        """Stop listening and reset every live connection: the service is gone."""
        self._thread.run(self._close())

    def stop(self) -> None:
        self.close()
        self._thread.close()

    async def _open(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(
                self._accept, "127.0.0.1", self.port, reuse_address=True
            )

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._links):
            transport = writer.transport
            if isinstance(transport, asyncio.Transport):
                transport.abort()  # RST, like a crashed server, not a polite FIN
        self._links.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._links.update((writer, up_writer))
        try:
            await asyncio.gather(
                self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
            )
        finally:
            for w in (writer, up_writer):
                self._links.discard(w)
                w.transport.abort()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        with contextlib.suppress(OSError):
            writer.write_eof()


class RedisProcess:
    """A private ``redis-server`` on a free port: kill it, start it again on the same port."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.workdir.mkdir(parents=True, exist_ok=True)
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--save", "", "--appendonly", "no", "--dir", str(self.workdir)]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: self._pong(), timeout=10, what=f"redis on port {self.port}")

    def kill(self) -> None:
        """SIGKILL: no goodbye to subscribers, like a crashed server."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        wait_until(lambda: not port_open(self.port), timeout=5, what="redis port to close")

    def _pong(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False


class GatewayProcess:
    """``python -m previewgate serve [args]`` (or another ``command``, e.g. ``demo``) as a real
    child process, configured by environment."""

    def __init__(
        self,
        env: Mapping[str, str],
        log_path: Path,
        args: Sequence[str] = (),
        *,
        command: str = "serve",
        cwd: Path | None = None,
    ) -> None:
        self.port = int(env.get("PREVIEWGATE_PORT") or free_port())
        full = {k: v for k, v in os.environ.items() if not k.startswith("PREVIEWGATE_")}
        full.update(env)
        full["PREVIEWGATE_PORT"] = str(self.port)
        full.setdefault("PREVIEWGATE_LOG_LEVEL", "WARNING")
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "previewgate", command, *args],
            env=full,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until(self._healthy, timeout=30, interval=0.05, what="gateway subprocess")
        except AssertionError:
            self.stop()
            raise AssertionError(f"gateway did not start:\n{self.log()}") from None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _healthy(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"gateway exited with {self.proc.returncode}:\n{self.log()}")
        try:
            return httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def terminate(self) -> None:
        self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout: float = 60) -> int:
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()


def gateway_env(settings: object, **extra: str) -> dict[str, str]:
    """The environment that makes a child gateway use the same store and key as ``settings``."""
    from previewgate.config import Settings

    assert isinstance(settings, Settings)
    env = {
        "PREVIEWGATE_DATABASE_URL": settings.resolved_database_url,
        "PREVIEWGATE_BLOB_URL": settings.resolved_blob_url,
        "PREVIEWGATE_ENCRYPTION_KEY": settings.encryption_key or "",
        "PREVIEWGATE_DATA_DIR": str(settings.data_dir),
        "PREVIEWGATE_UPSTREAM_READ_TIMEOUT_S": str(settings.upstream_read_timeout_s),
    }
    env.update(extra)
    return env
