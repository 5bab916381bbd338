"""One row the store refuses must not jam the writer: it is dropped, counted, and the rest land.

A real upstream reports an absurd token count (2**40): the gateway records it as unknown.
And should a value the store refuses still reach the writer, that one row is dropped and
counted instead of being retried forever with every row behind it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from aiohttp import web
from sqlalchemy import func, select

from previewgate.usage.events import UsageEvent
from previewgate.usage.models import Usage
from previewgate.usage.writer import UsageWriter
from tests.reliability.helpers import PROD_ID, URL, add_production_model, chat, usage_rows
from tests.support.events import usage_event
from tests.support.faults import metric
from tests.support.servers import GatewayServer, LoopThread

DROPPED = "previewgate_writer_dropped_total"
HUGE = 2**40


async def _answer(request: web.Request) -> web.Response:
    body = await request.json()
    tokens = HUGE if "#huge" in str(body["messages"]) else 3
    return web.json_response(
        {
            "id": "x",
            "object": "chat.completion",
            "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}}],
            "usage": {"prompt_tokens": tokens, "completion_tokens": 1, "total_tokens": tokens + 1},
        }
    )


@pytest.fixture
def odd_upstream() -> Iterator[str]:
    thread = LoopThread("odd-upstream")
    app = web.Application()
    app.router.add_post("/v1/chat/completions", _answer)
    runner = web.AppRunner(app)
    thread.run(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    thread.run(site.start())
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}/v1"
    thread.run(runner.cleanup())
    thread.close()


def test_absurd_token_counts_are_not_stored(
    backend: str, make_gateway: Any, settings: Any, odd_upstream: str
) -> None:
    """Counts outside the column's range are recorded as unknown, so the row still lands."""
    gw: GatewayServer = make_gateway(settings.replace(writer_batch_size=10))
    add_production_model(gw, odd_upstream)
    # Metrics are per process and other gateways in this test run may have dropped rows.
    dropped_before = metric(gw.base_url, DROPPED)
    contents = ["fine"] * 4 + ["#huge"] + ["fine"] * 5
    with httpx.Client(base_url=gw.base_url, timeout=30) as c:
        for content in contents:
            assert c.post(URL, json=chat(PROD_ID, content)).status_code == 200
    gw.flush()
    rows = usage_rows(gw)
    assert len(rows) == 10
    assert sorted(r.input_tokens for r in rows if r.input_tokens is not None) == [3] * 9
    assert metric(gw.base_url, DROPPED) == dropped_before


async def test_a_row_the_store_refuses_is_dropped_and_counted(backend: str, sessions: Any) -> None:
    """Defence in depth: if a value still slips through, one row must not jam the writer."""
    if backend != "postgresql":
        pytest.skip("SQLite does not enforce VARCHAR widths, so it refuses nothing here")
    writer = UsageWriter(sessions, None, batch_size=10, linger_s=0)
    writer.start()
    dropped_before = writer.dropped
    for i in range(10):
        # usage.client_ip is VARCHAR(64): a longer value is refused by PostgreSQL.
        writer.submit(event(client_ip="9" * 100 if i == 4 else "10.0.0.1"))
    await asyncio.wait_for(writer.flush(), 30)  # returns: not stuck behind the refused row
    await writer.stop()
    async with sessions() as session:
        stored = (await session.execute(select(func.count()).select_from(Usage))).scalar_one()
    assert (stored, writer.dropped - dropped_before) == (9, 1)


def event(client_ip: str) -> UsageEvent:
    return usage_event(client_ip=client_ip)
