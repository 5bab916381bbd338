"""Child processes for the benchmark: pinned, tied to our lifetime, always stopped.

A child is pinned to its CPUs before it executes anything (so every thread it
starts inherits the mask) and receives SIGTERM if this process dies, so an
interrupted or killed benchmark leaves no servers behind.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

PR_SET_PDEATHSIG = 1
CLK_TCK = os.sysconf("SC_CLK_TCK")
_LIVE: list[Child] = []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def usable_cpus() -> set[int]:
    return set(os.sched_getaffinity(0))


def pin_self(cpus: set[int] | None) -> None:
    """Pin this process (the load generator) to ``cpus``; None leaves it alone."""
    if cpus:
        os.sched_setaffinity(0, cpus)


def pin_processes_named(name: str, cpus: set[int] | None) -> Callable[[], None]:
    """Pin every running process called ``name`` (e.g. the local PostgreSQL server, whose
    postmaster passes the mask on to new backends) to ``cpus``; returns what restores the
    old masks. Processes we may not pin are left alone."""
    saved: dict[int, set[int]] = {}
    if cpus:
        for comm in Path("/proc").glob("[0-9]*/comm"):
            try:
                if comm.read_text().strip() != name:
                    continue
                pid = int(comm.parent.name)
                saved[pid] = set(os.sched_getaffinity(pid))
                os.sched_setaffinity(pid, cpus)
            except (OSError, ValueError):
                continue

    def restore() -> None:
        for pid, mask in saved.items():
            with contextlib.suppress(OSError):  # gone already
                os.sched_setaffinity(pid, mask)

    return restore


def _child_setup(cpus: set[int] | None) -> Callable[[], None]:
    def setup() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if cpus:
            os.sched_setaffinity(0, cpus)

    return setup


def _stat_fields(pid: int) -> list[str]:
    """Fields 3.. of /proc/<pid>/stat (state, ppid, ...)."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) may contain spaces; fields after its ")" are fixed.
    return raw[raw.rindex(")") + 2 :].split()


def descendants(pid: int) -> list[int]:
    """Live descendants of ``pid`` (e.g. uvicorn's worker processes), found by parent id."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents.setdefault(int(_stat_fields(int(entry.name))[1]), []).append(
                    int(entry.name)
                )
            except (OSError, ValueError, IndexError):
                continue  # exited while we looked
    found, todo = [], [pid]
    while todo:
        kids = parents.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` and its live descendants (all threads)."""
    fields = _stat_fields(pid)
    total = int(fields[11]) + int(fields[12])
    for child in descendants(pid):
        try:
            fields = _stat_fields(child)
        except OSError:
            continue  # exited in between
        total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


class Child:
    """A server process started by the benchmark; ``stop()`` is idempotent."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        env: dict[str, str],
        log_path: Path,
        cpus: set[int] | None,
    ) -> None:
        self.name = name
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            list(argv),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=_child_setup(cpus),
        )
        _LIVE.append(self)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def wait_http_ok(self, url: str, timeout_s: float = 60.0) -> None:
        """Poll ``url`` until it answers 200; fail fast if the process exits."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(url, timeout=1) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} not ready after {timeout_s:.0f}s:\n{self.log_tail()}")

    def stop(self, grace_s: float = 15.0) -> None:
        # SIGTERM first: the gateway drains its usage writer on a clean shutdown.
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
        if self in _LIVE:
            _LIVE.remove(self)


def run_checked(argv: Sequence[str], env: dict[str, str], timeout_s: float = 120.0) -> str:
    """Run a one-shot command (migrate, seed) and return its stdout; raise with its output."""
    done = subprocess.run(
        list(argv), env=env, capture_output=True, text=True, timeout=timeout_s, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


@atexit.register
def _stop_all() -> None:
    for child in list(reversed(_LIVE)):
        child.stop(grace_s=5.0)
