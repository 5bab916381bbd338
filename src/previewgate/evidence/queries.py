"""Every statement the evidence domain runs on attribution rows, in one place."""

from __future__ import annotations

import uuid
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, delete, insert, or_, select, union, update
from sqlalchemy.ext.asyncio import AsyncSession

from previewgate.evidence.models import DELETED, HASH_COLUMNS, ExperimentRequest
from previewgate.experiments.models import Variant, VariantVersion


async def insert_requests(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Attribution rows in one executemany (the table itself: no ORM bookkeeping per row)."""
    if rows:
        await session.execute(insert(cast(Table, ExperimentRequest.__table__)), rows)


def _of_experiment(experiment_id: uuid.UUID) -> ColumnElement[bool]:
    versions = (
        select(VariantVersion.id)
        .join(Variant, Variant.id == VariantVersion.variant_id)
        .where(Variant.experiment_id == experiment_id)
    )
    return ExperimentRequest.variant_version_id.in_(versions)


async def delete_requests(session: AsyncSession, experiment_id: uuid.UUID) -> int:
    """Delete the experiment's attribution rows; how many there were."""
    result = await session.execute(
        delete(ExperimentRequest)
        .where(_of_experiment(experiment_id))
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def wipe_hashes(session: AsyncSession, experiment_id: uuid.UUID) -> int:
    """Set the hash columns of the experiment's rows to ``__deleted__``; how many rows
    changed (rows already wiped are not counted again)."""
    columns = [getattr(ExperimentRequest, name) for name in HASH_COLUMNS]
    result = await session.execute(
        update(ExperimentRequest)
        .where(_of_experiment(experiment_id), or_(*(column != DELETED for column in columns)))
        .values(dict.fromkeys(HASH_COLUMNS, DELETED))
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def referenced_keys(session: AsyncSession, keys: list[str]) -> set[str]:
    """The subset of ``keys`` that some attribution row references in any hash column."""
    if not keys:
        return set()
    selects = [
        select(getattr(ExperimentRequest, name).label("key")).where(
            getattr(ExperimentRequest, name).in_(keys)
        )
        for name in HASH_COLUMNS
    ]
    return set(await session.scalars(union(*selects)))
