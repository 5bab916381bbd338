"""Feedback from clients: direct endpoint and analytics events."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from previewgate.feedback.models import Feedback
from tests.support.experiments import (
    PREVIEW_ID,
    admin_client,
    create_preview_model,
    start_experiment,
)
from tests.support.seed import create_user
from tests.support.servers import GatewayServer, MockServer


def stored(gateway: GatewayServer) -> list[Feedback]:
    async def fetch(rt):  # type: ignore[no-untyped-def]
        async with rt.sessions() as session:
            return list(await session.scalars(select(Feedback).order_by(Feedback.created_at)))

    return gateway.call(fetch)


def _chat(gateway: GatewayServer, crid: str, **headers: str) -> None:
    """One experimented request with this client request id, its rows written."""
    r = httpx.post(
        f"{gateway.base_url}/v1/chat/completions",
        json={"model": PREVIEW_ID, "messages": [{"role": "user", "content": "hi"}]},
        headers={"x-kilo-request": crid, **headers},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    gateway.flush()


def _rate(gateway: GatewayServer, crid: str, rating: str, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{gateway.base_url}/v1/feedback",
        json={"client_request_id": crid, "rating": rating},
        headers=headers,
        timeout=30,
    )


def _feedback_event(crid: str, rating: str, comment: str | None = None) -> dict[str, Any]:
    properties = {"parentMessageID": crid, "feedbackType": rating}
    return {"event": "Feedback Submitted", "properties": properties | {"comment": comment}}


@pytest.fixture
def live(backend: str, gateway: GatewayServer, mock: MockServer) -> GatewayServer:
    admin = admin_client(gateway)
    create_preview_model(admin)
    start_experiment(admin, [mock], allow_anonymous=True, require_opt_in=False)
    return gateway


def _not_found(r: httpx.Response) -> str:
    assert r.status_code == 404, r.text
    error = r.json()["error"]
    assert set(error) == {"message", "type", "code"} and error["code"] == "not_found"
    return str(error["message"])


def test_feedback_endpoint_and_events(live: GatewayServer) -> None:
    _chat(live, "req-1", **{"x-kilocode-machineid": "m-7"})
    _chat(live, "req-2", **{"x-kilocode-machineid": "m-7"})
    with httpx.Client(base_url=live.base_url, headers={"x-kilocode-machineid": "m-7"}) as c:
        r = c.post("/v1/feedback", json={"client_request_id": "req-1", "rating": "up"})
        assert r.status_code == 201, r.text
        event = _feedback_event("req-2", "thumbs_down", "meh")
        r = c.post("/v1/events", json=event)
        assert r.status_code == 202 and r.json()["stored"] is True
        r = c.post("/v1/events", json={"event": "Task Created", "properties": {"x": 1}})
        assert r.status_code == 202 and r.json()["stored"] is False
        bad = c.post("/v1/feedback", json={"client_request_id": "req-1", "rating": "meh"})
        assert bad.status_code == 422 and "error" in bad.json()
        no_parent = c.post("/v1/events", json={"event": "Feedback Submitted", "properties": {}})
        assert no_parent.status_code == 422
    assert _rate(live, "req-1", "up").status_code == 401  # neither a key nor a machine id
    rows = stored(live)
    assert [(f.client_request_id, f.rating, f.machine_id, f.user_id) for f in rows] == [
        ("req-1", "up", "m-7", None),
        ("req-2", "down", "m-7", None),
    ]
    assert rows[1].comment == "meh"


def test_only_the_user_who_sent_a_request_can_rate_it(live: GatewayServer) -> None:
    key_a = live.call(lambda rt: create_user(rt, "a@example.com"))
    key_b = live.call(lambda rt: create_user(rt, "b@example.com"))
    as_a, as_b = {"authorization": f"Bearer {key_a}"}, {"authorization": f"Bearer {key_b}"}
    _chat(live, "req-a", **as_a, **{"x-machine-id": "shared-machine"})
    assert _rate(live, "req-a", "up", **as_a).status_code == 201
    # B may not rate A's request, whatever machine id B claims: 404, as for an unknown id.
    refused = _not_found(_rate(live, "req-a", "down", **as_b))
    assert _not_found(_rate(live, "req-a", "down", **as_b, **{"x-machine-id": "shared-machine"}))
    assert _not_found(_rate(live, "req-unknown", "down", **as_b)) == refused
    r = httpx.post(
        f"{live.base_url}/v1/events", json=_feedback_event("req-a", "down"), headers=as_b
    )
    assert _not_found(r) == refused
    # The request was made with a key: the machine id alone does not own it.
    _not_found(_rate(live, "req-a", "down", **{"x-machine-id": "shared-machine"}))
    [row] = stored(live)
    assert (row.rating, row.client_request_id) == ("up", "req-a")

    # A's new rating replaces A's own: still one row, same id, rating and comment updated.
    r = httpx.post(
        f"{live.base_url}/v1/events", json=_feedback_event("req-a", "down", "worse"), headers=as_a
    )
    assert r.status_code == 202 and r.json()["stored"] is True
    [again] = stored(live)
    assert (again.id, again.rating, again.comment) == (row.id, "down", "worse")
    assert again.created_at == row.created_at and again.updated_at >= row.updated_at


def test_an_anonymous_request_belongs_to_its_machine(live: GatewayServer) -> None:
    _chat(live, "req-m1", **{"x-machine-id": "m1"})
    key = live.call(lambda rt: create_user(rt, "c@example.com"))
    _not_found(_rate(live, "req-m1", "down", **{"x-machine-id": "m2"}))
    _not_found(_rate(live, "req-m1", "down", authorization=f"Bearer {key}"))
    assert stored(live) == []
    assert _rate(live, "req-m1", "up", **{"x-kilocode-machineid": "m1"}).status_code == 201
    _not_found(_rate(live, "req-m1", "down", **{"x-machine-id": "m2"}))
    assert _rate(live, "req-m1", "down", **{"x-machine-id": "m1"}).status_code == 201
    [row] = stored(live)
    assert (row.rating, row.machine_id, row.user_id) == ("down", "m1", None)
