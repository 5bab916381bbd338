"""Running one service call per form post, with the same boundary as the REST API.

Each mutation is a routing change of its own (``routing.change``): committed with a
generation bump when the service returns, rolled back when it raises. The refusal is then
turned into a readable flash message (never a 500). Read pages use a plain session.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from fastapi import Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from previewgate.admin_pages.rendering import redirect
from previewgate.errors import PreviewGateError
from previewgate.runtime import Runtime

T = TypeVar("T")
Mutation = Callable[[AsyncSession], Awaitable[Any]]


@asynccontextmanager
async def reading(runtime: Runtime) -> AsyncIterator[AsyncSession]:
    async with runtime.sessions() as session, session.begin():
        yield session


async def mutate(runtime: Runtime, fn: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``fn`` as one routing change."""
    async with runtime.change() as session:
        return await fn(session)


async def write(runtime: Runtime, fn: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``fn`` in one transaction that changes nothing routing reads."""
    async with reading(runtime) as session:
        return await fn(session)


async def act(request: Request, runtime: Runtime, back: str, done: str, fn: Mutation) -> Response:
    """Mutate and redirect back with ``done``, or with the service's refusal message."""
    try:
        await mutate(runtime, fn)
    except PreviewGateError as exc:
        return redirect(request, back, exc.message, kind="error")
    return redirect(request, back, done)
