"""The two reads only the pages need: recent traffic per public id, and time series.

Everything else comes from the experiment and reporting services.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, case, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from previewgate.accounts.models import User
from previewgate.evidence.models import ExperimentRequest
from previewgate.usage.models import Usage

# Bucket widths the charts may use, smallest first; the first giving <= MAX_BUCKETS wins.
BUCKET_WIDTHS_S = (60, 300, 900, 3600, 6 * 3600, 86400)
MAX_BUCKETS = 60


async def requests_last_24h(
    session: AsyncSession, public_ids: Sequence[str], now: datetime | None = None
) -> dict[str, int]:
    """Usage rows per public model id over the last 24 hours, in one grouped query."""
    if not public_ids:
        return {}
    since = (now or datetime.now(UTC)) - timedelta(hours=24)
    query = (
        select(Usage.public_model_id, func.count())
        .where(Usage.public_model_id.in_(list(public_ids)), Usage.created_at >= since)
        .group_by(Usage.public_model_id)
    )
    return {public_id: int(n) for public_id, n in await session.execute(query)}


@dataclass
class Series:
    """Per version: bucket start (epoch seconds) → (requests, errors)."""

    width_s: int
    points: dict[uuid.UUID, dict[int, tuple[int, int]]] = field(default_factory=dict)


def bucket_width(start: datetime, end: datetime) -> int:
    span = max((end - start).total_seconds(), 1.0)
    for width in BUCKET_WIDTHS_S:
        if span / width <= MAX_BUCKETS:
            return width
    return BUCKET_WIDTHS_S[-1]


def _epoch(session: AsyncSession) -> Any:
    column = ExperimentRequest.created_at
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.floor(func.extract("epoch", column)), Integer)
    # SQLite keeps UTC as 'YYYY-MM-DD HH:MM:SS[.ffffff]' text, which strftime reads as UTC.
    return cast(func.strftime("%s", column), Integer)


async def request_series(
    session: AsyncSession, version_ids: Sequence[uuid.UUID], start: datetime, end: datetime
) -> Series:
    """Requests and errors per version per time bucket in ``[start, end)``."""
    width = bucket_width(start, end)
    series = Series(width)
    if not version_ids:
        return series
    r, u = ExperimentRequest, Usage
    bucket = (_epoch(session) // width * width).label("bucket")
    query = (
        select(
            r.variant_version_id,
            bucket,
            func.count(),
            func.sum(case((u.has_error, 1), else_=0)),
        )
        .join(u, u.id == r.usage_id)
        .where(
            r.variant_version_id.in_(list(version_ids)),
            r.created_at >= start,
            r.created_at < end,
        )
        .group_by(r.variant_version_id, bucket)
    )
    for version_id, at, requests, errors in await session.execute(query):
        series.points.setdefault(version_id, {})[int(at)] = (int(requests), int(errors or 0))
    return series


async def user_emails(session: AsyncSession, user_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Who created a version, for the timeline ("created by")."""
    if not user_ids:
        return {}
    query = select(User.id, User.email).where(User.id.in_(list(user_ids)))
    return {user_id: email for user_id, email in await session.execute(query)}
