"""One unit of work for every change to routing-relevant rows.

Keys, users, balances set by an operator, opt-ins, catalog models and experiments decide
routes. Whoever changes them (the REST API, the admin pages, the CLI) does it inside
``routing_change``: the writes and a bump of the store's routing generation commit in one
transaction, then ``after_commit`` runs: in a gateway process, a reload here and a Redis
publish (``RoutingCache.changed``); in the CLI, the publish alone. Processes that miss the
publish see the new generation at their next poll. A change that raises commits nothing
and tells no one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from previewgate.routing.generation import bump_generation

AfterCommit = Callable[[], Awaitable[None]]


@asynccontextmanager
async def routing_change(
    sessions: async_sessionmaker[AsyncSession], after_commit: AfterCommit
) -> AsyncIterator[AsyncSession]:
    async with sessions() as session:
        async with session.begin():
            yield session
            await bump_generation(session)
        await after_commit()
