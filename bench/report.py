"""Turn raw samples into per-run records, median summaries, the table and the JSON file."""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loadgen import Sample, Target

Record = dict[str, Any]
LITELLM = "litellm"
# (key, header, format) for each column after mode/conc/target; None values print as "-".
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("rps", "req/s", "{:.0f}"),
    ("x_direct", "x direct", "{:.2f}"),
    ("x_litellm", "x litellm", "{:.1f}"),
    ("p50_ms", "p50 ms", "{:.2f}"),
    ("p99_ms", "p99 ms", "{:.2f}"),
    ("added_p50_ms", "+p50 ms", "{:+.2f}"),
    ("added_p99_ms", "+p99 ms", "{:+.2f}"),
    ("ttfb_p50_ms", "ttfb p50", "{:.2f}"),
    ("ttfb_p99_ms", "ttfb p99", "{:.2f}"),
    ("added_ttfb_p50_ms", "+ttfb p50", "{:+.2f}"),
    ("added_ttfb_p99_ms", "+ttfb p99", "{:+.2f}"),
    ("cpu_ms_per_req", "cpu ms/req", "{:.3f}"),
    ("requests", "requests", "{}"),
    ("errors", "errors", "{}"),
)


def percentile_ms(values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile in milliseconds; None for an empty sample."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1] * 1000


def run_record(target: Target, stream: bool, concurrency: int, run: int, sample: Sample) -> Record:
    ok = len(sample.latencies)
    cpu = sample.cpu_s.get(target.process)
    return {
        "mode": "stream" if stream else "json",
        "concurrency": concurrency,
        "target": target.name,
        "run": run,
        "requests": ok,
        "errors": sample.errors,
        "first_error": sample.first_error,
        "elapsed_s": sample.elapsed,
        "rps": ok / sample.elapsed if sample.elapsed else 0.0,
        "p50_ms": percentile_ms(sample.latencies, 50),
        "p99_ms": percentile_ms(sample.latencies, 99),
        "ttfb_p50_ms": percentile_ms(sample.ttfbs, 50) if stream else None,
        "ttfb_p99_ms": percentile_ms(sample.ttfbs, 99) if stream else None,
        "cpu_ms_per_req": cpu * 1000 / ok if ok and cpu is not None else None,
        "cpu_s": sample.cpu_s,
        "settle_s": sample.settle_s,
    }


def _median(records: Sequence[Record], key: str) -> float | None:
    values = [r[key] for r in records if r[key] is not None]
    return statistics.median(values) if values else None


def _diff(a: float | None, b: float | None) -> float | None:
    return a - b if a is not None and b is not None else None


def summarise(records: Sequence[Record], target_names: Sequence[str]) -> list[Record]:
    """One row per (mode, concurrency, target): medians over runs, compared with the baseline.

    Ratios and added latencies are taken between the medians, the baseline being the
    first target (the upstream called directly).
    """
    cells = sorted(
        {(r["mode"], r["concurrency"]) for r in records}, key=lambda c: (c[0] != "json", c[1])
    )
    rows: list[Record] = []
    for mode, conc in cells:
        base: Record | None = None
        for name in target_names:
            runs = [
                r
                for r in records
                if (r["mode"], r["concurrency"], r["target"]) == (mode, conc, name)
            ]
            if not runs:
                continue
            row: Record = {"mode": mode, "concurrency": conc, "target": name, "runs": len(runs)}
            for key in ("rps", "p50_ms", "p99_ms", "ttfb_p50_ms", "ttfb_p99_ms", "cpu_ms_per_req"):
                row[key] = _median(runs, key)
            row["requests"] = sum(r["requests"] for r in runs)
            row["errors"] = sum(r["errors"] for r in runs)
            base = base or row
            row["x_direct"] = row["rps"] / base["rps"] if base["rps"] else None
            for key in ("p50_ms", "p99_ms", "ttfb_p50_ms", "ttfb_p99_ms"):
                row[f"added_{key}"] = _diff(row[key], base[key])
            rows.append(row)
    # PreviewGate's throughput over LiteLLM's in the same cell (issue 7's ratio), and the
    # same from CPU time per request (capacity on one core; less noisy on a shared machine).
    litellm = {(r["mode"], r["concurrency"]): r for r in rows if r["target"] == LITELLM}
    for row in rows:
        ll = litellm.get((row["mode"], row["concurrency"]))
        row["x_litellm"] = row["rps"] / ll["rps"] if ll and ll["rps"] else None
        cpu, ll_cpu = row["cpu_ms_per_req"], ll and ll["cpu_ms_per_req"]
        row["cpu_x_litellm"] = ll_cpu / cpu if ll_cpu and cpu else None
    return rows


def issue7_checks(rows: Sequence[Record]) -> list[Record]:
    """Issue 7's targets for the PreviewGate rows: added latency (TTFB when streaming) at
    c=1 and 16, throughput over LiteLLM at c=16 and 64, CPU per experimented request."""
    checks: list[Record] = []

    def check(row: Record, what: str, value: float | None, goal: float, at_least: bool) -> None:
        if value is not None:
            met = value >= goal if at_least else value <= goal
            cell = {k: row[k] for k in ("mode", "concurrency", "target")}
            checks.append({**cell, "what": what, "value": value, "goal": goal, "met": met})
            if what == "x litellm":
                checks[-1]["cpu_based"] = row["cpu_x_litellm"]

    for row in rows:
        if row["target"] not in ("gateway", "experiment"):
            continue
        mode, conc = row["mode"], row["concurrency"]
        key = "added_ttfb" if mode == "stream" else "added"
        if conc in (1, 16):
            check(row, f"{key.replace('_', ' ')} p50 ms", row[f"{key}_p50_ms"], 0.5, False)
            check(row, f"{key.replace('_', ' ')} p99 ms", row[f"{key}_p99_ms"], 2.0, False)
        if conc in (16, 64):
            goal = 20.0 if mode == "json" else 30.0
            check(row, "x litellm", row["x_litellm"], goal, True)
        if mode == "json" and row["target"] == "experiment":
            check(row, "cpu ms/req", row["cpu_ms_per_req"], 0.5, False)
    for row in rows:  # the formats issue: a translated experimented request (Messages client)
        if row["target"] == "messages" and row["concurrency"] == 16:
            check(row, "cpu ms/req", row["cpu_ms_per_req"], 0.6, False)
    return checks


TRACED_SUFFIX = "+otel"


def tracing_costs(rows: Sequence[Record]) -> list[Record]:
    """For each ``X+otel`` row, what tracing adds over row ``X`` of the same cell: CPU per
    request (absolute and relative) and median latency."""
    by_cell = {(r["mode"], r["concurrency"], r["target"]): r for r in rows}
    costs = []
    for row in rows:
        if not row["target"].endswith(TRACED_SUFFIX):
            continue
        base = by_cell.get((row["mode"], row["concurrency"], row["target"][: -len(TRACED_SUFFIX)]))
        if base is None:
            continue
        off, on = base["cpu_ms_per_req"], row["cpu_ms_per_req"]
        added = _diff(on, off)
        costs.append(
            {
                "mode": row["mode"],
                "concurrency": row["concurrency"],
                "target": base["target"],
                "cpu_ms_per_req_off": off,
                "cpu_ms_per_req_on": on,
                "added_cpu_ms_per_req": added,
                "added_cpu_pct": 100 * added / off if added is not None and off else None,
                "added_p50_ms": _diff(row["p50_ms"], base["p50_ms"]),
                "rps_ratio": row["rps"] / base["rps"] if base["rps"] else None,
            }
        )
    return costs


def render_tracing_costs(costs: Sequence[Record]) -> str:
    def num(value: float | None, fmt: str) -> str:
        return "-" if value is None else fmt.format(value)

    return "\n".join(
        f"  {c['mode']:6} c={c['concurrency']:<3} {c['target']:10} cpu ms/req "
        f"{num(c['cpu_ms_per_req_off'], '{:.3f}')} -> {num(c['cpu_ms_per_req_on'], '{:.3f}')} "
        f"({num(c['added_cpu_ms_per_req'], '{:+.3f}')} ms, "
        f"{num(c['added_cpu_pct'], '{:+.0f}')} %); p50 {num(c['added_p50_ms'], '{:+.2f}')} ms; "
        f"req/s x{num(c['rps_ratio'], '{:.2f}')}"
        for c in costs
    )


def render_checks(checks: Sequence[Record]) -> str:
    lines = []
    for c in checks:
        sense = ">=" if c["what"] == "x litellm" else "<="
        margin = (
            f"{c['value'] / c['goal']:.0%} of goal"
            if sense == ">="
            else f"{c['value'] - c['goal']:+.2f} vs goal"
        )
        if c.get("cpu_based"):
            margin += f"; from cpu ms/req: {c['cpu_based']:.1f}x"
        lines.append(
            f"{'met   ' if c['met'] else 'MISSED'} {c['mode']:6} c={c['concurrency']:<3} "
            f"{c['target']:10} {c['what']:18} {c['value']:8.2f}  "
            f"(goal {sense} {c['goal']:g}; {margin})"
        )
    return "\n".join(lines)


def render_table(rows: Sequence[Record], markdown: bool = False) -> str:
    headers = ["mode", "conc", "target", *(h for _, h, _ in COLUMNS)]
    body = [
        [
            row["mode"],
            str(row["concurrency"]),
            row["target"],
            *("-" if row.get(k) is None else fmt.format(row[k]) for k, _, fmt in COLUMNS),
        ]
        for row in rows
    ]
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        return "\n".join(lines + ["| " + " | ".join(cells) + " |" for cells in body])
    widths = [max(len(r[i]) for r in [headers, *body]) for i in range(len(headers))]
    fmt_row = "  ".join(
        f"{{:<{w}}}" if i < 3 else f"{{:>{w}}}" for i, w in enumerate(widths)
    ).format
    return "\n".join(fmt_row(*cells) for cells in [headers, *body])


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _git(*args: str) -> str | None:
    # Read-only queries: which code was measured.
    try:
        done = subprocess.run(
            ["git", *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def machine_info() -> Record:
    status = _git("status", "--porcelain")
    return {
        "nproc": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "python": platform.python_version(),
        # Other work on the machine moves every figure; keep the evidence with the numbers.
        "loadavg_1m": os.getloadavg()[0],
        "platform": platform.platform(),
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(status) if status is not None else None,
    }


def save(directory: Path, document: Record) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"overhead-{stamp}.json"
    path.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")
    return path
