"""Endpoint creation through the admin API, with no network allowlisted (the default):
loopback, metadata, private and private-resolving destinations are refused with a 422."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from previewgate.config import Settings
from tests.support.experiments import admin_client
from tests.support.servers import GatewayServer


@pytest.fixture
def gateway(make_gateway: Callable[[Settings], GatewayServer], settings: Settings) -> GatewayServer:
    """The default: no network allowlisted (overrides this directory's loopback one)."""
    return make_gateway(settings)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://localhost:8080/hook",  # a name that resolves to loopback
        "http://2130706433/hook",  # 127.0.0.1 written as one number
        "http://192.168.1.10/hook",
    ],
)
def test_unsafe_destinations_are_refused(gateway: GatewayServer, url: str) -> None:
    admin = admin_client(gateway)
    partner = admin.post("/admin/api/partners", json={"slug": "p", "name": "P"}).json()
    r = admin.post(
        f"/admin/api/partners/{partner['id']}/webhooks",
        json={"url": url, "event_types": ["export.ready"]},
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "webhook_destination_refused"
    assert admin.get(f"/admin/api/partners/{partner['id']}/webhooks").json() == []
