"""Redis killed mid-run: routing goes on from the store; when Redis returns, so does invalidation.

Two gateway processes (one in-thread, one ``previewgate serve`` child) share a private
``redis-server`` that this test kills with SIGKILL and starts again on the same port.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.reliability.helpers import URL, chat, machine
from tests.support.experiments import admin_client, create_preview_model, start_experiment
from tests.support.faults import GatewayProcess, RedisProcess, gateway_env, metric, wait_until
from tests.support.servers import MockServer

RELOADS = "previewgate_cache_reloads_total"
INVALIDATIONS = "previewgate_cache_invalidations_total"


def _served_by(mock: MockServer, base_url: str, who: str) -> bool:
    before = len(mock.upstream.requests)
    r = httpx.post(f"{base_url}{URL}", json=chat(), headers=machine(who), timeout=10)
    assert r.status_code == 200, r.text
    return len(mock.upstream.requests) == before + 1


def _swap(exp: Any, slot_id: str, mock: MockServer, internal: str) -> None:
    r = exp.post(
        f"/variants/{slot_id}/versions",
        json={
            "upstream": {"internal_id": internal, "base_url": mock.base_url},
            "api_key": f"sk-{internal}-secret",
        },
    )
    assert r.status_code == 201, r.text


def test_redis_killed_and_restarted(
    make_gateway: Any, settings: Any, mocks: list[MockServer], tmp_path: Path
) -> None:
    redis = RedisProcess(tmp_path / "redis")
    other: GatewayProcess | None = None
    try:
        # A long TTL: only Redis messages (or a resubscribe) can make the other process reload.
        first = make_gateway(settings.replace(redis_url=redis.url, cache_ttl_s=600))
        admin = admin_client(first)
        create_preview_model(admin)
        exp = start_experiment(admin, mocks[:1])  # one slot: every request goes to it
        slot = exp.slots[0].variant_id
        env = gateway_env(settings, PREVIEWGATE_REDIS_URL=redis.url, PREVIEWGATE_CACHE_TTL_S="600")
        other = GatewayProcess(env, tmp_path / "other.log")
        assert _served_by(mocks[0], other.base_url, "o")

        redis.kill()
        # Routing continues from the in-process state, and admin mutations still succeed.
        assert _served_by(mocks[0], first.base_url, "f")
        _swap(exp, slot, mocks[1], "rc-during-outage")
        assert _served_by(mocks[1], first.base_url, "f")  # the mutating process is exact
        # The other process missed the message; it keeps routing on its last state (TTL-bound).
        assert _served_by(mocks[0], other.base_url, "o")

        reloads = metric(other.base_url, RELOADS)
        redis.start()
        # On resubscribing, the other process reloads at once: it may have missed messages.
        wait_until(
            lambda: metric(other.base_url, RELOADS) > reloads,
            timeout=20,
            what="the other process to resubscribe and reload",
        )
        assert _served_by(mocks[1], other.base_url, "o")

        invalidations = metric(other.base_url, INVALIDATIONS)
        _swap(exp, slot, mocks[2], "rc-after-outage")
        wait_until(
            lambda: metric(other.base_url, INVALIDATIONS) > invalidations,
            timeout=10,
            what="an invalidation message to reach the other process",
        )
        wait_until(
            lambda: _served_by(mocks[2], other.base_url, "o"),
            timeout=10,
            what="the other process to route to the swapped checkpoint",
        )
    finally:
        if other is not None:
            other.stop()
        redis.kill()
