"""The SQL of the trace export: a partner's consented turns of one day, their ratings, and
the cursor that follows new attribution rows."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, and_, delete, false, func, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from previewgate.accounts.models import PreviewOptIn
from previewgate.catalog.models import ModelDisclosure
from previewgate.evidence.models import ExperimentRequest
from previewgate.experiments.models import Experiment, Variant, VariantVersion
from previewgate.feedback.models import Feedback
from previewgate.partners.models import ExportCursor, ExportDay, ExportFile
from previewgate.store.base import utcnow
from previewgate.usage.models import Usage

CURSOR = "traces"


@dataclass(frozen=True, slots=True)
class TurnRow:
    usage_id: uuid.UUID
    created_at: datetime
    session_id: str | None
    client_request_id: str | None
    version_id: uuid.UUID
    upstream: dict[str, Any]
    slot_label: str
    status_code: int
    error_kind: str | None
    input_tokens: int | None
    output_tokens: int | None
    cached_tokens: int | None
    total_ms: int
    ttfb_ms: int | None
    streamed: bool
    request_sha256: str
    response_sha256: str
    was_truncated: bool


def _consented() -> Any:
    """Whether the turn's caller agreed to share it with the checkpoint's provider.

    A signed-in caller: the disclosure version of their latest opt-in to this model made at
    or before the turn says so. An anonymous caller: the experiment allows anonymous callers
    and the disclosure version in force at the turn says so.
    """
    latest_opt_in_shares = (
        select(ModelDisclosure.shares_with_partner)
        .join(
            PreviewOptIn,
            and_(
                PreviewOptIn.public_model_id == ModelDisclosure.public_model_id,
                PreviewOptIn.disclosure_version == ModelDisclosure.version,
            ),
        )
        .where(
            PreviewOptIn.user_id == Usage.user_id,
            PreviewOptIn.public_model_id == Experiment.public_model_id,
            PreviewOptIn.accepted_at <= ExperimentRequest.created_at,
        )
        .order_by(PreviewOptIn.accepted_at.desc(), PreviewOptIn.disclosure_version.desc())
        .limit(1)
        .correlate(Usage, Experiment, ExperimentRequest)
        .scalar_subquery()
    )
    disclosure_in_force_shares = (
        select(ModelDisclosure.shares_with_partner)
        .where(
            ModelDisclosure.public_model_id == Experiment.public_model_id,
            ModelDisclosure.created_at <= ExperimentRequest.created_at,
        )
        .order_by(ModelDisclosure.version.desc())
        .limit(1)
        .correlate(Experiment, ExperimentRequest)
        .scalar_subquery()
    )
    return or_(
        and_(Usage.user_id.is_not(None), func.coalesce(latest_opt_in_shares, false()) == true()),
        and_(
            Usage.user_id.is_(None),
            Experiment.allow_anonymous.is_(True),
            func.coalesce(disclosure_in_force_shares, false()) == true(),
        ),
    )


def _consented_turns(*columns: Any) -> Select[Any]:
    """``columns`` of the attribution rows whose caller consented, joined to their usage row,
    version, slot and experiment."""
    return (
        select(*columns)
        .join(Usage, Usage.id == ExperimentRequest.usage_id)
        .join(VariantVersion, VariantVersion.id == ExperimentRequest.variant_version_id)
        .join(Variant, Variant.id == VariantVersion.variant_id)
        .join(Experiment, Experiment.id == Variant.experiment_id)
        .where(_consented())
    )


async def partner_turns(
    session: AsyncSession, partner_id: uuid.UUID, start: datetime, end: datetime
) -> AsyncIterator[TurnRow]:
    """The partner's consented turns in [start, end), by session, then time, then id: the
    order of the export files. Streamed (a server-side cursor on PostgreSQL)."""
    query = (
        _consented_turns(
            ExperimentRequest.usage_id,
            ExperimentRequest.created_at,
            Usage.session_id,
            ExperimentRequest.client_request_id,
            VariantVersion.id,
            VariantVersion.upstream,
            Variant.label,
            Usage.status_code,
            Usage.error_kind,
            Usage.input_tokens,
            Usage.output_tokens,
            Usage.cached_tokens,
            Usage.total_ms,
            Usage.ttfb_ms,
            Usage.streamed,
            ExperimentRequest.request_body_sha256,
            ExperimentRequest.response_sha256,
            ExperimentRequest.was_truncated,
        )
        .where(
            Variant.partner_id == partner_id,
            ExperimentRequest.created_at >= start,
            ExperimentRequest.created_at < end,
        )
        .order_by(
            func.coalesce(Usage.session_id, ""),
            ExperimentRequest.created_at,
            ExperimentRequest.usage_id,
        )
        .execution_options(yield_per=500)
    )
    result = await session.stream(query)
    async for row in result:
        yield TurnRow(*row)


@dataclass(frozen=True, slots=True)
class Rating:
    usage_id: uuid.UUID | None  # rated by response id, or
    client_request_id: str | None  # by the message's request id
    rating: str
    comment: str | None
    created_at: datetime


async def ratings(
    session: AsyncSession, usage_ids: Sequence[uuid.UUID], client_request_ids: Sequence[str]
) -> list[Rating]:
    """Ratings of these turns: by response id (usage id) or by their message's request id."""
    if not usage_ids and not client_request_ids:
        return []
    query = select(
        Feedback.usage_id,
        Feedback.client_request_id,
        Feedback.rating,
        Feedback.comment,
        Feedback.created_at,
    ).where(
        or_(
            Feedback.usage_id.in_(list(usage_ids)),
            Feedback.client_request_id.in_(list(client_request_ids)),
        )
    )
    rows = await session.execute(query.order_by(Feedback.created_at, Feedback.id))
    return [Rating(*row) for row in rows]


async def replace_files(
    session: AsyncSession,
    partner_id: uuid.UUID,
    day: date,
    files: Sequence[ExportFile],
) -> None:
    """The day's file index is exactly ``files`` (a re-export replaces, never duplicates)."""
    await session.execute(
        delete(ExportFile).where(ExportFile.partner_id == partner_id, ExportFile.day == day)
    )
    session.add_all(files)
    await session.execute(
        update(ExportDay)
        .where(ExportDay.partner_id == partner_id, ExportDay.day == day)
        .values(dirty=False, exported_at=utcnow())
    )
    await session.flush()


async def cursor(session: AsyncSession) -> ExportCursor:
    """The cursor row, locked for this transaction on PostgreSQL (one follower at a time)."""
    row: ExportCursor | None = await session.scalar(
        select(ExportCursor).where(ExportCursor.name == CURSOR).with_for_update()
    )
    if row is None:
        row = ExportCursor(name=CURSOR)
        session.add(row)
        await session.flush()
    return row


async def partner_days_after(
    session: AsyncSession, after: tuple[datetime, uuid.UUID] | None, limit: int
) -> list[tuple[datetime, uuid.UUID, uuid.UUID]]:
    """The next attribution rows of partner-owned slots: (created_at, usage_id, partner_id)."""
    query = (
        select(ExperimentRequest.created_at, ExperimentRequest.usage_id, Variant.partner_id)
        .join(VariantVersion, VariantVersion.id == ExperimentRequest.variant_version_id)
        .join(Variant, Variant.id == VariantVersion.variant_id)
        .where(Variant.partner_id.is_not(None))
        .order_by(ExperimentRequest.created_at, ExperimentRequest.usage_id)
        .limit(limit)
    )
    if after is not None:
        created_at, usage_id = after
        query = query.where(
            or_(
                ExperimentRequest.created_at > created_at,
                and_(
                    ExperimentRequest.created_at == created_at,
                    ExperimentRequest.usage_id > usage_id,
                ),
            )
        )
    return [
        (at, usage_id, partner) for at, usage_id, partner in await session.execute(query) if partner
    ]


async def mark_dirty(session: AsyncSession, days: set[tuple[uuid.UUID, date]]) -> None:
    """These partner days have turns not yet exported."""
    if not days:
        return
    partners = {p for p, _ in days}
    existing = {
        (p, d)
        for p, d in await session.execute(
            select(ExportDay.partner_id, ExportDay.day).where(ExportDay.partner_id.in_(partners))
        )
    }
    for partner_id, day in sorted(days - existing):
        session.add(ExportDay(partner_id=partner_id, day=day, dirty=True))
    for partner_id, day in days & existing:
        await session.execute(
            update(ExportDay)
            .where(ExportDay.partner_id == partner_id, ExportDay.day == day)
            .values(dirty=True)
        )
    await session.flush()


async def claim_dirty_day(session: AsyncSession, before: date) -> ExportDay | None:
    """One dirty day that has ended, locked so that other workers skip it (PostgreSQL)."""
    query = (
        select(ExportDay)
        .where(ExportDay.dirty.is_(True), ExportDay.day < before)
        .order_by(ExportDay.day, ExportDay.partner_id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    found: ExportDay | None = await session.scalar(query)
    return found


async def consented_partner_turns(
    session: AsyncSession, usage_id: uuid.UUID | None, client_request_id: str | None
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(partner, usage id) of the consented turns a rating names: the request, or every
    request of the message."""
    query = (
        _consented_turns(Variant.partner_id, ExperimentRequest.usage_id)
        .where(Variant.partner_id.is_not(None))
        .order_by(ExperimentRequest.created_at, ExperimentRequest.usage_id)
    )
    if usage_id is not None:
        query = query.where(ExperimentRequest.usage_id == usage_id)
    else:
        query = query.where(ExperimentRequest.client_request_id == client_request_id)
    return [(p, u) for p, u in await session.execute(query) if p is not None]


async def day_object_keys(session: AsyncSession, partner_id: uuid.UUID, day: date) -> set[str]:
    """The object keys the day's index names now."""
    rows = await session.scalars(
        select(ExportFile.object_key).where(
            ExportFile.partner_id == partner_id, ExportFile.day == day
        )
    )
    return set(rows)
