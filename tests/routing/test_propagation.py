"""Routing changes reach every gateway process: with Redis in milliseconds, without it
through the store's routing generation within a poll, and a new key works at once.

Real processes: ``previewgate serve --workers 2`` on the test's store, the CLI as a
subprocess, connections pinned to one worker each (see ``tests.support.workers``). The
TTL is ten minutes, so no periodic reload can explain what a worker serves.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import REDIS_URL
from tests.routing.conftest import key_of, run_cli
from tests.support.experiments import create_preview_model, start_experiment
from tests.support.faults import wait_until
from tests.support.servers import MockServer
from tests.support.workers import Gateway, Pinned, TwoWorkerGateways

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

PREVIEW = "acme/preview-propagation"
CHAT = "/v1/chat/completions"
# The bounds: the generation poll (1 s) plus a reload; Redis pub/sub plus a reload.
BOUND_WITHOUT_REDIS_S = 1.5
BOUND_WITH_REDIS_S = 0.2


def _chat(model: str) -> dict[str, object]:
    return {"model": model, "messages": [{"role": "user", "content": "hello"}]}


@pytest.fixture
def start(store: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., Gateway]]:
    gateways = TwoWorkerGateways(tmp_path)

    def _start(redis: bool, poll_s: float = 1.0) -> Gateway:
        return gateways.start(store, redis_url=REDIS_URL if redis else None, poll_s=poll_s)

    yield _start
    gateways.stop_all()


def _until(check: Callable[[], bool], bound_s: float, what: str) -> float:
    """Seconds until ``check`` holds, polled every 10 ms; fails past three times the bound
    (so a miss reports how late it was rather than only that it was)."""
    began = time.monotonic()
    wait_until(check, timeout=3 * bound_s + 2, interval=0.01, what=what)
    return time.monotonic() - began


def _subscribed(workers: list[Pinned]) -> None:
    # The listener wakes the reloader right after SUBSCRIBE: a second reload means listening.
    for w in workers:
        wait_until(
            lambda w=w: w.metric("previewgate_cache_reloads_total") >= 2, what="subscription"
        )


def test_a_key_made_by_the_cli_works_at_once_on_every_worker(
    store: dict[str, str], start: Callable[..., Gateway], mock: MockServer
) -> None:
    upstream = f'{{"internal_id": "m-prod", "base_url": "{mock.base_url}"}}'
    run_cli(store, "models", "add", "demo/prod", "--upstream", upstream)
    # Neither Redis nor a generation poll within the test: only the first-sight lookup
    # can let the new key in.
    gateway = start(False, poll_s=60)
    for w in gateway.connect_to_each_worker().values():
        assert w.request("POST", CHAT, _chat("demo/prod"), key="pg-not-yet")[0] == 401
        w.close()

    key = key_of(run_cli(store, "users", "create", "new@example.com"))
    made = time.monotonic()
    # New connections: the CLI's run may outlast the server's keep-alive.
    workers = list(gateway.connect_to_each_worker().values())
    # The first request on each worker already succeeds: the key is looked up in the
    # store on its first sight, not at the next reload.
    answers = [w.request("POST", CHAT, _chat("demo/prod"), key=key)[0] for w in workers]
    elapsed = time.monotonic() - made
    assert answers == [200, 200]
    assert elapsed < 1.0
    assert [w.metric('previewgate_key_lookups_total{result="found"}') for w in workers] == [1, 1]
    # Seen once, then known: a second request makes no store lookup.
    for w in workers:
        assert w.request("POST", CHAT, _chat("demo/prod"), key=key)[0] == 200
        assert w.metric('previewgate_key_lookups_total{result="found"}') == 1


@pytest.mark.parametrize("redis", [False, True], ids=["store-generation", "redis"])
def test_a_pause_and_a_revocation_reach_the_other_worker(
    redis: bool,
    store: dict[str, str],
    start: Callable[..., Gateway],
    mock: MockServer,
) -> None:
    bound = BOUND_WITH_REDIS_S if redis else BOUND_WITHOUT_REDIS_S
    admin_key = key_of(run_cli(store, "users", "create", "ops@example.com", "--admin"))
    user_key = key_of(run_cli(store, "users", "create", "someone@example.com"))
    gateway = start(redis)
    pinned = gateway.connect_to_each_worker()
    editor, other = pinned.values()
    if redis:
        _subscribed([editor, other])
    with httpx.Client(
        base_url=gateway.base_url, headers={"authorization": f"Bearer {admin_key}"}, timeout=30
    ) as admin:
        create_preview_model(admin, PREVIEW)
        experiment = start_experiment(admin, [mock], public_id=PREVIEW)
    wait_until(
        lambda: other.request("POST", CHAT, _chat(PREVIEW), key=user_key)[0] == 200,
        timeout=5,
        what="the experiment to route on the other worker",
    )

    status, body = editor.request(
        "POST", f"/admin/api/experiments/{experiment.id}/pause", {}, key=admin_key
    )
    assert status == 200, body
    paused_after = _until(
        lambda: other.request("POST", CHAT, _chat(PREVIEW), key=user_key)[0] == 404,
        bound,
        "the pause on the other worker",
    )
    status, body = other.request("POST", CHAT, _chat(PREVIEW), key=user_key)
    assert body["error"]["code"] == "model_unavailable"

    user_id = next(
        u["id"]
        for u in editor.request("GET", "/admin/api/users", key=admin_key)[1]
        if u["email"] == "someone@example.com"
    )
    key_id = editor.request("GET", f"/admin/api/users/{user_id}/keys", key=admin_key)[1][0]["id"]
    assert other.request("GET", "/v1/models", key=user_key)[0] == 200
    status, body = editor.request(
        "DELETE", f"/admin/api/users/{user_id}/keys/{key_id}", key=admin_key
    )
    assert status == 200, body
    revoked_after = _until(
        lambda: other.request("GET", "/v1/models", key=user_key)[0] == 401,
        bound,
        "the revocation on the other worker",
    )
    print(f"redis={redis}: pause seen after {paused_after:.3f} s, revocation {revoked_after:.3f} s")
    assert paused_after <= bound
    assert revoked_after <= bound
    if not redis:
        assert other.metric("previewgate_cache_invalidations_total") == 0
