"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from previewgate.deps import RuntimeDep

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(runtime: RuntimeDep, response: Response) -> dict[str, str]:
    try:
        async with runtime.engine.connect() as conn:
            await conn.execute(text("select 1"))
    except Exception as exc:
        response.status_code = 503
        return {"status": "unavailable", "store": type(exc).__name__}
    return {"status": "ok"}


@router.get("/metrics")
async def metrics_endpoint() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
