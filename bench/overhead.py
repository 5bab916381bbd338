"""Gateway overhead benchmark: the fast upstream called directly vs through PreviewGate.

    .venv/bin/python bench/overhead.py [--duration 5] [--runs 3] [--concurrency 1,16] [--litellm]

Starts the mock upstream and a migrated, seeded gateway (and, with --litellm, LiteLLM's
proxy) as pinned child processes, loads each target at fixed concurrency (non-streaming
and streaming), prints one table of medians with every row compared with the direct
call (and LiteLLM), checks issue 7's targets, and saves the full results as JSON under
bench/results/. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvloop

import litellm_proxy
from loadgen import Target, measure
from procs import pin_self, usable_cpus
from pyspy_profile import PY_SPY, Recording
from report import (
    Record,
    issue7_checks,
    machine_info,
    render_checks,
    render_table,
    render_tracing_costs,
    run_record,
    save,
    summarise,
    tracing_costs,
)
from stack import DEFAULT_PG_ADMIN, TRACED_TARGETS, Pinning, Stack

RESULTS = Path(__file__).resolve().parent / "results"
WRITER_PREFIX = "previewgate_writer_"
LAG_PREFIX = "previewgate_event_loop_lag_seconds_bucket"
PREVIEWGATE_TARGETS = ("gateway", "experiment", "messages", *TRACED_TARGETS)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="PreviewGate overhead benchmark")
    p.add_argument("--duration", type=float, default=5.0, help="measured seconds per run")
    p.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each")
    p.add_argument("--runs", type=int, default=3, help="repetitions per cell (medians)")
    p.add_argument("--concurrency", default="1,16", help="comma-separated, e.g. 1,16,64")
    p.add_argument("--modes", default="json,stream", help="json and/or stream")
    p.add_argument("--postgres", action="store_true", help="use a throwaway PostgreSQL db")
    p.add_argument("--postgres-dsn", default=DEFAULT_PG_ADMIN, help="admin DSN for --postgres")
    p.add_argument(
        "--pin-postgres",
        action="store_true",
        help="pin the local PostgreSQL server to the upstream's CPUs (default: unpinned)",
    )
    p.add_argument(
        "--targets",
        default=",".join(PREVIEWGATE_TARGETS),
        help="besides direct (+litellm); the +otel ones run on a second gateway, tracing on",
    )
    p.add_argument("--litellm", action="store_true", help="add LiteLLM's proxy (own venv)")
    p.add_argument("--workers", type=int, default=1, help="gateway processes (and CPUs)")
    p.add_argument("--uvicorn-http", choices=("httptools", "h11"), help="plain uvicorn, parser")
    p.add_argument("--uvicorn-loop", choices=("uvloop", "asyncio"), help="plain uvicorn, loop")
    p.add_argument("--py-spy", type=Path, metavar="DIR", help="profile gateway runs into DIR")
    p.add_argument("--py-spy-flags", default="", help="extra py-spy flags, e.g. --nonblocking")
    p.add_argument("--no-pin", action="store_true", help="do not pin processes to CPUs")
    p.add_argument("--no-save", action="store_true", help="do not write bench/results/*.json")
    p.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    args = p.parse_args(argv)
    args.concurrency = [int(c) for c in args.concurrency.split(",") if c.strip()]
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    args.targets = {t.strip() for t in args.targets.split(",") if t.strip()}
    if not args.targets <= set(PREVIEWGATE_TARGETS):
        p.error(f"--targets takes some of {', '.join(PREVIEWGATE_TARGETS)}")
    if args.workers < 1:
        p.error("--workers >= 1")
    if args.py_spy and not PY_SPY.exists():
        p.error(f"--py-spy needs {PY_SPY} (pip install py-spy)")
    args.uvicorn = None
    if args.uvicorn_http or args.uvicorn_loop:
        args.uvicorn = (args.uvicorn_http or "httptools", args.uvicorn_loop or "uvloop")
    if not args.concurrency or min(args.concurrency) < 1:
        p.error("--concurrency needs positive integers")
    if not set(args.modes) <= {"json", "stream"} or not args.modes:
        p.error("--modes takes json and/or stream")
    if args.runs < 1 or args.duration <= 0 or args.warmup < 0:
        p.error("--runs >= 1, --duration > 0 and --warmup >= 0")
    return args


def writer_stats(url: str) -> dict[str, float]:
    """The gateway's usage-writer gauges and counters from /metrics (rows, drops, queue), and
    its event-loop lag histogram's cumulative buckets."""
    with urllib.request.urlopen(url, timeout=5) as resp:
        text = resp.read().decode()
    stats: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith((WRITER_PREFIX, LAG_PREFIX)):
            name, _, value = line.rpartition(" ")
            stats[name] = float(value)
    return stats


class WriterWatch:
    """The usage writer over one run (warm-up, window and settling): rows written per second,
    the deepest queue seen (sampled every ``EVERY_S`` from /metrics) and rows dropped."""

    EVERY_S = 0.5

    def __init__(self, url: str) -> None:
        self.url = url
        self.first: dict[str, float] = {}
        self.last: dict[str, float] = {}
        self.depths: list[float] = []
        self.started = self.ended = 0.0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.first = await asyncio.to_thread(writer_stats, self.url)
        self.started = time.perf_counter()
        self._task = asyncio.create_task(self._sample())

    async def _sample(self) -> None:
        while not self._stop.is_set():
            stats = await asyncio.to_thread(writer_stats, self.url)
            self.depths.append(stats.get(f"{WRITER_PREFIX}queue_depth", 0.0))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.EVERY_S)

    async def stop(self) -> None:
        if self._task is None:
            return
        self._stop.set()
        await self._task
        self.last = await asyncio.to_thread(writer_stats, self.url)
        self.ended = time.perf_counter()

    def _delta(self, suffix: str) -> float:
        return sum(
            v - self.first.get(k, 0.0)
            for k, v in self.last.items()
            if k.startswith(WRITER_PREFIX + suffix)
        )

    def _lag_bounds(self) -> tuple[float | None, float | None]:
        """Upper bounds (ms) of the buckets holding the 99th percentile and the worst loop lag
        sampled over the run: the histogram's buckets, not exact values."""
        found = []
        for key, value in self.last.items():
            if key.startswith(LAG_PREFIX) and 'le="+Inf"' not in key:
                bound = float(key.split('le="', 1)[1].split('"', 1)[0])
                found.append((bound, value - self.first.get(key, 0.0)))
        total = next(
            (
                v - self.first.get(k, 0.0)
                for k, v in self.last.items()
                if k.startswith(LAG_PREFIX) and 'le="+Inf"' in k
            ),
            0.0,
        )
        if not found or total <= 0:
            return None, None
        found.sort()
        p99 = next((b for b, n in found if n >= 0.99 * total), None)
        worst = next((b for b, n in found if n >= total), None)
        return (p99 * 1000 if p99 else None), (worst * 1000 if worst else None)

    def summary(self) -> dict[str, float | None]:
        rows = self._delta("rows_total")
        lag_p99, lag_max = self._lag_bounds()
        return {
            "rows": rows,
            "rows_per_s": rows / max(self.ended - self.started, 1e-9),
            "queue_max": max(self.depths, default=0.0),
            "dropped": self._delta("dropped_total"),
            "failures": self._delta("failures_total"),
            "loop_lag_p99_ms": lag_p99,  # None: above the largest finite bucket (1 s)
            "loop_lag_max_ms": lag_max,
        }


async def run_matrix(args: argparse.Namespace, stack: Stack, targets: list[Target]) -> list[Record]:
    # Inside the loop SIGTERM cancels the run, so unwinding starts at a clean await.
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    records: list[Record] = []
    pids = stack.pids()
    cells = [(mode == "stream", c) for mode in args.modes for c in args.concurrency]
    total = len(cells) * args.runs * len(targets)
    for stream, conc in cells:
        for run in range(args.runs):
            # Alternate the order (ABBA...) so slow drift does not favour one target.
            for target in targets if run % 2 == 0 else targets[::-1]:
                spy = None
                if args.py_spy and target.process == "gateway":
                    name = f"{'stream' if stream else 'json'}-c{conc}-{target.name}-{run}.txt"
                    spy = Recording(pids["gateway"], args.py_spy / name, args.py_spy_flags.split())
                gateway = target.process.startswith("gateway")
                watcher = WriterWatch(stack.gateway_metrics_url(target.process))
                # /metrics answers for one worker: the run's deltas need a single one.
                if gateway and args.workers == 1:
                    await watcher.start()
                try:
                    sample = await measure(target, stream, conc, args.warmup, args.duration, pids)
                finally:
                    if spy is not None:
                        spy.stop()
                    await watcher.stop()
                record = run_record(target, stream, conc, run, sample)
                if gateway:
                    record["writer"] = writer_stats(stack.gateway_metrics_url(target.process))
                    if args.workers == 1:
                        record["writer_run"] = watcher.summary()
                records.append(record)
                print(_progress(len(records), total, record), file=sys.stderr, flush=True)
    return records


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:g} ms"


def _progress(done: int, total: int, r: Record) -> str:
    p50 = "-" if r["p50_ms"] is None else f"{r['p50_ms']:.2f}"
    err = f" first error: {r['first_error']}" if r["first_error"] else ""
    cpu = "-" if r["cpu_ms_per_req"] is None else f"{r['cpu_ms_per_req']:.3f}"
    return (
        f"[{done}/{total}] {r['mode']:6} c={r['concurrency']:<3} {r['target']:10} run {r['run']}: "
        f"{r['rps']:8.0f} req/s  p50 {p50} ms  cpu {cpu} ms/req  settled in "
        f"{r['settle_s']:.1f} s  errors {r['errors']}{err}"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Outside the event loop SIGTERM unwinds like Ctrl-C: children stop, temp dirs go.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    pinning = Pinning.for_machine(not args.no_pin, usable_cpus(), args.workers)
    pin_self(pinning.others)
    started = datetime.now(UTC)
    t0 = time.monotonic()
    machine = machine_info()
    if machine["loadavg_1m"] > 0.5 * len(usable_cpus()):
        print(
            f"warning: load average {machine['loadavg_1m']:.1f}; figures will be noisy",
            file=sys.stderr,
        )
    pg = args.postgres_dsn if args.postgres else None
    traced = bool(args.targets & set(TRACED_TARGETS))
    stack = Stack(pinning, pg, args.workers, args.uvicorn, args.litellm, args.pin_postgres, traced)
    with stack:
        if stack.litellm_error:
            print(f"error: --litellm: {stack.litellm_error}", file=sys.stderr)
            print("going on without the litellm row", file=sys.stderr)
        wanted = {"direct", "litellm", *args.targets}
        targets = [t for t in stack.targets() if t.name in wanted]
        try:
            records = uvloop.run(run_matrix(args, stack, targets))
        except asyncio.CancelledError:
            print("\ninterrupted; servers stopped", file=sys.stderr)
            return 143
    rows = summarise(records, [t.name for t in targets])
    document: dict[str, Any] = {
        "date": started.isoformat(),
        "wall_s": round(time.monotonic() - t0, 1),
        "machine": machine,
        "loadavg_1m_end": os.getloadavg()[0],
        "settings": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "runs": args.runs,
            "concurrency": args.concurrency,
            "modes": args.modes,
            "store": "postgresql" if args.postgres else "sqlite",
            "workers": args.workers,
            "server": "previewgate serve"
            if args.uvicorn is None
            else "uvicorn --http {} --loop {}".format(*args.uvicorn),
            "pinning": pinning.describe(),
            "litellm": litellm_proxy.version() if args.litellm else None,
            "litellm_error": stack.litellm_error,
            "targets": [{"name": t.name, "model": t.model, "process": t.process} for t in targets],
        },
        "summary": rows,
        "issue7_checks": issue7_checks(rows),
        "tracing_cost": tracing_costs(rows),
        "runs": records,
        # Read after the gateway stopped, so shutdown complaints (unwritten rows) count too.
        "gateway_log_problems": stack.gateway_log_problems[:50],
    }
    print_report(document, args.markdown)
    if not args.no_save:
        print(f"\nsaved {save(RESULTS, document)}")
    return 1 if any(r["errors"] for r in rows) or stack.litellm_error else 0


def print_report(document: dict[str, Any], markdown: bool) -> None:
    settings, rows = document["settings"], document["summary"]
    sys.stderr.flush()
    print(f"\n{settings['server']}, {settings['workers']} worker(s); ", end="")
    print(f"pinning: {settings['pinning']}; store: {settings['store']}; ", end="")
    print(f"medians of {settings['runs']} run(s) x {settings['duration_s']:g} s per cell")
    if settings["litellm"]:
        print(f"litellm {settings['litellm']}")
    print(render_table(rows))
    if markdown:
        print()
        print(render_table(rows, markdown=True))
    if document["tracing_cost"]:
        print("\ntracing on (OTLP export of every request's spans), against the same rows off:")
        print(render_tracing_costs(document["tracing_cost"]))
    if document["issue7_checks"]:
        print("\nissue 7 targets:")
        print(render_checks(document["issue7_checks"]))
    if settings["litellm_error"]:
        print(f"\nno litellm row: {settings['litellm_error'].splitlines()[0]}")
    writer = next((r["writer"] for r in reversed(document["runs"]) if "writer" in r), None)
    if writer:
        stats = ", ".join(f"{k.removeprefix(WRITER_PREFIX)}={v:g}" for k, v in writer.items())
        print(f"\ngateway usage writer after the last cell: {stats}")
    if any("writer_run" in r for r in document["runs"]):
        print(
            "\nusage writer and event-loop lag per run (usage + attribution rows; the loop lag "
            "as histogram bucket bounds; warm-up start to settled):"
        )
    for r in document["runs"]:
        w = r.get("writer_run")
        if w:
            print(
                f"  run {r['run']} of {r['mode']:6} c={r['concurrency']:<3} {r['target']:10}: "
                f"{w['rows']:8.0f} rows  {w['rows_per_s']:7.0f} rows/s  "
                f"max queue {w['queue_max']:6.0f}  dropped {w['dropped']:.0f}  "
                f"failures {w['failures']:.0f}  loop lag p99 <= {_ms(w.get('loop_lag_p99_ms'))}"
                f"  max <= {_ms(w.get('loop_lag_max_ms'))}"
            )
    if settings["workers"] > 1:
        print("\ngateway CPU per worker, % (each worker has its own SO_REUSEPORT socket):")
        for r in document["runs"]:
            split = [v for k, v in r["cpu_s"].items() if k.startswith("gateway worker")]
            if r["target"] in PREVIEWGATE_TARGETS and sum(split) > 0:
                shares = " / ".join(f"{100 * v / sum(split):.0f}" for v in split)
                print(f"  {r['mode']:6} c={r['concurrency']:<3} {r['target']:10} {shares}")
    problems = document["gateway_log_problems"]
    if problems:
        print(f"\ngateway logged {len(problems)} warning/error line(s); first ones:")
        print("\n".join(problems[:5]))


if __name__ == "__main__":
    sys.exit(main())
