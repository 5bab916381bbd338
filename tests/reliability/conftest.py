"""Fixtures shared by the reliability tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.servers import MockServer, start_mock


@pytest.fixture
def mocks() -> Iterator[list[MockServer]]:
    """Three independent mock upstreams: one per checkpoint a test swaps between."""
    servers = [start_mock(), start_mock(), start_mock()]
    yield servers
    for server in servers:
        server.stop()
