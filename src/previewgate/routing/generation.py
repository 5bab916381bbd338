"""Reading and bumping the store's routing generation.

Every committed routing change bumps it in the change's own transaction, so a process that
reads a generation other than its snapshot's knows, with one primary-key read, that it must
reload: the propagation path that needs nothing but the store.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from previewgate.routing.models import GENERATION_ROW, RoutingGeneration

_READ = select(RoutingGeneration.value).where(RoutingGeneration.id == GENERATION_ROW)
_BUMP = (
    update(RoutingGeneration)
    .where(RoutingGeneration.id == GENERATION_ROW)
    .values(value=RoutingGeneration.value + 1)
)


async def read_generation(session: AsyncSession) -> int:
    return await session.scalar(_READ) or 0


async def bump_generation(session: AsyncSession) -> None:
    """Within the caller's transaction. On PostgreSQL the row lock also orders concurrent
    changes: the later one's bump waits for the earlier one's commit."""
    await session.execute(_BUMP)
