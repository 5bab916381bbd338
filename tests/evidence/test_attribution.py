"""Every experimented request leaves exactly one attribution row and its evidence blobs."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from previewgate.evidence.capture import canonical_json
from previewgate.evidence.models import ABSENT, FAILED, ExperimentRequest
from previewgate.usage.models import Usage
from tests.support.experiments import (
    PREVIEW_ID,
    LiveExperiment,
    admin_client,
    create_preview_model,
    start_experiment,
)
from tests.support.seed import serve_model
from tests.support.servers import GatewayServer, MockServer, free_port, start_mock

URL = "/v1/chat/completions"
SYSTEM = {"role": "system", "content": "You are a careful coding agent. Never guess."}


def body(content: str = "Hello", *, system: bool = True, **extra: Any) -> dict[str, Any]:
    messages = [SYSTEM] if system else []
    messages.append({"role": "user", "content": content})
    return {"model": PREVIEW_ID, "messages": messages, **extra}


@pytest.fixture
def mocks() -> Iterator[list[MockServer]]:
    servers = [start_mock(), start_mock()]
    yield servers
    for server in servers:
        server.stop()


def rows(gw: GatewayServer) -> list[tuple[ExperimentRequest, Usage]]:
    gw.flush()

    async def fetch(rt: Any) -> list[tuple[ExperimentRequest, Usage]]:
        async with rt.sessions() as session:
            result = await session.execute(
                select(ExperimentRequest, Usage)
                .join(Usage, Usage.id == ExperimentRequest.usage_id)
                .order_by(Usage.created_at)
            )
            return [(r, u) for r, u in result]

    return gw.call(fetch)


def all_usage(gw: GatewayServer) -> list[Usage]:
    gw.flush()

    async def fetch(rt: Any) -> list[Usage]:
        async with rt.sessions() as session:
            return list(await session.scalars(select(Usage)))

    return gw.call(fetch)


def blob(gw: GatewayServer, key: str) -> bytes | None:
    return gw.call(lambda rt: rt.blobs.get(key))


def setup(gw: GatewayServer, mocks: list[MockServer]) -> LiveExperiment:
    admin = admin_client(gw)
    create_preview_model(admin)
    return start_experiment(admin, mocks)


def test_one_row_per_request_including_failures(
    make_gateway: Any, settings: Any, mocks: list[MockServer]
) -> None:
    gw = make_gateway(settings.replace(upstream_read_timeout_s=0.5))
    exp = setup(gw, mocks)
    serve_model(gw, mocks[0].base_url, "demo/prod", "p")
    headers = {"x-kilocode-machineid": "m-1", "x-kilo-request": "msg-1"}
    with httpx.Client(base_url=gw.base_url) as c:
        assert c.post(URL, json=body(), headers=headers).status_code == 200
        assert c.post(URL, json=body("#mock:500"), headers=headers).status_code == 500
        assert c.post(URL, json=body("#mock:drop"), headers=headers).status_code == 502
        assert c.post(URL, json=body("#mock:slow=3"), headers=headers).status_code == 504
        for mock in mocks:  # a long stream, so the client leaves before it ends
            mock.upstream.reply = " ".join(["word"] * 20000)
        with c.stream("POST", URL, json=body("#mock:slow=0", stream=True), headers=headers) as r:
            next(r.iter_bytes())
        assert c.post(URL, json={**body(), "model": "demo/prod"}).status_code == 200
    gw.flush()
    # The cancelled stream finishes asynchronously: wait for its usage row, not a timer.
    for _ in range(100):
        if len(all_usage(gw)) == 6:
            break
        gw.call(lambda rt: rt.writer.flush())
    attributed = rows(gw)
    kinds = sorted(str(u.error_kind) for _, u in attributed)
    assert kinds == sorted(["None", "upstream_500", "stream_cut", "timeout", "client_cancelled"])
    assert len(all_usage(gw)) == 6  # the production request has usage but no attribution
    slot = exp.slot_for("machine", "m-1")
    for req, usage in attributed:
        assert req.created_at == usage.created_at
        assert req.allocation_subject == "machine" and req.client_request_id == "msg-1"
        assert usage.public_model_id == PREVIEW_ID and usage.cost_microusd == 0
    version_ids = {req.variant_version_id for req, _ in attributed}
    assert len(version_ids) == 1
    del slot


def test_prompts_are_content_addressed(gateway: GatewayServer, mocks: list[MockServer]) -> None:
    setup(gateway, mocks)
    with httpx.Client(base_url=gateway.base_url) as c:
        for i in range(2):
            c.post(URL, json=body(f"question {i}"), headers={"x-kilocode-machineid": f"m{i}"})
        with c.stream(
            "POST", URL, json=body("streamed", stream=True), headers={"x-kilocode-machineid": "m9"}
        ) as r:
            streamed_text = "".join(r.iter_text())
        c.post(URL, json=body("no system", system=False), headers={"x-kilocode-machineid": "m3"})
    attributed = rows(gateway)
    assert len(attributed) == 4
    first, second, streamed, no_system = (r for r, _ in attributed)
    assert (
        first.system_prompt_sha256 == second.system_prompt_sha256 == streamed.system_prompt_sha256
    )
    assert first.request_body_sha256 != second.request_body_sha256
    assert no_system.system_prompt_sha256 == ABSENT
    system_bytes = blob(gateway, first.system_prompt_sha256)
    assert system_bytes == canonical_json(SYSTEM)
    assert hashlib.sha256(system_bytes).hexdigest() == first.system_prompt_sha256
    rest = json.loads(blob(gateway, first.request_body_sha256) or b"")
    assert rest["messages"] == [{"role": "user", "content": "question 0"}]
    assert rest["model"].startswith("acme-internal-rc")  # the canonical upstream body
    response = json.loads(blob(gateway, streamed.response_sha256) or b"")
    content = response["choices"][0]["message"]["content"]
    assert content == mocks[0].upstream.reply
    assert response["choices"][0]["finish_reason"] == "stop"
    assert response["usage"]["completion_tokens"] == len(content.split())
    assert "data:" in streamed_text


def test_blob_failure_on_one_side_marks_only_that_side(
    gateway: GatewayServer, mocks: list[MockServer]
) -> None:
    setup(gateway, mocks)
    # A plain file squatting on the system prompt's fan-out folder makes that one write fail.
    digest = hashlib.sha256(canonical_json(SYSTEM)).hexdigest()
    root = Path(gateway.settings.resolved_blob_url.removeprefix("file://"))
    (root / digest[:2]).mkdir(parents=True)
    (root / digest[:2] / digest[2:4]).write_bytes(b"not a folder")
    httpx.post(f"{gateway.base_url}{URL}", json=body(), headers={"x-kilocode-machineid": "f"})
    [(req, usage)] = rows(gateway)
    assert req.system_prompt_sha256 == FAILED
    assert len(req.request_body_sha256) == 64 and len(req.response_sha256) == 64
    assert usage.status_code == 200


def test_blob_store_down_rows_still_land(
    make_gateway: Any, settings: Any, mocks: list[MockServer]
) -> None:
    closed = free_port()
    gw = make_gateway(
        settings.replace(
            blob_url=f"s3://evidence?endpoint_url=http://127.0.0.1:{closed}&region=us-east-1"
        )
    )
    setup(gw, mocks)
    r = httpx.post(f"{gw.base_url}{URL}", json=body(), headers={"x-kilocode-machineid": "d"})
    assert r.status_code == 200
    [(req, usage)] = rows(gw)
    assert (req.system_prompt_sha256, req.request_body_sha256, req.response_sha256) == (
        FAILED,
        FAILED,
        FAILED,
    )
    assert usage.status_code == 200
