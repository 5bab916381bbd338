"""A flood of random API keys reaches the store only within its bound, and requests with a
valid key keep their latency meanwhile.

The gateway is a real subprocess on the test's store; the flood and the valid stream are
real HTTP clients in this process. Store lookups are read from the gateway's own counter
(one per query it made) and checked against the token bucket's arithmetic.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.routing.conftest import key_of, run_cli
from tests.support.faults import GatewayProcess, metric
from tests.support.servers import MockServer

FLOOD_KEYS = 10_000
FLOOD_RATE_PER_S = 1_000  # offered load, open loop: well within the gateway's capacity
RATE_PER_S = 20.0
BURST = 50
CHAT = "/v1/chat/completions"
BODY = {"model": "demo/prod", "messages": [{"role": "user", "content": "hello"}]}


@pytest.fixture
def gateway(store: dict[str, str], mock: MockServer, tmp_path: Path) -> Iterator[GatewayProcess]:
    upstream = f'{{"internal_id": "m-prod", "base_url": "{mock.base_url}"}}'
    run_cli(store, "models", "add", "demo/prod", "--upstream", upstream)
    env = {
        **{k: v for k, v in store.items() if k.startswith("PREVIEWGATE_")},
        "PREVIEWGATE_KEY_LOOKUP_RATE_PER_S": str(RATE_PER_S),
        "PREVIEWGATE_KEY_LOOKUP_BURST": str(BURST),
        # Keep reloads out of the picture: they also clear the negative cache.
        "PREVIEWGATE_CACHE_TTL_S": "600",
        "PREVIEWGATE_ROUTING_POLL_S": "60",
    }
    process = GatewayProcess(env, tmp_path / "gateway.log")
    yield process
    process.stop()


def _store_lookups(base_url: str) -> float:
    return sum(
        metric(base_url, "previewgate_key_lookups_total", f'result="{result}"')
        for result in ("found", "missing", "error")
    )


async def _valid_stream(
    client: httpx.AsyncClient, key: str, stop: asyncio.Event, latencies: list[float]
) -> None:
    headers = {"authorization": f"Bearer {key}"}
    while not stop.is_set():
        began = time.perf_counter()
        response = await client.post(CHAT, json=BODY, headers=headers)
        latencies.append(time.perf_counter() - began)
        assert response.status_code == 200, response.text


async def _measure(base_url: str, key: str) -> tuple[list[float], list[float], dict[str, Any]]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        quiet: list[float] = []
        stop = asyncio.Event()
        stream = asyncio.create_task(_valid_stream(client, key, stop, quiet))
        await asyncio.sleep(3)  # a baseline of the valid stream alone
        stop.set()
        await stream

        flooded: list[float] = []
        stop = asyncio.Event()
        stream = asyncio.create_task(_valid_stream(client, key, stop, flooded))
        flood = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.support.key_flood",
            f"{base_url}{CHAT}",
            str(FLOOD_KEYS),
            str(FLOOD_RATE_PER_S),
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await flood.communicate()
        stop.set()
        await stream
    assert flood.returncode == 0
    return quiet, flooded, json.loads(out)


def _p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] * 1000 if len(values) > 1 else values[0]


def test_random_keys_stay_within_the_lookup_bound(
    store: dict[str, str], gateway: GatewayProcess
) -> None:
    key = key_of(run_cli(store, "users", "create", "valid@example.com"))
    # The valid key is known before the flood: the first request looks it up once.
    assert httpx.post(
        f"{gateway.base_url}{CHAT}", json=BODY, headers={"authorization": f"Bearer {key}"}
    ).is_success
    before = _store_lookups(gateway.base_url)

    quiet, flooded, flood = asyncio.run(_measure(gateway.base_url, key))
    elapsed = flood["elapsed_s"]

    lookups = _store_lookups(gateway.base_url) - before
    bound = BURST + RATE_PER_S * elapsed + 1
    report = (
        f"{FLOOD_KEYS} random keys in {elapsed:.2f} s ({FLOOD_KEYS / elapsed:.0f} req/s): "
        f"{lookups:.0f} store lookups (bound {bound:.0f}); valid-key chat p50/p99 "
        f"{_p(quiet, 50):.2f}/{_p(quiet, 99):.2f} ms alone ({len(quiet)} requests), "
        f"{_p(flooded, 50):.2f}/{_p(flooded, 99):.2f} ms during the flood ({len(flooded)})"
    )
    print(report)
    assert flood["statuses"] == {"401": FLOOD_KEYS}
    assert lookups <= bound, report
    assert lookups >= BURST, report  # the bucket did let misses through: the path ran
    limited = metric(gateway.base_url, "previewgate_key_lookups_total", 'result="limited"')
    assert limited >= FLOOD_KEYS - lookups - 1, report
    # Valid keys never wait for a store lookup: the flood costs them only the CPU its 401s
    # take on a machine whose two cores it shares with the gateway and both clients.
    assert _p(flooded, 50) <= 2 * _p(quiet, 50) + 2, report
