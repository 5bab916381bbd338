"""Feedback by the gateway's response id (``gen-<usage id hex>``), and what reports count."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from previewgate.evidence.models import ExperimentRequest
from previewgate.usage.models import Usage
from tests.feedback.test_feedback import stored
from tests.support.experiments import (
    PREVIEW_ID,
    LiveExperiment,
    admin_client,
    create_preview_model,
    start_experiment,
)
from tests.support.seed import create_user, serve_model
from tests.support.servers import GatewayServer, MockServer


def _chat(gateway: GatewayServer, stream: bool = False, **headers: str) -> str:
    """One experimented request, its rows written; returns the response id the client saw."""
    body: dict[str, Any] = {"model": PREVIEW_ID, "messages": [{"role": "user", "content": "hi"}]}
    with httpx.stream(
        "POST",
        f"{gateway.base_url}/v1/chat/completions",
        json=body | {"stream": stream},
        headers=headers,
        timeout=30,
    ) as r:
        r.read()
    assert r.status_code == 200, r.text
    header = r.headers["x-request-id"]
    if stream:
        ids = {json.loads(line[6:])["id"] for line in _data(r.text)}
        assert ids == {header}  # every chunk carries the same id
    else:
        assert r.json()["id"] == header
    gateway.flush()
    return header


def _data(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("data: {")]


def _rate(gateway: GatewayServer, body: dict[str, Any], **headers: str) -> httpx.Response:
    return httpx.post(f"{gateway.base_url}/v1/feedback", json=body, headers=headers, timeout=30)


def _attribution(gateway: GatewayServer, usage_id: uuid.UUID) -> ExperimentRequest:
    async def fetch(rt):  # type: ignore[no-untyped-def]
        async with rt.sessions() as session:
            return await session.get(ExperimentRequest, usage_id)

    row = gateway.call(fetch)
    assert row is not None
    return row  # type: ignore[no-any-return]


@pytest.fixture
def exp(backend: str, gateway: GatewayServer, mock: MockServer) -> LiveExperiment:
    admin = admin_client(gateway)
    create_preview_model(admin)
    return start_experiment(admin, [mock], allow_anonymous=True, require_opt_in=False)


M1 = {"x-machine-id": "machine-1"}


def test_the_response_id_rates_that_request(gateway: GatewayServer, exp: LiveExperiment) -> None:
    first = _chat(gateway, **M1)
    second = _chat(gateway, stream=True, **M1)
    assert first != second and first.startswith("gen-") and len(first) == 36
    r = _rate(gateway, {"response_id": second, "rating": "up", "comment": "good"}, **M1)
    assert r.status_code == 201, r.text
    assert r.json()["response_id"] == second and r.json()["client_request_id"] is None
    [row] = stored(gateway)
    usage_id = uuid.UUID(hex=second[4:])
    assert (row.usage_id, row.client_request_id, row.rating) == (usage_id, None, "up")
    assert (row.machine_id, row.user_id, row.comment) == ("machine-1", None, "good")
    attribution = _attribution(gateway, usage_id)
    assert attribution.variant_version_id is not None  # the row the rating points at

    # The same id in client_request_id or an event's parentMessageID rates the same request:
    # the rater's rating is replaced, never doubled.
    r = _rate(gateway, {"client_request_id": second, "rating": "down"}, **M1)
    assert r.status_code == 201 and r.json()["response_id"] == second
    event = {"event": "Feedback Submitted", "properties": {"parentMessageID": first}}
    r = httpx.post(
        f"{gateway.base_url}/v1/events",
        json=event | {"properties": event["properties"] | {"rating": "up"}},
        headers=M1,
    )
    assert r.status_code == 202 and r.json()["stored"] is True
    rows = {f.usage_id: f.rating for f in stored(gateway)}
    assert rows == {usage_id: "down", uuid.UUID(hex=first[4:]): "up"}


def test_only_the_caller_who_made_the_request_rates_it(
    gateway: GatewayServer, exp: LiveExperiment
) -> None:
    key = gateway.call(lambda rt: create_user(rt, "u@example.com"))
    other = gateway.call(lambda rt: create_user(rt, "o@example.com"))
    anonymous = _chat(gateway, **M1)
    with_key = _chat(gateway, authorization=f"Bearer {key}", **M1)
    refusals = [
        ({"response_id": anonymous}, {"x-machine-id": "machine-2"}),  # another machine
        ({"response_id": anonymous}, {"authorization": f"Bearer {other}"}),
        ({"response_id": with_key}, M1),  # a keyed request: the machine does not own it
        ({"response_id": with_key}, {"authorization": f"Bearer {other}", **M1}),
        ({"response_id": "gen-" + uuid.uuid4().hex}, M1),  # nobody's
        ({"response_id": "chatcmpl-mock"}, M1),  # the upstream's id is not ours
        ({"response_id": anonymous.upper()}, M1),
    ]
    messages = set()
    for body, headers in refusals:
        r = _rate(gateway, body | {"rating": "up"}, **headers)
        assert r.status_code == 404, (body, headers, r.text)
        assert set(r.json()["error"]) == {"message", "type", "code"}
        messages.add(r.json()["error"]["message"])
    assert len(messages) == 1  # no answer tells whether somebody else's request exists
    for body in ({}, {"response_id": anonymous, "client_request_id": "x"}):
        r = _rate(gateway, body | {"rating": "up"}, **M1)
        assert r.status_code == 422 and "exactly one" in r.json()["error"]["message"]
    assert stored(gateway) == []
    assert _rate(gateway, {"response_id": with_key, "rating": "up"}, authorization=f"Bearer {key}")
    [row] = stored(gateway)
    assert row.usage_id == uuid.UUID(hex=with_key[4:]) and row.user_id is not None


def test_usage_row_keeps_the_upstream_id(
    gateway: GatewayServer, exp: LiveExperiment, mock: MockServer
) -> None:
    serve_model(gateway, mock.base_url)
    seen = [_chat(gateway, **M1), _chat(gateway, stream=True, **M1)]
    for stream in (False, True):
        body = {"model": "demo/prod", "messages": [{"role": "user", "content": "x"}]}
        r = httpx.post(f"{gateway.base_url}/v1/chat/completions", json=body | {"stream": stream})
        assert r.status_code == 200 and "chatcmpl-mock" not in r.text
        seen.append(r.headers["x-request-id"])
    gateway.flush()

    async def fetch(rt):  # type: ignore[no-untyped-def]
        async with rt.sessions() as session:
            return {u.id: u.upstream_response_id for u in await session.scalars(select(Usage))}

    rows = gateway.call(fetch)
    assert {f"gen-{usage_id.hex}" for usage_id in rows} == set(seen)
    assert set(rows.values()) == {"chatcmpl-mock"}


def _feedback_counts(exp: LiveExperiment) -> dict[str, tuple[int, int]]:
    r = exp.admin.get(f"/admin/api/experiments/{exp.id}/stats")
    assert r.status_code == 200, r.text
    return {
        v["variant_version_id"]: (v["feedback"]["up"], v["feedback"]["down"])
        for v in r.json()["versions"]
    }


def test_reports_count_a_request_rating_once_for_its_version(
    gateway: GatewayServer, exp: LiveExperiment, mock: MockServer
) -> None:
    m2 = {"x-machine-id": "machine-2"}
    # machine-1 sends message msg-1 twice (same version) and a request without a message id.
    a = _chat(gateway, **M1, **{"x-client-request-id": "msg-1"})
    _chat(gateway, **M1, **{"x-client-request-id": "msg-1"})
    plain = _chat(gateway, **M1)
    assert _rate(gateway, {"client_request_id": "msg-1", "rating": "up"}, **M1).status_code == 201
    # Rating one of msg-1's requests by its id replaces the message rating for that request
    # only; the other request of msg-1 keeps the message rating.
    assert _rate(gateway, {"response_id": a, "rating": "down"}, **M1).status_code == 201
    assert _rate(gateway, {"response_id": plain, "rating": "down"}, **M1).status_code == 201
    # A hot-swap: machine-2's request is served by the slot's new version.
    swapped = exp.post(
        f"/variants/{exp.slots[0].variant_id}/versions",
        json={
            "upstream": {"internal_id": "acme-rc-next", "base_url": mock.base_url},
            "api_key": "sk-partner-next-5e1d",
        },
    )
    assert swapped.status_code in (200, 201), swapped.text
    gateway.refresh()
    b = _chat(gateway, **m2)
    assert _rate(gateway, {"response_id": b, "rating": "up"}, **m2).status_code == 201
    assert _rate(gateway, {"response_id": b, "rating": "up"}, **m2).status_code == 201  # again
    versions = {
        _attribution(gateway, uuid.UUID(hex=x[4:])).variant_version_id: x for x in (a, plain, b)
    }
    assert len(versions) == 2
    counts = _feedback_counts(exp)
    first = _attribution(gateway, uuid.UUID(hex=a[4:])).variant_version_id
    second = _attribution(gateway, uuid.UUID(hex=b[4:])).variant_version_id
    assert counts[str(first)] == (1, 2)  # msg-1 (other request) up; a and plain down
    assert counts[str(second)] == (1, 0)
    assert len(stored(gateway)) == 4


def test_dropping_attribution_rows_drops_their_request_ratings(
    gateway: GatewayServer, exp: LiveExperiment
) -> None:
    a = _chat(gateway, **M1, **{"x-client-request-id": "msg-9"})
    assert _rate(gateway, {"response_id": a, "rating": "up"}, **M1).status_code == 201
    assert _rate(gateway, {"client_request_id": "msg-9", "rating": "up"}, **M1).status_code == 201
    r = exp.post("/wipe-prompts", json={"drop_rows": True})
    assert r.status_code == 200, r.text
    [kept] = stored(gateway)  # the message rating has no row to follow
    assert (kept.client_request_id, kept.usage_id) == ("msg-9", None)
