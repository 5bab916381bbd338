"""Load soak: mixed traffic against ``previewgate serve`` on PostgreSQL + Redis, then checks.

    .venv/bin/python bench/soak.py                   # 10 s (the test runs --duration 5)
    .venv/bin/python bench/soak.py --duration 300    # the long form

Loopback only and bounded: it creates a throwaway PostgreSQL database, starts the
demo mock upstream in this process and the gateway as a child, drives experimented /
production / streaming traffic (plus a share of upstream-induced 500s) for a fixed
time, stops the gateway with SIGTERM (so its writer drains) and checks:

- no 5xx from the gateway itself (upstream-induced 500s are sent on purpose and excluded),
  every other answer a complete 200 (streams end with ``data: [DONE]``);
- one usage row per answered request, one attribution row per experimented one;
- gateway memory bounded: VmRSS growth after warm-up below ``--max-rss-growth-mib``.

It prints a summary (``--json`` for machines) and exits 1 if any check fails. The
database, temp folder and child process are removed on exit, also on failure.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from previewgate.accounts import service as accounts
from previewgate.demo.mock_upstream import MockUpstream, bound_port, serve_mock
from previewgate.store.engine import create_engine, session_factory
from previewgate.store.migrate import upgrade

PREVIEW = "soak/preview-experiment"
PROD = "soak/prod"
PG_ADMIN = os.environ.get("PREVIEWGATE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("PREVIEWGATE_TEST_REDIS", "redis://127.0.0.1:6379/0")
MiB = 1024 * 1024


@dataclass
class Tally:
    sent: int = 0
    answered: int = 0
    experimented: int = 0
    upstream_induced: int = 0
    gateway_5xx: int = 0
    unexpected: int = 0
    transport_errors: int = 0
    examples: list[str] = field(default_factory=list)

    def bad(self, what: str) -> None:
        self.unexpected += 1
        if len(self.examples) < 5:
            self.examples.append(what)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def _pg_url(database: str) -> str:
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{database}"


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def prepare_store(url: str) -> str:
    """Migrate, and return a fresh admin API key."""
    engine = create_engine(url)
    try:
        await upgrade(engine)
        async with session_factory(engine)() as session, session.begin():
            user = await accounts.create_user(session, "soak-admin@example.invalid", is_admin=True)
            issued = await accounts.issue_key(session, user)
            return str(issued.plaintext)
    finally:
        await engine.dispose()


async def count_rows(url: str) -> tuple[int, int]:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        usage = await conn.fetchval("select count(*) from usage")
        attributed = await conn.fetchval("select count(*) from model_experiment_request")
    finally:
        await conn.close()
    return int(usage), int(attributed)


def start_gateway(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("PREVIEWGATE_")}
    full.update(env)
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "previewgate", "serve"],
            env=full,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def wait_healthy(
    http: aiohttp.ClientSession, base: str, proc: subprocess.Popen[bytes]
) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gateway exited with {proc.returncode}")
        try:
            async with http.get(f"{base}/healthz") as r:
                if r.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.05)
    raise RuntimeError("gateway did not become healthy")


async def seed(http: aiohttp.ClientSession, base: str, admin_key: str, upstream: str) -> None:
    """Through the admin API, as an operator would: two models and a two-slot experiment."""
    auth = {"authorization": f"Bearer {admin_key}"}

    async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        async with http.post(f"{base}{path}", json=body, headers=auth) as r:
            data: dict[str, Any] = await r.json()
            if r.status >= 300:
                raise RuntimeError(f"POST {path}: {r.status} {data}")
            return data

    await post(
        "/admin/api/models",
        {
            "public_id": PROD,
            "kind": "production",
            "upstream": {"internal_id": "p", "base_url": upstream},
        },
    )
    await post(
        "/admin/api/models",
        {"public_id": PREVIEW, "kind": "preview", "disclosure_text": "Prompts are retained."},
    )
    exp = await post(
        "/admin/api/experiments",
        {
            "public_model_id": PREVIEW,
            "name": "soak",
            "require_opt_in": False,
            "allow_anonymous": True,
        },
    )
    for n in range(2):
        await post(
            f"/admin/api/experiments/{exp['id']}/variants",
            {
                "label": f"rc{n}",
                "weight": 1,
                "api_key": f"sk-soak-{n}",
                "upstream": {"internal_id": f"soak-rc{n}", "base_url": upstream},
            },
        )
    await post(f"/admin/api/experiments/{exp['id']}/activate", {})


async def one_request(http: aiohttp.ClientSession, base: str, n: int, tally: Tally) -> None:
    experimented = n % 2 == 0
    stream = n % 4 in (1, 2)
    induced = n % 20 == 7  # an upstream failure on purpose: its 500 is not the gateway's
    model = PREVIEW if experimented else PROD
    content = "#mock:500" if induced else f"soak request {n}"
    body = {"model": model, "stream": stream, "messages": [{"role": "user", "content": content}]}
    headers = {"x-kilocode-machineid": f"machine-{n % 50}", "x-kilo-request": f"req-{n}"}
    tally.sent += 1
    try:
        async with http.post(f"{base}/v1/chat/completions", json=body, headers=headers) as r:
            raw = await r.read()
            status = r.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        tally.transport_errors += 1
        tally.bad(f"{model} stream={stream}: {type(exc).__name__}")
        return
    tally.answered += 1
    tally.experimented += experimented
    if induced:
        tally.upstream_induced += 1
        if status != 500:
            tally.bad(f"induced upstream 500 answered {status}")
        return
    if status >= 500:
        tally.gateway_5xx += 1
    complete = raw.rstrip().endswith(b"data: [DONE]") if stream else f'"{model}"'.encode() in raw
    if status != 200 or not complete:
        tally.bad(f"{model} stream={stream}: {status} {raw[:120]!r}")


async def drive(base: str, seconds: float, concurrency: int, rate: float, tally: Tally) -> None:
    """``concurrency`` workers share a schedule of ``rate`` requests/s (0: as fast as they can)."""
    start = time.monotonic()
    deadline = start + seconds
    counter = iter(range(10**12))
    timeout = aiohttp.ClientTimeout(total=60)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as http:

        async def worker() -> None:
            while True:
                n = next(counter)
                due = start + n / rate if rate > 0 else time.monotonic()
                if due >= deadline:
                    return
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                await one_request(http, base, n, tally)

        await asyncio.gather(*(worker() for _ in range(concurrency)))


async def sample_rss(
    pid: int, every: float, out: list[tuple[float, int]], stop: asyncio.Event
) -> None:
    start = time.monotonic()
    while not stop.is_set():
        out.append((time.monotonic() - start, rss_bytes(pid)))
        await asyncio.sleep(every)


async def soak(args: argparse.Namespace) -> dict[str, Any]:
    database = f"soak_{uuid.uuid4().hex[:12]}"
    url = _pg_url(database)
    tmp = Path(tempfile.mkdtemp(prefix="previewgate-soak-"))
    await _pg_admin(f'CREATE DATABASE "{database}"')
    mock = MockUpstream(leak_secrets_in_errors=False)
    runner = await serve_mock(mock, "127.0.0.1", 0)
    proc: subprocess.Popen[bytes] | None = None
    try:
        admin_key = await prepare_store(url)
        port = free_port()
        env = {
            "PREVIEWGATE_DATABASE_URL": url,
            "PREVIEWGATE_REDIS_URL": args.redis_url,
            "PREVIEWGATE_ENCRYPTION_KEY": base64.b64encode(os.urandom(32)).decode(),
            "PREVIEWGATE_DATA_DIR": str(tmp / "data"),
            "PREVIEWGATE_BLOB_URL": f"file://{tmp}/blobs",
            "PREVIEWGATE_PORT": str(port),
            "PREVIEWGATE_LOG_LEVEL": "WARNING",
        }
        proc = start_gateway(env, tmp / "gateway.log")
        base = f"http://127.0.0.1:{port}"
        upstream = f"http://127.0.0.1:{bound_port(runner)}/v1"
        async with aiohttp.ClientSession() as http:
            await wait_healthy(http, base, proc)
            await seed(http, base, admin_key, upstream)
        tally = Tally()
        samples: list[tuple[float, int]] = []
        stop = asyncio.Event()
        sampler = asyncio.create_task(sample_rss(proc.pid, 0.25, samples, stop))
        clearer = asyncio.create_task(_forget_requests(mock, stop))
        started = time.monotonic()
        await drive(base, args.duration, args.concurrency, args.rate, tally)
        elapsed = time.monotonic() - started
        stop.set()
        await asyncio.gather(sampler, clearer)
        backlog = await writer_backlog(base)
        proc.send_signal(signal.SIGTERM)  # graceful: in-flight requests finish, writer drains
        exit_code = await asyncio.to_thread(proc.wait, 60)
        usage, attributed = await count_rows(url)
        warm = [rss for t, rss in samples if t <= args.warmup] or [samples[0][1]]
        after = [rss for t, rss in samples if t > args.warmup] or warm
        growth = max(after) - warm[-1]
        log_tail = (tmp / "gateway.log").read_text(errors="replace")[-2000:]
        checks = {
            "no gateway 5xx": tally.gateway_5xx == 0,
            "every other answer a complete 200": tally.unexpected == 0,
            "no transport errors": tally.transport_errors == 0,
            "one usage row per request": usage == tally.answered,
            "one attribution row per experimented request": attributed == tally.experimented,
            "memory growth bounded": growth < args.max_rss_growth_mib * MiB,
            "clean shutdown": exit_code in (0, -signal.SIGTERM),
        }
        return {
            "duration_s": round(elapsed, 1),
            "concurrency": args.concurrency,
            "requests": tally.answered,
            "req_per_s": round(tally.answered / elapsed, 1) if elapsed else 0.0,
            "tally": asdict(tally),
            "usage_rows": usage,
            "attribution_rows": attributed,
            "rss_after_warmup_mib": round(warm[-1] / MiB, 1),
            "rss_max_mib": round(max(after) / MiB, 1),
            "rss_growth_mib": round(growth / MiB, 1),
            "writer_backlog_at_end": backlog,
            "checks": checks,
            "ok": all(checks.values()),
            "gateway_log_tail": log_tail if not all(checks.values()) else "",
        }
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(10)
        await runner.cleanup()
        await _pg_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        shutil.rmtree(tmp, ignore_errors=True)


async def writer_backlog(base: str) -> int:
    """Usage events still queued in the gateway when the load stops (0: it kept up)."""
    async with aiohttp.ClientSession() as http, http.get(f"{base}/metrics") as r:
        text = await r.text()
    for line in text.splitlines():
        if line.startswith("previewgate_writer_queue_depth "):
            return int(float(line.split()[1]))
    return -1


async def _forget_requests(mock: MockUpstream, stop: asyncio.Event) -> None:
    """The mock records every request; keep the soak process itself from growing."""
    while not stop.is_set():
        mock.requests.clear()
        await asyncio.sleep(1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before the RSS baseline")
    parser.add_argument("--concurrency", type=int, default=8, help="workers (connections)")
    parser.add_argument(
        "--rate", type=float, default=200.0, help="requests/s offered; 0 = closed loop, flat out"
    )
    parser.add_argument("--max-rss-growth-mib", type=float, default=50.0)
    parser.add_argument("--redis-url", default=REDIS)
    parser.add_argument("--json", action="store_true", help="print the summary as JSON only")
    args = parser.parse_args()
    result = asyncio.run(soak(args))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        t = result["tally"]
        print(
            f"soak: {result['requests']} requests in {result['duration_s']} s "
            f"({result['req_per_s']} req/s, concurrency {result['concurrency']}); "
            f"{t['experimented']} experimented, {t['upstream_induced']} upstream-induced 500s"
        )
        print(f"writer backlog when the load stopped: {result['writer_backlog_at_end']} events")
        print(
            f"rows: {result['usage_rows']} usage, {result['attribution_rows']} attribution; "
            f"gateway RSS {result['rss_after_warmup_mib']} MiB after warm-up, "
            f"max {result['rss_max_mib']} MiB (growth {result['rss_growth_mib']} MiB)"
        )
        for name, ok in result["checks"].items():
            print(f"  {'PASS' if ok else 'FAIL'}  {name}")
        if t["examples"]:
            print("  examples:", *t["examples"], sep="\n    ")
        if result["gateway_log_tail"]:
            print("gateway log tail:\n" + result["gateway_log_tail"])
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
