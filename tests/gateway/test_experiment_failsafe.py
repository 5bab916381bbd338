"""Opt-in rules, hot-swaps across processes, and failing closed when state is unknowable."""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.conftest import REDIS_URL
from tests.support.experiments import (
    PREVIEW_ID,
    admin_client,
    create_preview_model,
    start_experiment,
)
from tests.support.seed import create_user, serve_model
from tests.support.servers import GatewayServer, MockServer, free_port, start_mock

URL = "/v1/chat/completions"


def body(model: str = PREVIEW_ID, **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "Hi"}], **extra}


@pytest.fixture
def mocks() -> Iterator[list[MockServer]]:
    servers = [start_mock(), start_mock(), start_mock()]
    yield servers
    for server in servers:
        server.stop()


def test_opt_in_rules(gateway: GatewayServer, mocks: list[MockServer]) -> None:
    admin = admin_client(gateway)
    create_preview_model(admin)
    start_experiment(admin, mocks[:2], require_opt_in=True, allow_anonymous=False)
    key = gateway.call(lambda rt: create_user(rt, "bob@example.com"))
    user = {"authorization": f"Bearer {key}"}
    with httpx.Client(base_url=gateway.base_url) as c:
        anonymous = c.post(URL, json=body(), headers={"x-kilocode-machineid": "m"})
        assert anonymous.status_code == 401
        assert f"/v1/preview-models/{PREVIEW_ID}/opt-in" in anonymous.json()["error"]["message"]
        refused = c.post(URL, json=body(), headers=user)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "opt_in_required"
        assert f"POST /v1/preview-models/{PREVIEW_ID}/opt-in" in refused.json()["error"]["message"]
        disclosure = c.get(f"/v1/preview-models/{PREVIEW_ID}").json()
        assert disclosure["disclosure_version"] == 1 and "retained" in disclosure["disclosure"]
        assert c.post(f"/v1/preview-models/{PREVIEW_ID}/opt-in").status_code == 401
        assert c.post(f"/v1/preview-models/{PREVIEW_ID}/opt-in", headers=user).status_code == 200
        assert c.post(URL, json=body(), headers=user).status_code == 200
        # A new disclosure text needs new consent.
        r = admin.patch(
            f"/admin/api/models/{PREVIEW_ID}",
            json={"disclosure_text": "Prompts are now retained for 90 days."},
        )
        assert r.json()["disclosure_version"] == 2
        assert c.post(URL, json=body(), headers=user).status_code == 403
        assert c.post(f"/v1/preview-models/{PREVIEW_ID}/opt-in", headers=user).status_code == 200
        assert c.post(URL, json=body(), headers=user).status_code == 200


def test_anonymous_allowed_is_bucketed_by_machine_or_ip(
    gateway: GatewayServer, mocks: list[MockServer]
) -> None:
    admin = admin_client(gateway)
    create_preview_model(admin)
    exp = start_experiment(admin, mocks[:2], require_opt_in=True, allow_anonymous=True)
    r = httpx.post(
        f"{gateway.base_url}{URL}", json=body(), headers={"x-kilocode-machineid": "anon-m"}
    )
    assert r.status_code == 200
    slot = exp.slot_for("machine", "anon-m")
    assert slot.mock.upstream.requests[-1].body["model"] == slot.internal_id


def test_hot_swap_moves_the_slot_not_the_subjects(
    gateway: GatewayServer, mocks: list[MockServer]
) -> None:
    admin = admin_client(gateway)
    create_preview_model(admin)
    exp = start_experiment(admin, mocks[:2])
    subjects = [f"swap-{i}" for i in range(30)]
    target = exp.slots[0]
    in_target = [m for m in subjects if exp.slot_for("machine", m) is target]
    others = [m for m in subjects if m not in in_target]
    assert in_target and others
    # Pause, swap slot 0 to a third checkpoint, resume: same subjects, new checkpoint.
    assert exp.post("/pause").status_code == 200
    r = exp.post(
        f"/variants/{target.variant_id}/versions",
        json={
            "upstream": {"internal_id": "acme-rc-new-xk", "base_url": mocks[2].base_url},
            "api_key": "sk-partner-secret-new-91b2",
        },
    )
    assert r.status_code == 201, r.text
    assert exp.post("/activate").status_code == 200
    with httpx.Client(base_url=gateway.base_url) as c:
        for machine in in_target:
            n = len(mocks[2].upstream.requests)
            assert (
                c.post(URL, json=body(), headers={"x-kilocode-machineid": machine}).status_code
                == 200
            )
            assert len(mocks[2].upstream.requests) == n + 1
            sent = mocks[2].upstream.requests[-1]
            assert sent.body["model"] == "acme-rc-new-xk"
            assert sent.headers["Authorization"] == "Bearer sk-partner-secret-new-91b2"
        before_other = len(exp.slots[1].mock.upstream.requests)
        for machine in others:
            c.post(URL, json=body(), headers={"x-kilocode-machineid": machine})
        assert len(exp.slots[1].mock.upstream.requests) == before_other + len(others)
    # Rotating the key keeps the upstream and changes only the bearer.
    r = exp.post(
        f"/variants/{target.variant_id}/rotate-key", json={"api_key": "sk-partner-rotated-55c1"}
    )
    assert r.status_code in (200, 201), r.text
    httpx.post(
        f"{gateway.base_url}{URL}", json=body(), headers={"x-kilocode-machineid": in_target[0]}
    )
    sent = mocks[2].upstream.requests[-1]
    assert sent.headers["Authorization"] == "Bearer sk-partner-rotated-55c1"
    assert sent.body["model"] == "acme-rc-new-xk"


def _metric(base_url: str, name: str) -> float:
    text_ = httpx.get(f"{base_url}/metrics").text
    match = re.search(rf"^{name} ([0-9.e+]+)$", text_, re.M)
    return float(match.group(1)) if match else 0.0


def _serve_subprocess(settings: Any, port: int, ttl: float) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PREVIEWGATE_DATABASE_URL": settings.database_url,
        "PREVIEWGATE_ENCRYPTION_KEY": settings.encryption_key,
        "PREVIEWGATE_REDIS_URL": REDIS_URL,
        "PREVIEWGATE_PORT": str(port),
        "PREVIEWGATE_CACHE_TTL_S": str(ttl),
        "PREVIEWGATE_DATA_DIR": str(settings.data_dir),
        "PREVIEWGATE_LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "previewgate", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            if proc.poll() is not None:
                raise RuntimeError(proc.stderr.read().decode() if proc.stderr else "died") from None
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("gateway subprocess did not start")


def test_hot_swap_reaches_every_process_through_redis(
    make_gateway: Any, settings: Any, mocks: list[MockServer]
) -> None:
    first = make_gateway(settings.replace(redis_url=REDIS_URL, cache_ttl_s=600))
    admin = admin_client(first)
    create_preview_model(admin)
    exp = start_experiment(admin, mocks[:1])  # one slot: a sequential experiment
    port = free_port()
    second = _serve_subprocess(settings, port, ttl=600)
    try:
        other = f"http://127.0.0.1:{port}"
        r = httpx.post(f"{other}{URL}", json=body(), headers={"x-kilocode-machineid": "p2"})
        assert r.status_code == 200 and mocks[0].upstream.requests[-1].body["model"] == (
            exp.slots[0].internal_id
        )
        reloads = _metric(other, "previewgate_cache_reloads_total")
        r = exp.post(
            f"/variants/{exp.slots[0].variant_id}/versions",
            json={
                "upstream": {"internal_id": "acme-rc2-xk", "base_url": mocks[1].base_url},
                "api_key": "sk-partner-secret-v2-aa01",
            },
        )
        assert r.status_code == 201
        # The swapping process is exact at once; the other follows its Redis message.
        r = httpx.post(
            f"{first.base_url}{URL}", json=body(), headers={"x-kilocode-machineid": "p1"}
        )
        assert mocks[1].upstream.requests[-1].body["model"] == "acme-rc2-xk"
        deadline = time.monotonic() + 10
        while _metric(other, "previewgate_cache_reloads_total") <= reloads:
            assert time.monotonic() < deadline, "second process never reloaded"
            time.sleep(0.02)
        n = len(mocks[1].upstream.requests)
        r = httpx.post(f"{other}{URL}", json=body(), headers={"x-kilocode-machineid": "p2"})
        assert r.status_code == 200 and len(mocks[1].upstream.requests) == n + 1
        assert _metric(other, "previewgate_cache_invalidations_total") >= 1
    finally:
        second.terminate()
        second.wait(30)


def test_redis_down_still_routes(make_gateway: Any, settings: Any, mocks: list[MockServer]) -> None:
    gw = make_gateway(settings.replace(redis_url=f"redis://127.0.0.1:{free_port()}/0"))
    admin = admin_client(gw)
    create_preview_model(admin)
    exp = start_experiment(admin, mocks[:2])  # mutations succeed; publishing just fails
    r = httpx.post(f"{gw.base_url}{URL}", json=body(), headers={"x-kilocode-machineid": "r"})
    assert r.status_code == 200
    slot = exp.slot_for("machine", "r")
    assert slot.mock.upstream.requests[-1].body["model"] == slot.internal_id


def test_store_down_with_cold_cache(
    make_gateway: Any, settings: Any, mocks: list[MockServer]
) -> None:
    gw = make_gateway(settings.replace(cache_ttl_s=0.3))
    admin = admin_client(gw)
    create_preview_model(admin)
    start_experiment(admin, mocks[:2])
    serve_model(gw, mocks[2].base_url, "demo/prod", "p")
    assert (
        httpx.post(
            f"{gw.base_url}{URL}", json=body(), headers={"x-kilocode-machineid": "s"}
        ).status_code
        == 200
    )

    async def break_store(rt: Any) -> None:
        async with rt.engine.begin() as conn:
            await conn.execute(text("ALTER TABLE model_experiment RENAME TO model_experiment_gone"))

    # Read the counter first: a reload may fail the moment the table is gone.
    failures = _metric(gw.base_url, "previewgate_cache_reload_failures_total")
    gw.call(break_store)
    deadline = time.monotonic() + 10
    while gw.runtime.routing.is_fresh():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert _metric(gw.base_url, "previewgate_cache_reload_failures_total") > failures
    n = [len(m.upstream.requests) for m in mocks[:2]]
    r = httpx.post(f"{gw.base_url}{URL}", json=body(), headers={"x-kilocode-machineid": "s"})
    assert r.status_code == 503 and r.json()["error"]["code"] == "temporarily_unavailable"
    assert [len(m.upstream.requests) for m in mocks[:2]] == n
    prod = httpx.post(f"{gw.base_url}{URL}", json=body("demo/prod"))
    assert prod.status_code == 200

    async def repair(rt: Any) -> None:
        async with rt.engine.begin() as conn:
            await conn.execute(text("ALTER TABLE model_experiment_gone RENAME TO model_experiment"))

    gw.call(repair)
    gw.refresh()
    assert (
        httpx.post(
            f"{gw.base_url}{URL}", json=body(), headers={"x-kilocode-machineid": "s"}
        ).status_code
        == 200
    )


def test_missing_encryption_key_fails_closed(
    make_gateway: Any, settings: Any, mocks: list[MockServer], caplog: pytest.LogCaptureFixture
) -> None:
    gw = make_gateway(settings)
    admin = admin_client(gw)
    create_preview_model(admin)
    start_experiment(admin, mocks[:2])
    keyless = make_gateway(settings.replace(encryption_key=None))
    r = httpx.post(f"{keyless.base_url}{URL}", json=body(), headers={"x-kilocode-machineid": "k"})
    assert r.status_code == 503
    assert all(len(m.upstream.requests) == 0 for m in mocks[:2])
    assert "cannot be decrypted" in caplog.text or "ENCRYPTION_KEY" in caplog.text
    # A different key is as good as none.
    other_key = base64.b64encode(os.urandom(32)).decode()
    wrong = make_gateway(settings.replace(encryption_key=other_key))
    r = httpx.post(f"{wrong.base_url}{URL}", json=body(), headers={"x-kilocode-machineid": "k"})
    assert r.status_code == 503
