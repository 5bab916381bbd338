"""Shared fixtures. Store-backed tests run on PostgreSQL and SQLite.

``--backend=sqlite|postgresql|all`` picks the store backends (default: all);
``make test`` runs the two backends in parallel processes.
"""

from __future__ import annotations

import asyncio
import base64
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from previewgate.config import Settings
from previewgate.store.engine import create_engine, session_factory
from previewgate.store.migrate import upgrade
from tests.support.servers import GatewayServer, MockServer, start_mock

PG_ADMIN_DSN = os.environ.get("PREVIEWGATE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("PREVIEWGATE_TEST_REDIS", "redis://127.0.0.1:6379/0")
BACKENDS = ("postgresql", "sqlite")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--backend", default="all", choices=("all", *BACKENDS))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # `--backend postgresql` runs only store-backed tests; the rest run once, with sqlite.
    if config.getoption("backend") != "postgresql":
        return
    kept = [item for item in items if "backend" in getattr(item, "fixturenames", ())]
    config.hook.pytest_deselected(items=[i for i in items if i not in kept])
    items[:] = kept


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("backend")
        backends = BACKENDS if chosen == "all" else (chosen,)
        metafunc.parametrize("backend", backends, scope="function")


def _pg_url(dsn: str, database: str) -> str:
    base = dsn.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{database}"


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database for this test, dropped afterwards."""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/test.db"
    else:
        name = f"pgtest_{uuid.uuid4().hex[:12]}"
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
        url = _pg_url(PG_ADMIN_DSN, name)

    async def _migrate() -> None:
        engine = create_engine(url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(_migrate())
    yield url
    if backend == "postgresql":
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def encryption_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.fixture
def settings(database_url: str, tmp_path: Path, encryption_key: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        blob_url=f"file://{tmp_path}/blobs",
        encryption_key=encryption_key,
        upstream_read_timeout_s=5,
        upstream_connect_timeout_s=2,
    )


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


@pytest.fixture
def mock() -> Iterator[MockServer]:
    server = start_mock()
    yield server
    server.stop()


@pytest.fixture
def make_gateway(database_url: str) -> Iterator[object]:
    # Depends on the database so gateways stop (and drain) before it is dropped.
    started: list[GatewayServer] = []

    def _make(settings: Settings) -> GatewayServer:
        server = GatewayServer(settings)
        started.append(server)
        return server

    yield _make
    for server in started:
        server.stop()


@pytest.fixture
def gateway(make_gateway, settings: Settings) -> GatewayServer:  # type: ignore[no-untyped-def]
    return make_gateway(settings)  # type: ignore[no-any-return]
