"""Experimented requests: sticky slots, direct upstream per version, blinding, refusals."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.experiments import (
    PREVIEW_ID,
    LiveExperiment,
    Slot,
    admin_client,
    create_preview_model,
    start_experiment,
)
from tests.support.servers import GatewayServer, MockServer, start_mock

URL = "/v1/chat/completions"


def body(content: str = "Hello there", **extra: Any) -> dict[str, Any]:
    return {"model": PREVIEW_ID, "messages": [{"role": "user", "content": content}], **extra}


@pytest.fixture
def mocks() -> Iterator[list[MockServer]]:
    servers = [start_mock(), start_mock()]
    yield servers
    for server in servers:
        server.stop()


@pytest.fixture
def default_upstream() -> Iterator[MockServer]:
    server = start_mock()
    yield server
    server.stop()


@pytest.fixture
def gw(make_gateway: Any, settings: Any, default_upstream: MockServer) -> GatewayServer:
    # A default upstream exists, so an experimented id wrongly treated as unknown would reach it.
    return make_gateway(  # type: ignore[no-any-return]
        settings.replace(default_upstream_url=default_upstream.base_url.removesuffix("/v1"))
    )


@pytest.fixture
def exp(gw: GatewayServer, mocks: list[MockServer]) -> LiveExperiment:
    admin = admin_client(gw)
    create_preview_model(admin)
    return start_experiment(admin, mocks)


def served_by(exp: LiveExperiment, before: list[int]) -> Slot:
    grew = [s for s, n in zip(exp.slots, before, strict=True) if len(s.mock.upstream.requests) > n]
    assert len(grew) == 1
    return grew[0]


def counts(exp: LiveExperiment) -> list[int]:
    return [len(s.mock.upstream.requests) for s in exp.slots]


def test_each_request_goes_to_its_slots_current_version(
    gw: GatewayServer, exp: LiveExperiment, default_upstream: MockServer
) -> None:
    seen: set[str] = set()
    with httpx.Client(base_url=gw.base_url) as client:
        for i in range(24):
            machine = f"machine-{i}"
            before = counts(exp)
            r = client.post(URL, json=body(), headers={"x-kilocode-machineid": machine})
            assert r.status_code == 200, r.text
            slot = served_by(exp, before)
            assert slot is exp.slot_for("machine", machine)
            sent = slot.mock.upstream.requests[-1]
            assert sent.body["model"] == slot.internal_id
            assert sent.headers["Authorization"] == f"Bearer {slot.api_key}"
            assert sent.path == "/v1/chat/completions"
            seen.add(slot.label)
    assert len(seen) == 2  # both checkpoints took traffic
    assert default_upstream.upstream.requests == []


def test_same_subject_same_slot_for_1000_requests(gw: GatewayServer, exp: LiveExperiment) -> None:
    with httpx.Client(base_url=gw.base_url) as client:
        for _ in range(1000):
            r = client.post(URL, json=body(), headers={"x-kilocode-machineid": "sticky-1"})
            assert r.status_code == 200
    assert sorted(counts(exp)) == [0, 1000]
    slot = exp.slot_for("machine", "sticky-1")
    assert len(slot.mock.upstream.requests) == 1000


def test_subject_precedence_user_then_machine_then_ip(
    gw: GatewayServer, exp: LiveExperiment
) -> None:
    from tests.support.seed import create_user

    key = gw.call(lambda rt: create_user(rt, "alice@example.com"))
    user_id = gw.call(lambda rt: _user_id(rt, "alice@example.com"))
    with httpx.Client(base_url=gw.base_url) as client:
        for i in range(10):
            before = counts(exp)
            client.post(
                URL,
                json=body(),
                headers={"authorization": f"Bearer {key}", "x-kilocode-machineid": f"m-{i}"},
            )
            # An authenticated user's bucket ignores machine and ip.
            assert served_by(exp, before) is exp.slot_for("user", user_id)
        before = counts(exp)
        client.post(URL, json=body())
        assert served_by(exp, before) is exp.slot_for("ip", "127.0.0.1")


async def _user_id(rt: Any, email: str) -> str:
    from previewgate.accounts import service

    async with rt.sessions() as session:
        return str((await service.get_user_by_email(session, email)).id)


SECRET_FIELDS = ("label", "internal_id", "api_key")


def assert_blind(r: httpx.Response, text: str, exp: LiveExperiment) -> None:
    haystacks = [text, *[f"{k}: {v}" for k, v in r.headers.items()]]
    for slot in exp.slots:
        needles = [
            slot.label,
            slot.internal_id,
            slot.api_key,
            slot.mock.base_url,
            f"127.0.0.1:{slot.mock.port}",
            str(slot.mock.port),
            slot.variant_id,
        ]
        for needle in needles:
            for hay in haystacks:
                assert needle not in hay, f"{needle!r} leaked in {hay[:200]!r}"
    # Our own request id replaces the upstream's ("req-mock"); no upstream header passes.
    assert r.headers["x-request-id"].startswith("gen-") and "openai-model" not in r.headers


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("content", ["Hello there", "#mock:500", "#mock:429"])
def test_nothing_reveals_the_variant(
    gw: GatewayServer, exp: LiveExperiment, stream: bool, content: str
) -> None:
    served: set[str] = set()
    with httpx.Client(base_url=gw.base_url) as client:
        for i in range(12):
            before = counts(exp)
            with client.stream(
                "POST",
                URL,
                json=body(content, stream=stream),
                headers={"x-kilocode-machineid": f"blind-{i}"},
            ) as r:
                text = "".join(r.iter_text())
            served.add(served_by(exp, before).label)
            assert_blind(r, text, exp)
            if content == "Hello there":
                assert r.status_code == 200
                models = {ln for ln in text.split('"model":')[1:]}
                assert all(m.startswith(f'"{PREVIEW_ID}"') for m in models)
            else:
                assert r.status_code == int(content[-3:])
                assert json.loads(text)["error"]["message"]
    assert len(served) == 2  # checked for both variants


@pytest.mark.parametrize("provider", [{"data_collection": "deny"}, {"zdr": True}])
def test_data_collection_refusal(
    gw: GatewayServer, exp: LiveExperiment, provider: dict[str, Any]
) -> None:
    r = httpx.post(
        f"{gw.base_url}{URL}", json=body(provider=provider), headers={"x-kilocode-machineid": "m-1"}
    )
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "data_collection_required"
    assert "data collection" in r.json()["error"]["message"]
    assert counts(exp) == [0, 0]
    gw.flush()


def test_paused_is_404_and_resume_keeps_slots(gw: GatewayServer, exp: LiveExperiment) -> None:
    machines = [f"pause-{i}" for i in range(10)]
    assert exp.post("/pause").status_code == 200
    for machine in machines:
        r = httpx.post(
            f"{gw.base_url}{URL}", json=body(), headers={"x-kilocode-machineid": machine}
        )
        assert r.status_code == 404 and r.json()["error"]["code"] == "model_unavailable"
    assert counts(exp) == [0, 0]
    assert exp.post("/activate").status_code == 200
    for machine in machines:
        before = counts(exp)
        httpx.post(f"{gw.base_url}{URL}", json=body(), headers={"x-kilocode-machineid": machine})
        assert served_by(exp, before) is exp.slot_for("machine", machine)


def test_weights_shape_the_split(gw: GatewayServer, mocks: list[MockServer]) -> None:
    admin = admin_client(gw)
    create_preview_model(admin)
    exp = start_experiment(admin, mocks, weights=[1, 3])
    tally: Counter[int] = Counter()
    with httpx.Client(base_url=gw.base_url) as client:
        for i in range(400):
            before = counts(exp)
            client.post(URL, json=body(), headers={"x-kilocode-machineid": f"w-{i}"})
            slot = served_by(exp, before)
            tally[exp.weights[slot.variant_id]] += 1
    # 1:3 of 400 subjects: expect ~100/300; 5 sigma is about +-43.
    assert abs(tally[1] - 100) < 45 and abs(tally[3] - 300) < 45
