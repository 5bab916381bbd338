"""PostgreSQL unreachable: fail closed for experiments, keep serving production, lose nothing;
the admin API and pages answer 503 (never 500) until the store is back.

The gateway reaches PostgreSQL through a TCP proxy; closing the proxy is the outage (the
port refuses and live connections are reset). PostgreSQL only: SQLite is a file in the
gateway's own process and has no network to lose.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from tests.admin_pages.helpers import signed_in_client
from tests.reliability.helpers import PROD_ID, URL, add_production_model, chat, machine, row_counts
from tests.support.experiments import admin_client, create_preview_model, start_experiment
from tests.support.faults import TcpProxy, metric, wait_until
from tests.support.servers import GatewayServer, MockServer

DROPPED = "previewgate_writer_dropped_total"
FAILURES = "previewgate_writer_failures_total"


@pytest.fixture
def pg_proxy(backend: str, database_url: str) -> Iterator[tuple[TcpProxy, str]]:
    """A proxy in front of the test database and the URL that goes through it."""
    if backend != "postgresql":
        pytest.skip("needs a networked store: SQLite has no connection to cut")
    parts = urlsplit(database_url)
    proxy = TcpProxy(parts.port or 5432)
    netloc = parts.netloc.rsplit(":", 1)[0] if parts.port else parts.netloc
    yield proxy, urlunsplit(parts._replace(netloc=f"{netloc}:{proxy.port}"))
    proxy.stop()


def _setup(gw: GatewayServer, mocks: list[MockServer]) -> None:
    admin = admin_client(gw)
    create_preview_model(admin)
    start_experiment(admin, mocks[:2])
    add_production_model(gw, mocks[2].base_url)


def test_store_outage_fails_closed_and_writer_persists_everything(
    pg_proxy: tuple[TcpProxy, str], make_gateway: Any, settings: Any, mocks: list[MockServer]
) -> None:
    proxy, via_proxy = pg_proxy
    gw = make_gateway(settings.replace(database_url=via_proxy, cache_ttl_s=2.0))
    _setup(gw, mocks)
    before = row_counts(gw)
    failures_before = metric(gw.base_url, FAILURES)

    statuses: list[int] = []
    experimented_served = 0
    gw.refresh()  # a fresh snapshot now, so its TTL covers the first requests below
    proxy.close()
    with httpx.Client(base_url=gw.base_url, timeout=10) as c:
        # Until the snapshot goes stale, experiments are still routed from memory.
        for i in range(6):
            r = c.post(URL, json=chat(), headers=machine(f"e{i}"))
            statuses.append(r.status_code)
            experimented_served += r.status_code == 200
        wait_until(lambda: not gw.runtime.routing.is_fresh(), timeout=10, what="a stale cache")
        refused = c.post(URL, json=chat(), headers=machine("late"))
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "temporarily_unavailable"
        # Production models never depended on knowing the experiments: they keep answering.
        for i in range(10):
            r = c.post(URL, json=chat(PROD_ID, stream=i % 2 == 0), headers=machine(f"p{i}"))
            assert r.status_code == 200, r.text
            statuses.append(r.status_code)
    assert experimented_served >= 1, "no experimented request was served before the TTL lapsed"
    held = gw.runtime.writer.depth
    assert held > 0, "the writer should be holding rows while the store is down"
    wait_until(
        lambda: metric(gw.base_url, FAILURES) > failures_before, what="a failed write attempt"
    )

    proxy.open()
    gw.flush()  # returns once every held event is written: the retries got through
    usage, attributed = row_counts(gw)
    served = sum(1 for s in statuses if s != 503)
    assert usage - before[0] == served, (usage, before, statuses)
    assert attributed - before[1] == experimented_served
    print(f"store outage: {served} answered ({experimented_served} experimented), held {held}")
    # Experiments route again once the store is back.
    gw.refresh()
    assert httpx.post(f"{gw.base_url}{URL}", json=chat(), headers=machine("z")).status_code == 200


def test_tiny_buffer_drops_are_counted_never_silent(
    pg_proxy: tuple[TcpProxy, str], make_gateway: Any, settings: Any, mocks: list[MockServer]
) -> None:
    proxy, via_proxy = pg_proxy
    gw = make_gateway(settings.replace(database_url=via_proxy, writer_max_buffer=5))
    _setup(gw, mocks)
    before = row_counts(gw)[0]
    dropped_before = metric(gw.base_url, DROPPED)
    sent = 12
    proxy.close()
    with httpx.Client(base_url=gw.base_url, timeout=10) as c:
        for i in range(sent):
            assert c.post(URL, json=chat(PROD_ID), headers=machine(f"p{i}")).status_code == 200
    dropped = metric(gw.base_url, DROPPED) - dropped_before
    assert gw.runtime.writer.depth == 5
    proxy.open()
    gw.flush()
    stored = row_counts(gw)[0] - before
    assert (stored, dropped) == (5, sent - 5)
    assert stored + dropped == sent
    print(f"tiny buffer: {sent} sent, {stored} stored, {dropped:.0f} dropped and counted")


def test_admin_api_answers_503_while_the_store_is_down(
    pg_proxy: tuple[TcpProxy, str],
    make_gateway: Any,
    settings: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    proxy, via_proxy = pg_proxy
    gw = make_gateway(settings.replace(database_url=via_proxy))
    admin = admin_client(gw)
    create_preview_model(admin)
    draft = {"public_model_id": "acme/preview-experiment-foo", "name": "during the outage"}
    calls = [
        ("GET", "/admin/api/experiments", None),
        ("GET", "/admin/api/models", None),
        ("POST", "/admin/api/experiments", draft),
        ("PATCH", "/admin/api/models/acme/preview-experiment-foo", {"description": "x"}),
    ]
    assert admin.get("/admin/api/experiments").status_code == 200
    page = signed_in_client(gw, admin.headers["authorization"].removeprefix("Bearer "))
    assert page.get("/admin/experiments").status_code == 200
    proxy.close()
    for method, path, body in calls:
        r = admin.request(method, path, json=body)
        assert r.status_code == 503, (method, path, r.status_code, r.text)
        assert r.json() == {
            "error": {
                "message": "the store is unavailable; retry shortly",
                "type": "server_error",
                "code": "store_unavailable",
            }
        }
        assert r.headers["retry-after"].isdigit()
    # The pages check the session in the store: an outage is a 503 page, not a sign-in loop.
    r = page.get("/admin/experiments")
    assert r.status_code == 503 and r.headers["content-type"].startswith("text/html")
    assert "The store is unavailable; retry shortly." in r.text
    logged = [
        rec.getMessage() for rec in caplog.records if "store is unavailable" in rec.getMessage()
    ]
    assert logged, "the outage was not logged"
    # The log line names the failure, not the statement or its parameters.
    assert not any("[SQL" in line or "parameters" in line for line in logged), logged
    proxy.open()
    r = admin.request("POST", "/admin/api/experiments", json=draft)
    assert r.status_code == 201, r.text
