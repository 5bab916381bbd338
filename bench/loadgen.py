"""A small closed-loop load generator: fixed concurrency, fixed duration, aiohttp.

``concurrency`` workers share one keep-alive ClientSession whose pool holds
exactly ``concurrency`` connections; each worker sends its next request as
soon as the previous one is fully read. Latency runs from just before the
request is sent until the last body byte; for streams, time to first byte is
the first body chunk (headers alone do not count). After the measured window the
servers are given time to finish deferred work (the gateway's usage writer), which is
charged to the run: CPU per request includes the rows each request causes to be written.
"""

from __future__ import annotations

import asyncio
import gc
import time
from dataclasses import dataclass, field

import aiohttp
import orjson

from procs import CLK_TCK, cpu_seconds

REQUEST_TIMEOUT_S = 30.0
DONE = b"data: [DONE]"
MESSAGE_STOP = b'{"type":"message_stop"}'
SETTLE_STEP_S = 0.2
SETTLE_LIMIT_S = 60.0


@dataclass(frozen=True, slots=True)
class Target:
    """Something to load: one URL and model id, and the server process it exercises."""

    name: str
    url: str  # the full chat completions URL
    model: str
    api_key: str
    expect: bytes  # every good response contains it: proves who answered (e.g. the public id)
    process: str  # key of the server process whose CPU per request is reported
    api: str = "chat"  # the client API: chat (OpenAI) or messages (Anthropic)

    def body(self, stream: bool) -> bytes:
        return (
            messages_body(self.model, stream)
            if self.api == "messages"
            else chat_body(self.model, stream)
        )

    def headers(self) -> dict[str, str]:
        if self.api == "messages":
            return {
                "content-type": "application/json",
                "x-api-key": self.api_key,
                "anthropic-version": "2023-06-01",
            }
        return {"content-type": "application/json", "authorization": f"Bearer {self.api_key}"}

    @property
    def stream_end(self) -> bytes:
        return MESSAGE_STOP if self.api == "messages" else DONE


@dataclass(slots=True)
class Sample:
    """What one measured phase saw. Times are seconds."""

    latencies: list[float] = field(default_factory=list)
    ttfbs: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str | None = None
    elapsed: float = 0.0
    cpu_s: dict[str, float] = field(default_factory=dict)  # per watched process
    settle_s: float = 0.0  # wait after the window until every watched process was idle

    def fail(self, reason: str) -> None:
        self.errors += 1
        if self.first_error is None:
            self.first_error = reason


def chat_body(model: str, stream: bool) -> bytes:
    body: dict[str, object] = {
        "model": model,
        "messages": [
            {"role": "system", "content": "You are a terse assistant."},
            {"role": "user", "content": "Say hello to the benchmark."},
        ],
        "max_tokens": 16,
        "temperature": 0,
    }
    if stream:
        # Ask for usage on both paths so direct and gateway deliver the same events.
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return orjson.dumps(body)


def messages_body(model: str, stream: bool) -> bytes:
    """The same turn as `chat_body`, as an Anthropic Messages request."""
    body: dict[str, object] = {
        "model": model,
        "system": "You are a terse assistant.",
        "messages": [{"role": "user", "content": "Say hello to the benchmark."}],
        "max_tokens": 16,
        "temperature": 0,
    }
    if stream:
        body["stream"] = True
    return orjson.dumps(body)


async def _one(
    session: aiohttp.ClientSession,
    target: Target,
    payload: bytes,
    headers: dict[str, str],
    stream: bool,
    sample: Sample,
) -> None:
    started = time.perf_counter()
    try:
        async with session.post(target.url, data=payload, headers=headers) as resp:
            if stream:
                first: float | None = None
                head = tail = b""
                async for chunk in resp.content.iter_any():
                    if first is None:
                        first = time.perf_counter()
                        head = chunk
                    tail = (tail + chunk)[-64:]
                ok = resp.status == 200 and target.expect in head and target.stream_end in tail
            else:
                body = await resp.read()
                ok = resp.status == 200 and target.expect in body
            if not ok:
                sample.fail(f"HTTP {resp.status}, unexpected body")
                return
    except (aiohttp.ClientError, TimeoutError) as exc:
        sample.fail(f"{type(exc).__name__}: {exc}")
        return
    done = time.perf_counter()
    sample.latencies.append(done - started)
    if stream and first is not None:
        sample.ttfbs.append(first - started)


async def _drive(
    session: aiohttp.ClientSession,
    target: Target,
    stream: bool,
    concurrency: int,
    seconds: float,
) -> Sample:
    payload = target.body(stream)
    headers = target.headers()
    sample = Sample()
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            await _one(session, target, payload, headers, stream, sample)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    sample.elapsed = time.perf_counter() - started
    return sample


async def measure(
    target: Target,
    stream: bool,
    concurrency: int,
    warmup_s: float,
    duration_s: float,
    watch: dict[str, int],
) -> Sample:
    """Warm up (connections, caches), then measure for ``duration_s`` on the same pool.

    ``watch`` names server processes whose CPU time over the measured phase is recorded.
    """
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False, keepalive_timeout=60)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, skip_auto_headers=("User-Agent",)
    ) as session:
        if warmup_s > 0:
            await _drive(session, target, stream, concurrency, warmup_s)
        # Collect the warm-up's garbage now rather than inside the measured window.
        gc.collect()
        before = {name: cpu_seconds(pid) for name, pid in watch.items()}
        sample = await _drive(session, target, stream, concurrency, duration_s)
    sample.settle_s = await settle(watch)
    sample.cpu_s = {name: cpu_seconds(pid) - before[name] for name, pid in watch.items()}
    return sample


async def settle(watch: dict[str, int]) -> float:
    """Wait until no watched process used more than one clock tick in ``SETTLE_STEP_S``
    twice in a row (e.g. the usage writer's backlog is written), at most ``SETTLE_LIMIT_S``."""
    started = time.perf_counter()
    last = {name: cpu_seconds(pid) for name, pid in watch.items()}
    quiet = 0
    while quiet < 2 and time.perf_counter() - started < SETTLE_LIMIT_S:
        await asyncio.sleep(SETTLE_STEP_S)
        now = {name: cpu_seconds(pid) for name, pid in watch.items()}
        busy = max(now[name] - last[name] for name in now)
        quiet = quiet + 1 if busy <= 1.5 / CLK_TCK else 0
        last = now
    return time.perf_counter() - started
