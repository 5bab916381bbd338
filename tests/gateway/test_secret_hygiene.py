"""Partner keys never reach a response, a header or a log line."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest

from tests.support.experiments import admin_client, create_preview_model, start_experiment
from tests.support.servers import GatewayServer, MockServer, start_mock

URL = "/v1/chat/completions"


@pytest.fixture
def mocks() -> Iterator[list[MockServer]]:
    servers = [start_mock(), start_mock()]
    yield servers
    for server in servers:
        server.stop()


def test_keys_stay_out_of_responses_and_logs(
    gateway: GatewayServer, mocks: list[MockServer], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    admin = admin_client(gateway)
    responses: list[httpx.Response] = []
    model_key = "sk-catalog-secret-0a1b2c3d"
    responses.append(
        admin.post(
            "/admin/api/models",
            json={
                "public_id": "demo/prod",
                "kind": "production",
                "api_key": model_key,
                "upstream": {"internal_id": "p", "base_url": mocks[0].base_url},
            },
        )
    )
    create_preview_model(admin)
    exp = start_experiment(admin, mocks)
    keys = [model_key, *(s.api_key for s in exp.slots)]
    swap_key, rotated_key = "sk-swapped-secret-44aa", "sk-rotated-secret-55bb"
    keys += [swap_key, rotated_key]
    slot = exp.slots[0]
    responses.append(
        exp.post(
            f"/variants/{slot.variant_id}/versions",
            json={
                "upstream": {"internal_id": slot.internal_id, "base_url": slot.mock.base_url},
                "api_key": swap_key,
            },
        )
    )
    responses.append(
        exp.post(f"/variants/{slot.variant_id}/rotate-key", json={"api_key": rotated_key})
    )
    responses.append(admin.get(f"/admin/api/experiments/{exp.id}"))
    responses.append(admin.get("/admin/api/experiments"))
    with httpx.Client(base_url=gateway.base_url) as c:
        for i in range(8):
            for content in ("hi", "#mock:500", "#mock:400"):
                for model in ("demo/prod", "acme/preview-experiment-foo"):
                    responses.append(
                        c.post(
                            URL,
                            headers={"x-kilocode-machineid": f"m{i}"},
                            json={
                                "model": model,
                                "stream": i % 2 == 0,
                                "messages": [{"role": "user", "content": content}],
                            },
                        )
                    )
    gateway.flush()
    # The mock echoes the bearer key in its error texts, like real providers often do.
    assert any(r.status_code == 500 for r in responses)
    for r in responses:
        blob = r.text + "".join(f"{k}:{v}" for k, v in r.headers.items())
        for key in keys:
            assert key not in blob
    assert caplog.records, "the run logged nothing at all; the scan would prove nothing"
    for key in keys:
        assert key not in caplog.text
