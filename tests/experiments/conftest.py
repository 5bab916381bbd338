"""Fixtures shared by the experiment tests."""

from __future__ import annotations

import httpx
import pytest

from tests.experiments.helpers import admin_client, preview_model
from tests.support.servers import GatewayServer


@pytest.fixture
def admin(gateway: GatewayServer) -> httpx.Client:
    """An admin client on a gateway whose catalog holds the preview model."""
    client = admin_client(gateway)
    preview_model(client)
    return client
