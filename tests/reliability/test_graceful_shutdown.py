"""SIGTERM under load: in-flight requests finish, the writer drains, no usage row is lost.

A ``previewgate serve`` child takes a steady stream of slow requests (experimented and
production, streaming and not); the test sends SIGTERM while many are in flight, then
counts the rows in the store against the responses the clients actually received.
"""

from __future__ import annotations

import asyncio
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.reliability.helpers import PROD_ID, URL, add_production_model, chat, row_counts
from tests.support.experiments import (
    PREVIEW_ID,
    admin_client,
    create_preview_model,
    start_experiment,
)
from tests.support.faults import GatewayProcess, gateway_env
from tests.support.servers import GatewayServer, MockServer

WORKERS = 12
# Long enough that SIGTERM always finds requests in flight.
SLOW = "#mock:slow=0.4"


@dataclass
class Tally:
    answered: int = 0
    experimented: int = 0
    after_signal: int = 0
    refused: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    errors: set[str] = field(default_factory=set)
    signalled_at: float | None = None
    warmed_up: asyncio.Event = field(default_factory=asyncio.Event)


async def _worker(n: int, base_url: str, stop: asyncio.Event, tally: Tally) -> None:
    # No keep-alive: a request is either accepted on a fresh connection or refused at connect.
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits) as client:
        i = 0
        while not stop.is_set():
            i += 1
            model = PREVIEW_ID if (n + i) % 2 else PROD_ID
            body = chat(model, SLOW, stream=(n + i) % 3 == 0)
            headers = {"x-kilocode-machineid": f"w{n}"}
            try:
                r = await client.post(URL, json=body, headers=headers)
                await r.aread()
            except httpx.TransportError as exc:
                # Refused after shutdown began (or closed before it was read): never answered.
                tally.refused += 1
                tally.errors.add(type(exc).__name__)
                await asyncio.sleep(0.05)
                continue
            tally.answered += 1
            tally.experimented += model == PREVIEW_ID
            tally.statuses[r.status_code] = tally.statuses.get(r.status_code, 0) + 1
            if tally.answered >= 3 * WORKERS:  # every worker is mid-request by now
                tally.warmed_up.set()
            if tally.signalled_at is not None:
                tally.after_signal += 1


async def _load(gateway: GatewayProcess, tally: Tally) -> None:
    stop = asyncio.Event()
    tasks = [asyncio.create_task(_worker(n, gateway.base_url, stop, tally)) for n in range(WORKERS)]
    await asyncio.wait_for(tally.warmed_up.wait(), 60)
    tally.signalled_at = time.monotonic()
    gateway.terminate()
    await asyncio.to_thread(gateway.proc.wait, 60)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 60)


def test_sigterm_under_load_loses_nothing(
    gateway: GatewayServer, settings: Any, mocks: list[MockServer], tmp_path: Path
) -> None:
    admin = admin_client(gateway)
    create_preview_model(admin)
    start_experiment(admin, mocks[:2])
    add_production_model(gateway, mocks[2].base_url)
    before = row_counts(gateway)
    child = GatewayProcess(gateway_env(settings), tmp_path / "serve.log")
    try:
        tally = Tally()
        asyncio.run(_load(child, tally))
        # uvicorn re-raises the signal after its graceful shutdown: -SIGTERM is a clean exit.
        assert child.wait(60) in (0, -signal.SIGTERM), child.log()
    finally:
        child.stop()
    usage, attributed = row_counts(gateway)
    assert tally.after_signal > 0, "SIGTERM found no request in flight"
    assert tally.statuses == {200: tally.answered}, tally
    print(f"SIGTERM under load: {tally.answered} answered ({tally.after_signal} after the signal)")
    assert usage - before[0] == tally.answered, (usage, before, tally)
    assert attributed - before[1] == tally.experimented
    assert "unwritten" not in child.log(), child.log()
