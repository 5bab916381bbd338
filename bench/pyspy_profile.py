"""py-spy on the gateway during measured cells, and a summary of where its time goes.

    .venv/bin/python bench/overhead.py --py-spy DIR ...    # one raw file per gateway run
    .venv/bin/python bench/pyspy_profile.py DIR/*.txt [--top 25]

py-spy samples the gateway (and its uvicorn worker processes) from the load
generator's CPU. Percentages are shares of the main thread's samples: it runs the
event loop, and at saturation it is busy ~95 % of the time and spends ~90 % of the
process's CPU; py-spy leaves out its idle waits, but not those of the worker threads
(thread pool, aiosqlite), whose samples are therefore counted apart. ``self`` counts
the innermost Python frame of each sample (time in C code called from it counts there
too: uvloop's own work and socket system calls land in ``Runner.run``); ``inclusive``
counts every function on the stack once; ``component`` groups the stacks by the first
matching rule in ``COMPONENTS``.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

PY_SPY = Path(sys.executable).parent / "py-spy"
NO_FRAME = "(no Python frame: event loop and other C code)"
EVENT_LOOP = "Runner.run (asyncio/runners.py)"  # its self time: uvloop's C loop, syscalls
THREAD_ROOT = "Thread._bootstrap (threading.py)"
# Frames every main-thread sample passes through; not worth listing as inclusive.
OUTER = (
    "(click/",
    "(uvicorn/main.py",
    "(uvicorn/server.py",
    "(uvicorn/_compat.py",
    "(previewgate/cli/",
    "(asyncio/runners.py",
    "<module> (",
)
# (component, substrings of which one on the stack (any frame) or the leaf (leaf only)
# selects it); the first match wins.
COMPONENTS: tuple[tuple[str, tuple[str, ...], bool], ...] = (
    (
        "usage writer + evidence (SQLAlchemy, aiosqlite calls)",
        ("(previewgate/usage/", "(previewgate/evidence/", "(sqlalchemy/", "(aiosqlite/"),
        False,
    ),
    (
        "upstream HTTP client (request and response)",
        ("(aiohttp/", "(previewgate/gateway/http_client.py", "(httptools/"),
        False,
    ),
    ("uvicorn (HTTP parsing, ASGI send)", ("(uvicorn/",), True),
    ("event loop C code (uvloop, system calls)", (EVENT_LOOP, NO_FRAME), True),
    ("PreviewGate request handling", ("(previewgate/",), True),
    ("other (uuid, asyncio tasks, ...)", ("",), True),
)


class Recording:
    """``py-spy record -f raw`` on ``pid`` until ``stop()``."""

    def __init__(self, pid: int, path: Path, extra: Sequence[str] = (), rate: int = 250) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        argv = [str(PY_SPY), "record", "-p", str(pid), "-f", "raw", "-o", str(path)]
        # py-spy pauses the process for each sample (~7 % slower here). With --nonblocking
        # it does not, but then ~20 % of samples fail (the stack changed while being read),
        # mostly while Python code runs, which over-weights frames waiting in system calls.
        flags = ["-r", str(rate), "--nolineno", "--subprocesses", *extra]
        self.log = path.with_suffix(".log").open("wb")
        self.proc = subprocess.Popen(
            [*argv, *flags], stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT
        )

    def stop(self) -> None:
        # SIGINT makes py-spy write what it has recorded.
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()


def read_stacks(paths: Iterable[Path]) -> Counter[tuple[str, ...]]:
    """Folded stacks (outermost first, the process frame dropped) -> sample count."""
    stacks: Counter[tuple[str, ...]] = Counter()
    for path in paths:
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if stack and count.isdigit():
                frames = [f for f in stack.split(";") if not f.startswith("process ")]
                stacks[tuple(frames or [NO_FRAME])] += int(count)
    return stacks


def component(frames: tuple[str, ...]) -> str:
    for name, marks, leaf_only in COMPONENTS:
        where = frames[-1:] if leaf_only else frames
        if any(mark in frame for frame in where for mark in marks):
            return name
    return COMPONENTS[-1][0]


def summarise(stacks: Counter[tuple[str, ...]], top: int) -> str:
    """Shares of the main thread's samples (the event loop: the gateway's bottleneck)."""
    threads = sum(n for frames, n in stacks.items() if frames[0] == THREAD_ROOT)
    main = {frames: n for frames, n in stacks.items() if frames[0] != THREAD_ROOT}
    total = sum(main.values())
    if not total:
        return "no samples"
    parts: Counter[str] = Counter()
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    for frames, n in main.items():
        parts[component(frames)] += n
        own[frames[-1]] += n
        for frame in set(frames):
            if not any(o in frame for o in OUTER):
                incl[frame] += n
    lines = [
        f"{total} main-thread samples; {threads} in other threads, left out (py-spy counts "
        "their idle queue waits as busy: read their CPU from /proc/<pid>/task instead)"
    ]
    for title, counts in (("component", parts), ("self", own), ("inclusive", incl)):
        lines += ["", f"{title:>10}"]
        lines += [f"{n / total:10.1%}  {frame}" for frame, n in counts.most_common(top)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Summarise py-spy raw files")
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--top", type=int, default=25)
    args = p.parse_args(argv)
    print(summarise(read_stacks(args.files), args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
