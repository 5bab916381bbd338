"""Webhook tests run a gateway that may deliver to loopback (where the receivers listen)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from previewgate.config import Settings
from tests.support.receiver import Receiver
from tests.support.servers import GatewayServer


@pytest.fixture
def gateway(make_gateway: Callable[[Settings], GatewayServer], settings: Settings) -> GatewayServer:
    return make_gateway(settings.model_copy(update={"webhook_allowed_networks": ["127.0.0.0/8"]}))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()
