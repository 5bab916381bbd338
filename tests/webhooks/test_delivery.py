"""Webhook deliveries to a real receiver on loopback: signed by the Standard Webhooks spec
(verified with the `standardwebhooks` package), retried on a (short) schedule with one
`webhook-id`, `Retry-After` honoured, 410 disables, dead letters replayable."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from previewgate.runtime import Runtime
from previewgate.webhooks.delivery import DeliveryWorker, Schedule, WorkerOptions
from previewgate.webhooks.models import OperatorNotice, WebhookDelivery
from tests.support.experiments import admin_client
from tests.support.faults import wait_until
from tests.support.receiver import Receiver
from tests.support.servers import GatewayServer

FAST = Schedule(steps_s=(0.0, 0.05, 0.05, 0.05), jitter=0.0)


def _endpoint(admin: httpx.Client, url: str, events: list[str] | None = None) -> dict[str, Any]:
    partner = admin.post(
        "/admin/api/partners", json={"slug": f"p{uuid.uuid4().hex[:8]}", "name": "P"}
    )
    assert partner.status_code == 201, partner.text
    r = admin.post(
        f"/admin/api/partners/{partner.json()['id']}/webhooks",
        json={"url": url, "event_types": events or ["export.ready"]},
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def _pump(gateway: GatewayServer, schedule: Schedule = FAST, timeout_s: float = 20) -> None:
    """Run a worker until nothing is pending (or the timeout)."""

    async def work(runtime: Runtime) -> None:
        options = WorkerOptions(
            allowed_networks=runtime.settings.webhook_allowed_network_list,
            schedule=schedule,
            timeout_s=5,
        )
        worker = DeliveryWorker(runtime.sessions, runtime.cipher, options)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            await worker.claim_and_send()
            await worker.drain()
            async with runtime.sessions() as session:
                pending = await session.scalar(
                    select(WebhookDelivery.id).where(WebhookDelivery.status == "pending").limit(1)
                )
            if pending is None:
                return
            await asyncio.sleep(0.01)  # the next attempt is due in a few ms
        raise AssertionError("deliveries still pending")

    gateway.thread.run(work(gateway.runtime), timeout=timeout_s + 10)


def _verify(secret: str, received: Any) -> Any:
    return Webhook(secret).verify(received.body, received.headers)


def test_a_failing_receiver_gets_one_accepted_delivery_with_one_id(
    gateway: GatewayServer, receiver: Receiver
) -> None:
    admin = admin_client(gateway)
    endpoint = _endpoint(admin, receiver.url)
    receiver.script.extend([(500, {}), (502, {}), (503, {})])
    r = admin.post(f"/admin/api/webhooks/{endpoint['id']}/test")
    assert r.status_code == 202, r.text
    message_id = r.json()["message_id"]
    _pump(gateway)

    assert [got.status for got in receiver.received] == [500, 502, 503, 200]
    assert {got.headers["webhook-id"] for got in receiver.received} == {message_id}
    for got in receiver.received:
        payload = _verify(endpoint["secret"], got)
        assert payload["type"] == "webhook.test"
    deliveries = admin.get(f"/admin/api/webhooks/{endpoint['id']}/deliveries").json()
    assert [(d["status"], d["attempts"]) for d in deliveries] == [("delivered", 4)]
    attempts = admin.get(f"/admin/api/webhook-deliveries/{deliveries[0]['id']}/attempts").json()
    assert [a["status_code"] for a in attempts] == [500, 502, 503, 200]
    assert attempts[0]["response_prefix"] == "answer 500"
    # The secret is never shown again.
    assert (
        endpoint["secret"]
        not in admin.get(f"/admin/api/partners/{endpoint['partner_id']}/webhooks").text
    )


def test_during_a_rotation_both_secrets_verify(gateway: GatewayServer, receiver: Receiver) -> None:
    admin = admin_client(gateway)
    endpoint = _endpoint(admin, receiver.url)
    rotated = admin.post(f"/admin/api/webhooks/{endpoint['id']}/rotate", json={"grace_s": 3600})
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert new_secret != endpoint["secret"] and new_secret.startswith("whsec_")
    admin.post(f"/admin/api/webhooks/{endpoint['id']}/test")
    _pump(gateway)
    (got,) = receiver.received
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    _verify(endpoint["secret"], got)
    _verify(new_secret, got)

    # Without a grace period only the new secret signs.
    again = admin.post(f"/admin/api/webhooks/{endpoint['id']}/rotate", json={"grace_s": 0})
    admin.post(f"/admin/api/webhooks/{endpoint['id']}/test")
    _pump(gateway)
    last = receiver.received[-1]
    assert len(last.headers["webhook-signature"].split(" ")) == 1
    _verify(again.json()["secret"], last)
    with pytest.raises(WebhookVerificationError):
        _verify(new_secret, last)


def test_retry_after_is_honoured(gateway: GatewayServer, receiver: Receiver) -> None:
    admin = admin_client(gateway)
    endpoint = _endpoint(admin, receiver.url)
    receiver.script.append((429, {"retry-after": "1"}))
    admin.post(f"/admin/api/webhooks/{endpoint['id']}/test")
    _pump(gateway)
    delivery = admin.get(f"/admin/api/webhooks/{endpoint['id']}/deliveries").json()[0]
    first, second = admin.get(f"/admin/api/webhook-deliveries/{delivery['id']}/attempts").json()
    assert (first["status_code"], second["status_code"]) == (429, 200)
    gap = datetime.fromisoformat(second["attempted_at"]) - datetime.fromisoformat(
        first["attempted_at"]
    )
    assert gap.total_seconds() >= 1.0  # the schedule alone would have waited 0.05 s


def test_410_disables_the_endpoint(gateway: GatewayServer, receiver: Receiver) -> None:
    admin = admin_client(gateway)
    endpoint = _endpoint(admin, receiver.url)
    receiver.script.append((410, {}))
    admin.post(f"/admin/api/webhooks/{endpoint['id']}/test")
    _pump(gateway)
    shown = admin.get(f"/admin/api/partners/{endpoint['partner_id']}/webhooks").json()[0]
    assert shown["enabled"] is False and "410" in shown["disabled_reason"]
    assert len(receiver.received) == 1
    assert gateway.call(_notices) == ["webhook_endpoint_disabled"]


def test_dead_letters_are_noticed_and_replayable(
    gateway: GatewayServer, receiver: Receiver
) -> None:
    admin = admin_client(gateway)
    endpoint = _endpoint(admin, receiver.url)
    receiver.script.extend([(500, {})] * 2)
    admin.post(f"/admin/api/webhooks/{endpoint['id']}/test")
    short = Schedule(steps_s=(0.0, 0.02), jitter=0.0)
    _pump(gateway, short)
    delivery = admin.get(f"/admin/api/webhooks/{endpoint['id']}/deliveries").json()[0]
    assert (delivery["status"], delivery["attempts"]) == ("dead", 2)
    assert gateway.call(_notices) == ["webhook_dead_letter"]

    r = admin.post(
        f"/admin/api/webhooks/{endpoint['id']}/replay-dead",
        params={"since": "2000-01-01T00:00:00Z"},
    )
    assert r.json() == {"requeued": 1}
    _pump(gateway, short)
    delivery = admin.get(f"/admin/api/webhooks/{endpoint['id']}/deliveries").json()[0]
    assert delivery["status"] == "delivered"
    assert [got.status for got in receiver.received] == [500, 500, 200]
    assert len({got.headers["webhook-id"] for got in receiver.received}) == 1


def test_a_redirect_is_not_followed(gateway: GatewayServer, receiver: Receiver) -> None:
    admin = admin_client(gateway)
    endpoint = _endpoint(admin, receiver.url)
    receiver.script.extend([(302, {})] * 4)
    admin.post(f"/admin/api/webhooks/{endpoint['id']}/test")
    _pump(gateway)
    delivery = admin.get(f"/admin/api/webhooks/{endpoint['id']}/deliveries").json()[0]
    assert delivery["status"] == "dead"
    attempts = admin.get(f"/admin/api/webhook-deliveries/{delivery['id']}/attempts").json()
    assert all("redirect" in a["error"] for a in attempts)
    assert len(receiver.received) == 4  # and never the redirect's target


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data",
        "http://10.1.2.3/hook",
        "http://[fd00::1]/hook",
        "http://user:s3cr3tpw@127.0.0.1/hook",
        "ftp://127.0.0.1/hook",
    ],
)
def test_unsafe_destinations_are_refused_at_creation(gateway: GatewayServer, url: str) -> None:
    admin = admin_client(gateway)
    partner = admin.post("/admin/api/partners", json={"slug": "p", "name": "P"}).json()
    r = admin.post(
        f"/admin/api/partners/{partner['id']}/webhooks",
        json={"url": url, "event_types": ["export.ready"]},
    )
    assert r.status_code == 422, r.text
    assert "s3cr3tpw" not in r.text


async def _notices(runtime: Runtime) -> list[str]:
    async with runtime.sessions() as session:
        return list(await session.scalars(select(OperatorNotice.kind)))


def test_a_slow_endpoint_does_not_delay_another_partners(gateway: GatewayServer) -> None:
    slow, fast = Receiver(delay_s=5).start(), Receiver().start()
    try:
        admin = admin_client(gateway)
        slow_hook, fast_hook = _endpoint(admin, slow.url), _endpoint(admin, fast.url)
        gateway.call(lambda rt: _queue_tests(rt, uuid.UUID(slow_hook["id"]), 1000))

        async def start(runtime: Runtime) -> DeliveryWorker:
            options = WorkerOptions(
                allowed_networks=runtime.settings.webhook_allowed_network_list,
                schedule=Schedule(jitter=0.0),  # the real schedule: the next step is 5 s
                poll_s=0.05,
                timeout_s=15,
            )
            worker = DeliveryWorker(runtime.sessions, runtime.cipher, options)
            worker.start()
            return worker

        worker = gateway.call(start)
        try:
            # The slow endpoint's sends are in flight first.
            wait_until(lambda: slow.arrivals >= 2, timeout=15, interval=0.01, what="slow sends")
            queued = time.monotonic()
            assert admin.post(f"/admin/api/webhooks/{fast_hook['id']}/test").status_code == 202
            wait_until(lambda: len(fast.received) == 1, timeout=15, interval=0.01, what="fast")
            waited = time.monotonic() - queued
        finally:
            gateway.call(lambda rt: worker.stop())
        print(f"healthy endpoint served {waited:.3f} s after queueing, behind 1,000 slow events")
        assert waited < 5.0  # within one step of the schedule
        assert slow.arrivals == 2  # per-endpoint bound: two calls in flight, none queued behind
    finally:
        slow.stop()
        fast.stop()


async def _queue_tests(runtime: Runtime, endpoint_id: uuid.UUID, count: int) -> None:
    from previewgate.webhooks.models import WebhookEndpoint
    from previewgate.webhooks.outbox import emit

    async with runtime.sessions() as session, session.begin():
        endpoint = await session.get(WebhookEndpoint, endpoint_id)
        assert endpoint is not None
        for _ in range(count):
            await emit(session, endpoint.partner_id, "webhook.test", {}, endpoint_id=endpoint_id)


def test_an_endpoint_failing_for_too_long_is_disabled(
    gateway: GatewayServer, receiver: Receiver
) -> None:
    admin = admin_client(gateway)
    endpoint = _endpoint(admin, receiver.url)
    receiver.script.extend([(500, {})] * 2)
    admin.post(f"/admin/api/webhooks/{endpoint['id']}/test")

    async def once(runtime: Runtime) -> None:
        options = WorkerOptions(
            allowed_networks=runtime.settings.webhook_allowed_network_list,
            schedule=FAST,
            disable_after=timedelta(0),  # the test's "five days"
        )
        worker = DeliveryWorker(runtime.sessions, runtime.cipher, options)
        await worker.claim_and_send()
        await worker.drain()

    gateway.call(once)
    shown = admin.get(f"/admin/api/partners/{endpoint['partner_id']}/webhooks").json()[0]
    assert shown["enabled"] is False and "failing" in shown["disabled_reason"]
    assert gateway.call(_notices) == ["webhook_endpoint_disabled"]


def test_endpoint_states_and_backlog_on_metrics(gateway: GatewayServer, receiver: Receiver) -> None:
    admin = admin_client(gateway)
    endpoint = _endpoint(admin, receiver.url)
    _endpoint(admin, receiver.url)
    admin.patch(f"/admin/api/webhooks/{endpoint['id']}", json={"enabled": False})
    busy = uuid.UUID(_endpoint(admin, receiver.url)["id"])
    gateway.call(lambda rt: _queue_tests(rt, busy, 3))

    async def gauges(runtime: Runtime) -> None:
        await DeliveryWorker(runtime.sessions, runtime.cipher).export_gauges()

    gateway.call(gauges)
    text = httpx.get(f"{gateway.base_url}/metrics").text
    assert 'previewgate_webhook_endpoints{state="enabled"} 2.0' in text
    assert 'previewgate_webhook_endpoints{state="disabled"} 1.0' in text
    assert 'previewgate_webhook_backlog{status="pending"} 3.0' in text
