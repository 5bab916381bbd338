"""The official OpenAI SDK against a live gateway: anonymous access, feedback, models."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import openai
import pytest
from sqlalchemy import select

from previewgate.config import Settings
from previewgate.evidence.models import ExperimentRequest
from previewgate.feedback.models import Feedback
from tests.support.experiments import (
    PREVIEW_ID,
    LiveExperiment,
    admin_client,
    create_preview_model,
    start_experiment,
)
from tests.support.seed import create_user
from tests.support.servers import GatewayServer, MockServer

MESSAGES: list[Any] = [{"role": "user", "content": "Hi"}]


def sdk(gateway: GatewayServer, api_key: str = "anonymous", **headers: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{gateway.base_url}/v1",
        api_key=api_key,
        default_headers=headers,
        max_retries=0,
        timeout=30,
    )


def _rows(gateway: GatewayServer) -> tuple[list[Feedback], dict[uuid.UUID, ExperimentRequest]]:
    async def fetch(rt):  # type: ignore[no-untyped-def]
        async with rt.sessions() as session:
            feedback = list(await session.scalars(select(Feedback)))
            requests = {r.usage_id: r for r in await session.scalars(select(ExperimentRequest))}
            return feedback, requests

    return gateway.call(fetch)  # type: ignore[no-any-return]


@pytest.fixture
def exp(backend: str, gateway: GatewayServer, mock: MockServer) -> LiveExperiment:
    admin = admin_client(gateway)
    create_preview_model(admin)
    return start_experiment(admin, [mock], allow_anonymous=True, require_opt_in=False)


def test_anonymous_sdk_call_and_feedback_by_response_id(
    gateway: GatewayServer, exp: LiveExperiment
) -> None:
    client = sdk(gateway, **{"x-machine-id": "sdk-machine"})
    answer = client.chat.completions.create(model=PREVIEW_ID, messages=MESSAGES)
    assert answer.model == PREVIEW_ID and answer.id.startswith("gen-")
    assert answer.choices[0].message.content
    stream = client.chat.completions.create(model=PREVIEW_ID, messages=MESSAGES, stream=True)
    streamed_ids = {chunk.id for chunk in stream}
    assert len(streamed_ids) == 1 and streamed_ids != {answer.id}
    [streamed] = streamed_ids
    gateway.flush()

    for rated, rating in ((answer.id, "up"), (streamed, "down")):
        stored = client.post(
            "/feedback", body={"response_id": rated, "rating": rating}, cast_to=object
        )
        assert stored == {
            "id": stored["id"],  # type: ignore[index]
            "response_id": rated,
            "client_request_id": None,
            "rating": rating,
        }
    feedback, requests = _rows(gateway)
    by_request = {f.usage_id: f.rating for f in feedback}
    assert by_request == {
        uuid.UUID(hex=answer.id[4:]): "up",
        uuid.UUID(hex=streamed[4:]): "down",
    }
    assert set(by_request) <= set(requests)  # each lands on its attribution row

    # Another machine may not rate it: the SDK raises NotFoundError (404).
    with pytest.raises(openai.NotFoundError):
        sdk(gateway, **{"x-machine-id": "not-mine"}).post(
            "/feedback", body={"response_id": answer.id, "rating": "down"}, cast_to=object
        )


def test_the_anonymous_key_is_no_key_at_all(gateway: GatewayServer, exp: LiveExperiment) -> None:
    key = gateway.call(lambda rt: create_user(rt, "sdk@example.com"))
    keyed = sdk(gateway, key, **{"x-machine-id": "m"})
    keyed.chat.completions.create(model=PREVIEW_ID, messages=MESSAGES)
    # Any other placeholder is an invalid key.
    with pytest.raises(openai.AuthenticationError):
        sdk(gateway, "placeholder").chat.completions.create(model=PREVIEW_ID, messages=MESSAGES)
    # The anonymous key never reaches admin endpoints.
    r = httpx.get(
        f"{gateway.base_url}/admin/api/experiments", headers={"authorization": "Bearer anonymous"}
    )
    assert r.status_code == 401


def test_the_anonymous_key_respects_allow_anonymous(
    backend: str, gateway: GatewayServer, mock: MockServer
) -> None:
    admin = admin_client(gateway)
    create_preview_model(admin)
    start_experiment(admin, [mock], allow_anonymous=False)
    with pytest.raises(openai.AuthenticationError) as refused:
        sdk(gateway, **{"x-machine-id": "m"}).chat.completions.create(
            model=PREVIEW_ID, messages=MESSAGES
        )
    assert "API key" in str(refused.value)


def test_an_empty_anonymous_key_setting_disables_it(
    backend: str, make_gateway: Any, settings: Settings, mock: MockServer
) -> None:
    gateway = make_gateway(settings.replace(anonymous_key=""))
    admin = admin_client(gateway)
    create_preview_model(admin)
    start_experiment(admin, [mock], allow_anonymous=True)
    with pytest.raises(openai.AuthenticationError):
        sdk(gateway, **{"x-machine-id": "m"}).chat.completions.create(
            model=PREVIEW_ID, messages=MESSAGES
        )
    bare = httpx.post(
        f"{gateway.base_url}/v1/chat/completions",
        json={"model": PREVIEW_ID, "messages": MESSAGES},
        headers={"x-machine-id": "m"},
    )
    assert bare.status_code == 200, bare.text  # no key at all stays anonymous


def test_models_list_checks_a_given_key(gateway: GatewayServer, exp: LiveExperiment) -> None:
    key = gateway.call(lambda rt: create_user(rt, "list@example.com"))
    with pytest.raises(openai.AuthenticationError):
        sdk(gateway, "sk-not-a-key").models.list()
    for client in (sdk(gateway), sdk(gateway, key)):
        assert [m.id for m in client.models.list()] == [PREVIEW_ID]
    for path in ("/v1/models", "/api/openrouter/models", "/api/openrouter/v1/models"):
        url = f"{gateway.base_url}{path}"
        assert httpx.get(url).status_code == 200  # no key: the public list
        refused = httpx.get(url, headers={"authorization": "Bearer sk-not-a-key"})
        assert refused.status_code == 401
        assert set(refused.json()["error"]) == {"message", "type", "code"}
        assert "sk-not-a-key" not in refused.text
        malformed = httpx.get(url, headers={"authorization": "Basic abc"})
        assert malformed.status_code == 401
