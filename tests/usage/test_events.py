"""The usage row keeps the upstream's own response id, whatever bytes the upstream sent."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from previewgate.usage.models import Usage
from tests.support.events import usage_event


async def test_a_hostile_upstream_id_never_costs_the_usage_row(
    backend: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ids: list[Any] = ["chatcmpl-abc", "chat\x00cmpl\ud800-1\n", "\x00", None]
    events = [usage_event(upstream_response_id=value) for value in ids]
    async with sessions() as session, session.begin():
        # The writer's own statement: PostgreSQL refuses NUL in text, so it must not get one.
        await session.execute(insert(cast(Table, Usage.__table__)), [e.usage_row() for e in events])
    async with sessions() as session:
        stored = {u.id: u.upstream_response_id for u in await session.scalars(select(Usage))}
    assert [stored[e.id] for e in events] == ["chatcmpl-abc", "chatcmpl-1", None, None]
