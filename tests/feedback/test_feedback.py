"""Feedback from clients: direct endpoint and analytics events."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from previewgate.feedback.models import Feedback
from tests.support.servers import GatewayServer


def stored(gateway: GatewayServer) -> list[Feedback]:
    async def fetch(rt):  # type: ignore[no-untyped-def]
        async with rt.sessions() as session:
            return list(await session.scalars(select(Feedback).order_by(Feedback.created_at)))

    return gateway.call(fetch)


def test_feedback_endpoint_and_events(gateway: GatewayServer) -> None:
    with httpx.Client(base_url=gateway.base_url, headers={"x-kilocode-machineid": "m-7"}) as c:
        r = c.post("/v1/feedback", json={"client_request_id": "req-1", "rating": "up"})
        assert r.status_code == 201, r.text
        r = c.post(
            "/v1/events",
            json={
                "event": "Feedback Submitted",
                "properties": {
                    "parentMessageID": "req-2",
                    "feedbackType": "thumbs_down",
                    "comment": "meh",
                },
            },
        )
        assert r.status_code == 202 and r.json()["stored"] is True
        r = c.post("/v1/events", json={"event": "Task Created", "properties": {"x": 1}})
        assert r.status_code == 202 and r.json()["stored"] is False
        bad = c.post("/v1/feedback", json={"client_request_id": "req-3", "rating": "meh"})
        assert bad.status_code == 422 and "error" in bad.json()
        no_parent = c.post("/v1/events", json={"event": "Feedback Submitted", "properties": {}})
        assert no_parent.status_code == 422
    anonymous = httpx.post(
        f"{gateway.base_url}/v1/feedback", json={"client_request_id": "req-4", "rating": "up"}
    )
    assert anonymous.status_code == 401
    rows = stored(gateway)
    assert [(f.client_request_id, f.rating, f.machine_id) for f in rows] == [
        ("req-1", "up", "m-7"),
        ("req-2", "down", "m-7"),
    ]
    assert rows[1].comment == "meh"
