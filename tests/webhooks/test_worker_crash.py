"""`previewgate webhooks worker` SIGKILLed while sends are in flight, then restarted: no
event is lost; an event is sent twice only when the killed worker never recorded its answer
(at-least-once: receivers dedupe by ``webhook-id``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from previewgate.config import Settings
from previewgate.runtime import Runtime
from previewgate.webhooks.delivery import WorkerOptions
from previewgate.webhooks.models import WebhookDelivery
from tests.support.experiments import admin_client
from tests.support.faults import gateway_env, wait_until
from tests.support.receiver import Receiver
from tests.support.servers import GatewayServer
from tests.webhooks.test_delivery import _endpoint, _queue_tests

EVENTS = 30


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(delay_s=0.3).start()
    yield server
    server.stop()


def _worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("PREVIEWGATE_")} | env
    return subprocess.Popen(
        [sys.executable, "-m", "previewgate", "webhooks", "worker"],
        env=full,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


async def _statuses(runtime: Runtime) -> Counter[str]:
    async with runtime.sessions() as session:
        return Counter(await session.scalars(select(WebhookDelivery.status)))


def test_a_killed_worker_loses_no_event(
    gateway: GatewayServer, settings: Settings, receiver: Receiver, tmp_path: Path
) -> None:
    admin = admin_client(gateway)
    hook = _endpoint(admin, receiver.url)
    gateway.call(lambda rt: _queue_tests(rt, uuid.UUID(hook["id"]), EVENTS))
    env = gateway_env(
        settings,
        PREVIEWGATE_WEBHOOK_ALLOWED_NETWORKS="127.0.0.0/8",
        PREVIEWGATE_WEBHOOK_LEASE_S="2",
        PREVIEWGATE_WEBHOOK_SCHEDULE_S="0,0.2,0.2,0.2",
        PREVIEWGATE_WEBHOOK_JITTER="0",
    )

    first = _worker(env, tmp_path / "first.log")
    # Killed with sends in flight: some delivered and recorded, two of them mid-call.
    wait_until(lambda: len(receiver.received) >= 4, timeout=60, interval=0.01, what="sends")
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    assert gateway.call(_statuses)["pending"] > 0, "the kill must land mid-run"

    second = _worker(env, tmp_path / "second.log")
    try:
        wait_until(
            lambda: gateway.call(_statuses) == Counter({"delivered": EVENTS}),
            timeout=120,
            interval=0.1,
            what="every event delivered",
        )
    finally:
        second.terminate()
        second.wait(20)
    accepted = Counter(got.headers["webhook-id"] for got in receiver.received if got.status == 200)
    assert len(accepted) == EVENTS  # no event lost
    duplicates = sum(n - 1 for n in accepted.values())
    # Only sends whose answer the killed worker never recorded go twice: at most the ones
    # in flight, which the per-endpoint bound keeps to two.
    assert duplicates <= WorkerOptions().per_endpoint, duplicates
    print(f"{EVENTS} events delivered after a SIGKILL, {duplicates} of them twice")
