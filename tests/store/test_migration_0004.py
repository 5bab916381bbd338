"""Migration 0004 on PostgreSQL and SQLite: existing ratings survive, both ways."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from previewgate.store.engine import create_engine
from previewgate.store.migrate import alembic_config
from tests.conftest import PG_ADMIN_DSN, _pg_url

NOW = datetime(2026, 1, 1, tzinfo=UTC).replace(tzinfo=None)


@pytest.fixture
def empty_url(backend: str, tmp_path: Path) -> Any:
    """A database with no schema at all (the ``database_url`` fixture migrates to head)."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/m.db"
        return
    name = f"pgmig_{uuid.uuid4().hex[:12]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    yield _pg_url(PG_ADMIN_DSN, name)
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _to(url: str, revision: str, down: bool = False) -> None:
    cfg = alembic_config(url)
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:

            def run(sync: Any) -> None:
                cfg.attributes["connection"] = sync
                (command.downgrade if down else command.upgrade)(cfg, revision)

            await conn.run_sync(run)
    finally:
        await engine.dispose()


async def _sql(url: str, statement: str, **params: Any) -> list[Any]:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(text(statement), params)
            return list(result) if result.returns_rows else []
    finally:
        await engine.dispose()


def _id(backend: str) -> Any:
    value = uuid.uuid4()
    return value if backend == "postgresql" else value.hex  # Uuid as CHAR(32) on SQLite


def test_upgrade_and_downgrade_keep_message_ratings(backend: str, empty_url: str) -> None:
    url = empty_url
    asyncio.run(_to(url, "0003"))
    rating = _id(backend)
    insert = (
        "insert into feedback (id, client_request_id, machine_id, rating, created_at, "
        "updated_at) values (:id, 'msg-1', 'm1', 'up', :at, :at)"
    )
    asyncio.run(_sql(url, insert, id=rating, at=NOW))
    asyncio.run(_to(url, "head"))
    rows = asyncio.run(_sql(url, "select client_request_id, usage_id, rating from feedback"))
    assert [tuple(r) for r in rows] == [("msg-1", None, "up")]
    assert asyncio.run(_sql(url, "select upstream_response_id from usage")) == []
    # A rating has exactly one target (and a usage_id must name an attribution row).
    for target in ("null, null", "'msg-2', :usage"):
        with pytest.raises(IntegrityError):
            asyncio.run(
                _sql(
                    url,
                    "insert into feedback (id, client_request_id, usage_id, rating, created_at,"
                    f" updated_at) values (:id, {target}, 'up', :at, :at)",
                    id=_id(backend),
                    usage=_id(backend),
                    at=NOW,
                )
            )
    asyncio.run(_to(url, "0003", down=True))
    rows = asyncio.run(_sql(url, "select client_request_id, rating from feedback"))
    assert [tuple(r) for r in rows] == [("msg-1", "up")]
    asyncio.run(_to(url, "head"))  # and up again
