"""Running one portal change per form post.

Anything that is not the partner's stays a 404 page and an admin-only action of a viewer
a 403 page (as in the API, so ids do not leak through redirects); any other refusal (a
refused URL, a taken e-mail) returns to the form's page with the message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from fastapi import Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from previewgate.admin_pages.actions import write
from previewgate.admin_pages.rendering import redirect
from previewgate.errors import Forbidden, NotFound, PreviewGateError
from previewgate.runtime import Runtime

T = TypeVar("T")


async def change(
    request: Request,
    runtime: Runtime,
    back: str,
    fn: Callable[[AsyncSession], Awaitable[T]],
    answer: Callable[[T], Response],
) -> Response:
    """Run ``fn`` in one transaction and ``answer`` with its result, or go ``back`` with
    the refusal."""
    try:
        result = await write(runtime, fn)
    except (NotFound, Forbidden):
        raise
    except PreviewGateError as exc:
        return redirect(request, back, exc.message, kind="error")
    return answer(result)
