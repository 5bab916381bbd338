"""The experiment detail page: variants, timelines, the allowed actions and live results.

Re-rendered with a ``FormResult`` when a form on it was refused, so the message shows
next to the field that caused it and the admin's input (never a key) is kept.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import Request, Response

from previewgate.admin_pages import charts, queries
from previewgate.admin_pages.actions import reading
from previewgate.admin_pages.forms import FormResult
from previewgate.admin_pages.rendering import render
from previewgate.errors import PreviewGateError
from previewgate.experiments import service, views
from previewgate.experiments.lifecycle import TRANSITIONS, VERSIONABLE
from previewgate.experiments.schemas import ExperimentOut
from previewgate.reporting import service as reporting
from previewgate.runtime import Runtime

ACTION_LABELS = {
    "activate": "Activate",
    "pause": "Pause",
    "complete": "Complete",
    "delete": "Delete draft",
}
DEFAULT_UPSTREAM = {"internal_id": "", "base_url": "https://", "api_format": "openai-chat"}


def allowed_actions(view: ExperimentOut) -> list[tuple[str, str]]:
    """Exactly the transitions the current status allows (others are not rendered at all)."""
    found = []
    for action, sources in TRANSITIONS.items():
        if view.status in sources:
            label = "Resume" if action == "activate" and view.status == "paused" else None
            found.append((action, label or ACTION_LABELS[action]))
    return found


def current_upstreams(view: ExperimentOut) -> dict[uuid.UUID, str]:
    """Each slot's current upstream, pretty-printed for the hot-swap editor."""
    found = {}
    for slot in view.variants:
        current = next((v for v in slot.versions if v.current), None)
        spec = current.upstream if current else DEFAULT_UPSTREAM
        found[slot.id] = json.dumps(spec, indent=2, sort_keys=False)
    return found


async def _results(runtime: Runtime, view: ExperimentOut) -> dict[str, Any]:
    """The stats report and chart data; a refusal becomes a message on the page."""
    if not view.variants:
        return {"report": None, "chart": None, "error": None}
    try:
        async with reading(runtime) as session:
            report = await reporting.experiment_stats(session, view.id)
            span = charts.window(view)
            version_ids = [v.id for slot in view.variants for v in slot.versions]
            series = await queries.request_series(session, version_ids, *span)
    except PreviewGateError as exc:
        return {"report": None, "chart": None, "error": exc.message}
    chart = charts.chart_data(view, series, report["versions"], span)
    return {"report": report, "chart": chart, "error": None}


async def detail_page(
    request: Request,
    runtime: Runtime,
    experiment_id: uuid.UUID,
    result: FormResult | None = None,
) -> Response:
    async with reading(runtime) as session:
        view = views.experiment_view(await service.get_experiment(session, experiment_id))
        creators = {v.created_by for s in view.variants for v in s.versions if v.created_by}
        emails = await queries.user_emails(session, creators)
    return render(
        request,
        "detail.html",
        http_status=422 if result is not None and not result.ok else 200,
        view=view,
        emails=emails,
        actions=allowed_actions(view),
        draft=view.status == "draft",
        versionable=view.status in VERSIONABLE,
        upstreams=current_upstreams(view),
        default_upstream=json.dumps(DEFAULT_UPSTREAM, indent=2),
        result=result,
        results=await _results(runtime, view),
    )
