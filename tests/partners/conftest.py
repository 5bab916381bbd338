"""Partner portal fixtures: a gateway that may deliver webhooks to loopback, and the
two-partner world of ``tests.support.portal_world``."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from previewgate.config import Settings
from tests.support.portal_world import World, build_world
from tests.support.servers import GatewayServer, MockServer, start_mock


@pytest.fixture
def gateway(make_gateway: Callable[[Settings], GatewayServer], settings: Settings) -> GatewayServer:
    return make_gateway(settings.model_copy(update={"webhook_allowed_networks": ["127.0.0.0/8"]}))


@pytest.fixture
def mocks() -> Iterator[list[MockServer]]:
    started = [start_mock() for _ in range(3)]
    yield started
    for mock in started:
        mock.stop()


@pytest.fixture
def world(gateway: GatewayServer, mocks: list[MockServer]) -> World:
    return build_world(gateway, mocks)


def pytest_runtest_setup(item: pytest.Item) -> None:
    # Browser tests exercise pages, not the store: the sqlite backend only (as the admin's).
    params = getattr(item, "callspec", None)
    backend = params.params.get("backend") if params else None
    if item.path.name.startswith("test_browser_") and backend != "sqlite":
        pytest.skip("browser tests run on the sqlite backend only")
