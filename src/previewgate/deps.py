"""Shared FastAPI dependencies: runtime, a request-scoped session (plain or for a routing
change), the caller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from previewgate.errors import Forbidden, Unauthorized
from previewgate.routing.snapshot import Caller
from previewgate.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the handler returns, rolled back on error."""
    async with runtime.sessions() as session, session.begin():
        yield session


# scope="function": the commit runs before the response is sent, so a failed commit (a
# conflict, the store gone) is what the client sees, never a success that was not stored.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_change(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    """A request that changes routing-relevant rows: committed with a routing generation
    bump when the handler returns, then live here at once and elsewhere within a poll."""
    async with runtime.change() as session:
        yield session


ChangeDep = Annotated[AsyncSession, Depends(get_change, scope="function")]


async def optional_caller(request: Request, runtime: RuntimeDep) -> Caller | None:
    return await runtime.routing.caller(
        request.headers.get("authorization"), runtime.settings.anonymous_key
    )


def require_caller(caller: Annotated[Caller | None, Depends(optional_caller)]) -> Caller:
    if caller is None:
        raise Unauthorized("an API key is required: Authorization: Bearer <api key>")
    return caller


async def require_admin(request: Request, runtime: RuntimeDep) -> Caller:
    session_caller = getattr(request.state, "admin_caller", None)
    if isinstance(session_caller, Caller):
        return session_caller
    caller = await optional_caller(request, runtime)
    if caller is None:
        raise Unauthorized("an admin API key is required: Authorization: Bearer <api key>")
    if not caller.is_admin:
        raise Forbidden("this endpoint is for administrators")
    return caller


CallerDep = Annotated[Caller, Depends(require_caller)]
OptionalCallerDep = Annotated[Caller | None, Depends(optional_caller)]
AdminDep = Annotated[Caller, Depends(require_admin)]
