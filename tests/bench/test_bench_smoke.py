"""The overhead benchmark runs end to end and the gateway really forwards under load.

Runs ``bench/overhead.py`` as a subprocess (its own servers, pinning and cleanup)
with tiny durations; no store fixture, so it runs once, not per backend. The
LiteLLM comparison is not run here (it installs LiteLLM); its ratios, issue 7's
checks, pinning for N workers and the py-spy summary are checked on made-up data.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from pyspy_profile import NO_FRAME, THREAD_ROOT, read_stacks, summarise  # noqa: E402
from report import issue7_checks  # noqa: E402
from report import summarise as summarise_runs  # noqa: E402
from stack import Pinning  # noqa: E402

ARGS = ("--duration", "0.5", "--warmup", "0.2", "--runs", "1", "--concurrency", "2", "--no-save")


def _rows(table: str) -> dict[tuple[str, str], dict[str, float]]:
    """(mode, target) -> the numeric columns the test cares about."""
    lines = table.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("mode "))
    end = next((i for i in range(start, len(lines)) if not lines[i].strip()), len(lines))
    header = lines[start].split()
    lines = lines[start + 1 : end]  # the table only
    # Header names contain spaces ("x direct"), so rely only on the fixed first and last ones.
    assert header[3] == "req/s" and header[-2:] == ["requests", "errors"], header
    rows: dict[tuple[str, str], dict[str, float]] = {}
    for line in lines:
        cells = line.split()
        if len(cells) < 4 or cells[0] not in ("json", "stream"):
            continue
        rows[(cells[0], cells[2])] = {
            "rps": float(cells[3]),
            "requests": float(cells[-2]),
            "errors": float(cells[-1]),
        }
    return rows


def test_overhead_benchmark_prints_direct_gateway_and_experiment_rows() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "overhead.py"), *ARGS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = _rows(done.stdout)
    for mode in ("json", "stream"):
        for target in (
            "direct",
            "gateway",
            "experiment",
            "messages",
            "gateway+otel",
            "experiment+otel",
        ):
            row = rows.get((mode, target))
            assert row is not None, f"no {mode}/{target} row in:\n{done.stdout}"
            assert row["rps"] > 0 and row["requests"] > 0, row
            # Zero errors also means every gateway answer carried the public model id.
            assert row["errors"] == 0, done.stdout + done.stderr
    # Tracing's cost, for both PreviewGate rows of each cell.
    costs = done.stdout.split("tracing on (OTLP export", 1)[1].split("\n\n", 1)[0]
    assert len([line for line in costs.splitlines() if "cpu ms/req" in line]) == 4, costs


def _run(
    target: str, mode: str, conc: int, rps: float, added: float = 0.1, cpu: float = 0.4
) -> dict[str, object]:
    stream = mode == "stream"
    return {
        "mode": mode,
        "concurrency": conc,
        "target": target,
        "rps": rps,
        "p50_ms": 1.0 + added,
        "p99_ms": 2.0 + added,
        "ttfb_p50_ms": 1.0 + added if stream else None,
        "ttfb_p99_ms": 2.0 + added if stream else None,
        "cpu_ms_per_req": cpu,
        "requests": 10,
        "errors": 0,
    }


def test_litellm_ratio_and_issue7_checks() -> None:
    records = [
        _run("direct", "json", 16, 10_000, added=0.0),
        _run("experiment", "json", 16, 2_500),
        _run("litellm", "json", 16, 100, added=9.0, cpu=10.0),
        _run("direct", "stream", 64, 6_000, added=0.0),
        _run("gateway", "stream", 64, 2_000),
        _run("litellm", "stream", 64, 100, added=9.0),
    ]
    rows = summarise_runs(records, ["direct", "gateway", "experiment", "litellm"])
    ratio = {(r["mode"], r["target"]): r["x_litellm"] for r in rows}
    assert ratio[("json", "experiment")] == 25.0 and ratio[("stream", "gateway")] == 20.0
    cpu_ratio = {(r["mode"], r["target"]): r["cpu_x_litellm"] for r in rows}
    assert cpu_ratio[("json", "experiment")] == 25.0 and cpu_ratio[("json", "direct")] == 25.0
    checks = {(c["mode"], c["what"]): c for c in issue7_checks(rows)}
    assert checks[("json", "x litellm")]["met"] and not checks[("stream", "x litellm")]["met"]
    assert checks[("json", "added p50 ms")]["met"] and checks[("json", "cpu ms/req")]["met"]
    # c=64 has no latency target; the LiteLLM row itself is never checked.
    assert ("stream", "added ttfb p50 ms") not in checks
    assert all(c["target"] != "litellm" for c in checks.values())


def test_pinning_gives_the_gateway_n_cpus() -> None:
    assert Pinning.for_machine(True, {0, 1}) == Pinning({0}, {1})
    shared = Pinning.for_machine(True, {0, 1}, gateway_cpus=2)
    assert shared == Pinning({0, 1}, {1}) and "shared" in shared.describe()
    assert Pinning.for_machine(True, {0, 1, 2, 3}, gateway_cpus=2) == Pinning({0, 1}, {2, 3})
    assert Pinning.for_machine(True, {0}) == Pinning(None, None)


def test_pyspy_summary_counts_the_main_thread(tmp_path: Path) -> None:
    raw = tmp_path / "raw.txt"
    raw.write_text(
        'process 1:"x";main (app/a.py);handle (previewgate/gateway/b.py) 3\n'
        'process 1:"x";main (app/a.py);_request (aiohttp/client.py) 1\n'
        'process 1:"x" 1\n'
        f'process 1:"x";{THREAD_ROOT};_worker (concurrent/futures/thread.py) 6\n'
    )
    stacks = read_stacks([raw])
    assert stacks[("main (app/a.py)", "handle (previewgate/gateway/b.py)")] == 3
    assert stacks[(NO_FRAME,)] == 1 and sum(stacks.values()) == 11
    text = summarise(stacks, top=5)
    assert text.startswith("5 main-thread samples; 6 in other threads")
    assert "60.0%  PreviewGate request handling" in text
    assert "20.0%  upstream HTTP client" in text and "20.0%  event loop C code" in text
    assert "80.0%  main (app/a.py)" in text
