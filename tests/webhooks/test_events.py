"""The events a partner receives come from the changes themselves (the outbox), each thin,
signed, and only about the partner's own slots and consented turns."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from standardwebhooks import Webhook

from previewgate.partners.export import Exporter
from previewgate.runtime import Runtime
from previewgate.webhooks.outbox import MAX_BODY_BYTES
from tests.support.experiments import PREVIEW_ID, admin_client, start_experiment
from tests.support.receiver import Receiver
from tests.support.servers import GatewayServer, MockServer
from tests.webhooks.test_delivery import _pump

ALL = ["export.ready", "feedback.created", "experiment.status_changed", "checkpoint.swapped"]


def _events(receiver: Receiver, secret: str) -> list[dict[str, Any]]:
    out = []
    for got in receiver.received:
        assert len(got.body) <= MAX_BODY_BYTES
        out.append(Webhook(secret).verify(got.body, got.headers))
    return out


def test_changes_reach_the_owning_partner_as_events(
    gateway: GatewayServer, receiver: Receiver, mock: MockServer
) -> None:
    admin = admin_client(gateway)
    r = admin.post(
        "/admin/api/models",
        json={"public_id": PREVIEW_ID, "kind": "preview", "disclosure_shares_with_partner": True},
    )
    assert r.status_code == 201, r.text
    experiment = start_experiment(admin, [mock, mock], require_opt_in=True, allow_anonymous=False)
    acme = admin.post("/admin/api/partners", json={"slug": "acme", "name": "Acme"}).json()
    other = admin.post("/admin/api/partners", json={"slug": "other", "name": "Other"}).json()
    hook = admin.post(
        f"/admin/api/partners/{acme['id']}/webhooks",
        json={"url": receiver.url, "event_types": ALL},
    ).json()
    mine, theirs = experiment.slots
    for slot, owner in ((mine, acme), (theirs, other)):
        path = f"/admin/api/experiments/{experiment.id}/variants/{slot.variant_id}/partner"
        assert admin.put(path, json={"partner_id": owner["id"]}).status_code == 200

    # A rated turn served by acme's slot.
    for _ in range(200):
        user = admin.post("/admin/api/users", json={"email": f"u{_}@x.example"}).json()
        if experiment.slot_for("user", user["id"]).variant_id == mine.variant_id:
            break
    key = admin.post(f"/admin/api/users/{user['id']}/keys").json()["key"]
    auth = {"authorization": f"Bearer {key}"}
    base = gateway.base_url
    assert httpx.post(f"{base}/v1/preview-models/{PREVIEW_ID}/opt-in", headers=auth).is_success
    answer = httpx.post(
        f"{base}/v1/chat/completions",
        headers=auth,
        json={"model": PREVIEW_ID, "messages": [{"role": "user", "content": "hi"}]},
    ).json()
    gateway.flush()
    rated = httpx.post(
        f"{base}/v1/feedback", headers=auth, json={"response_id": answer["id"], "rating": "up"}
    )
    assert rated.status_code == 201, rated.text

    # A swap of acme's slot, one of the other partner's slot (not acme's business), a pause.
    for slot in (mine, theirs):
        r = experiment.post(
            f"/variants/{slot.variant_id}/versions",
            json={
                "upstream": {
                    "internal_id": slot.internal_id + "-2",
                    "base_url": slot.mock.base_url,
                },
                "api_key": slot.api_key,
            },
        )
        assert r.status_code == 201, r.text
    assert experiment.post("/pause").status_code == 200
    day = datetime.now(UTC).date()
    gateway.call(lambda rt: _export(rt, acme["id"], day))
    _pump(gateway)

    events = _events(receiver, hook["secret"])
    assert sorted(e["type"] for e in events) == sorted(ALL)
    by_type = {e["type"]: e["data"] for e in events}
    assert by_type["experiment.status_changed"]["status"] == "paused"
    assert by_type["experiment.status_changed"]["previous_status"] == "active"
    assert by_type["checkpoint.swapped"]["slot_label"] == mine.label
    assert by_type["feedback.created"]["rating"] == "up"
    (turn_id,) = by_type["feedback.created"]["turn_ids"]
    assert len(turn_id) == 32 and user["id"].replace("-", "") not in turn_id
    ready = by_type["export.ready"]
    assert ready["day"] == day.isoformat() and ready["records"] == 1
    assert ready["manifest_key"].startswith(f"partner/{acme['id']}/")
    text = b"".join(got.body for got in receiver.received)
    for leaked in (theirs.label, theirs.internal_id, other["id"], user["id"], key):
        assert leaked.encode() not in text
    assert orjson.loads(receiver.received[0].body)["timestamp"].endswith("Z")


async def _export(runtime: Runtime, partner_id: str, day: Any) -> None:
    import uuid

    await Exporter(runtime.sessions, runtime.blobs, runtime.cipher).export_day(
        uuid.UUID(partner_id), day
    )
