"""The request browser (newest first, keyset-paged) and on-demand prompt/response bodies.

Rows and bodies come from ``reporting.browser``, the same service as the admin API; a body
is fetched by the page's script when a row is opened (or followed as a plain link).
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Query, Request, Response

from previewgate.admin_pages.actions import reading
from previewgate.admin_pages.auth import SessionPage
from previewgate.admin_pages.charts import version_label
from previewgate.admin_pages.rendering import PageRoute, render
from previewgate.deps import RuntimeDep
from previewgate.evidence.models import ABSENT, DELETED, FAILED
from previewgate.experiments import service, views
from previewgate.reporting import browser

router = APIRouter(route_class=PageRoute)
PAGE_SIZE = 50
ERROR_FILTERS = {"all": None, "errors": True, "ok": False}
SENTINEL_WORDS = {ABSENT: "no system prompt", FAILED: "storage failed", DELETED: "wiped"}


@router.get("/experiments/{experiment_id}/requests")
async def request_browser(
    experiment_id: uuid.UUID,
    request: Request,
    runtime: RuntimeDep,
    _: SessionPage,
    version: str = "",
    errors: str = "all",
    before: str = "",
    limit: int = Query(default=PAGE_SIZE, ge=1, le=200),
) -> Response:
    errors = errors if errors in ERROR_FILTERS else "all"
    async with reading(runtime) as session:
        view = views.experiment_view(await service.get_experiment(session, experiment_id))
        choices = [
            (str(v.id), version_label(slot.label, v), v.effective_at)
            for slot in view.variants
            for v in slot.versions
        ]
        version = version if version in {vid for vid, _, _ in choices} else ""
        page = await browser.browse_requests(
            session,
            experiment_id,
            cursor=before or None,
            limit=limit,
            variant_version_id=uuid.UUID(version) if version else None,
            has_error=ERROR_FILTERS[errors],
        )
    return render(
        request,
        "requests.html",
        view=view,
        rows=page["data"],
        choices=choices,
        version=version,
        errors=errors,
        next_cursor=page["next_cursor"] or "",
        limit=limit if limit != PAGE_SIZE else "",
        first_page=not before,
        words=SENTINEL_WORDS,
    )


@router.get("/prompts/{sha256}")
async def stored_body(sha256: str, runtime: RuntimeDep, _: SessionPage) -> Response:
    """One stored body (system prompt, rest of the request or response) by its hash.

    A page route rather than a cookie on ``/admin/api/prompts``: the same service, without
    widening session-cookie access to the REST API.
    """
    return Response(
        await browser.read_prompt(runtime.blobs, sha256),
        media_type="application/json",
        headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"},
    )
