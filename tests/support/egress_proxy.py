"""A real HTTP egress proxy for tests: Debian's tinyproxy, on a free loopback port.

``make test`` installs it (``scripts/ensure-tinyproxy.sh``). It logs every request it
carries (``CONNECT host:port`` for tunnels, ``POST http://...`` for forwarded requests), so
tests can tell which calls went through it. With ``credentials`` it demands Basic auth:
no credentials get a 407, wrong ones a 401 (tinyproxy's own choice).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from tests.support.servers import free_port

STARTUP_S = 10.0


class Tinyproxy:
    def __init__(self, workdir: Path, credentials: tuple[str, str] | None = None) -> None:
        binary = shutil.which("tinyproxy")
        assert binary, "tinyproxy is missing: run scripts/ensure-tinyproxy.sh (make test does)"
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.log_path = workdir / "tinyproxy.log"
        lines = [
            f"Port {self.port}",
            "Listen 127.0.0.1",
            "Allow 127.0.0.1",
            "Timeout 30",
            "MaxClients 64",
            "LogLevel Connect",
            f'LogFile "{self.log_path}"',
        ]
        if credentials is not None:
            lines.append(f"BasicAuth {credentials[0]} {credentials[1]}")
        config = workdir / "tinyproxy.conf"
        config.write_text("\n".join(lines) + "\n")
        self.proc = subprocess.Popen(
            [binary, "-d", "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_listening()

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + STARTUP_S
        while True:
            assert self.proc.poll() is None, f"tinyproxy exited: {self.log()}"
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)  # polling for readiness, not waiting for an outcome

    def url(self, credentials: tuple[str, str] | None = None) -> str:
        auth = f"{credentials[0]}:{credentials[1]}@" if credentials else ""
        return f"http://{auth}127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def requests(self) -> list[str]:
        """The request lines it received (``CONNECT 127.0.0.1:443 HTTP/1.1``, ...)."""
        marker = "]: Request (file descriptor"
        return [
            line.split("): ", 1)[1].strip()
            for line in self.log().splitlines()
            if marker in line and "): " in line
        ]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def closed_port() -> int:
    """A loopback port nothing listens on (a proxy that is down)."""
    return free_port()
