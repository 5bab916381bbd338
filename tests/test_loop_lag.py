"""The loop-lag monitor sees a stall of the event loop, and /metrics shows its histogram."""

from __future__ import annotations

import asyncio
import time

import httpx
from prometheus_client import REGISTRY

from previewgate.loop_lag import LoopLagMonitor
from tests.support.servers import GatewayServer


def _slow_samples() -> float:
    """Samples in buckets above 50 ms so far (the histogram is cumulative)."""
    total = REGISTRY.get_sample_value("previewgate_event_loop_lag_seconds_count") or 0.0
    fast = REGISTRY.get_sample_value("previewgate_event_loop_lag_seconds_bucket", {"le": "0.05"})
    return total - (fast or 0.0)


def _hold_the_loop(seconds: float) -> None:
    time.sleep(seconds)  # the stall under test: nothing else runs on the loop meanwhile


async def _stall_once() -> LoopLagMonitor:
    monitor = LoopLagMonitor(0.002).start()
    await asyncio.sleep(0.01)  # a few samples of an idle loop
    _hold_the_loop(0.08)
    # The monitor's timer was due long before this one: it runs first, recording the stall.
    await asyncio.sleep(0.01)
    await monitor.stop()
    return monitor


def test_a_stall_of_the_loop_is_measured() -> None:
    before = _slow_samples()
    monitor = asyncio.run(_stall_once())
    assert 0.07 <= monitor.worst_s < 1.0
    assert _slow_samples() == before + 1


def test_metrics_export_the_loop_lag(gateway: GatewayServer) -> None:
    text = httpx.get(f"{gateway.base_url}/metrics").text
    assert 'previewgate_event_loop_lag_seconds_bucket{le="0.005"}' in text
