"""Small request and row-counting helpers for the reliability tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from previewgate.evidence.models import ExperimentRequest
from previewgate.usage.models import Usage
from tests.support.experiments import PREVIEW_ID
from tests.support.seed import serve_model
from tests.support.servers import GatewayServer

URL = "/v1/chat/completions"
PROD_ID = "demo/prod"


def chat(model: str = PREVIEW_ID, content: str = "Hi", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": content}], **extra}


def machine(name: str) -> dict[str, str]:
    return {"x-kilocode-machineid": name}


async def _counts(rt: Any) -> tuple[int, int]:
    async with rt.sessions() as session:
        usage = await session.scalar(select(func.count()).select_from(Usage))
        attributed = await session.scalar(select(func.count()).select_from(ExperimentRequest))
    return int(usage or 0), int(attributed or 0)


def row_counts(gw: GatewayServer) -> tuple[int, int]:
    """(usage rows, attribution rows) as stored right now, read through ``gw``'s engine."""
    return gw.call(_counts)


def usage_rows(gw: GatewayServer) -> list[Usage]:
    async def fetch(rt: Any) -> list[Usage]:
        async with rt.sessions() as session:
            return list(await session.scalars(select(Usage).order_by(Usage.created_at)))

    return gw.call(fetch)


def add_production_model(gw: GatewayServer, base_url: str, **fields: Any) -> None:
    """A production catalog model ``demo/prod`` (or ``public_id``) served by ``base_url``."""
    serve_model(gw, base_url, fields.pop("public_id", PROD_ID), "internal-prod-xq", **fields)
