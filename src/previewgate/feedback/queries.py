"""Every read and write the feedback domain makes, in one place."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from previewgate.evidence.models import ExperimentRequest as R
from previewgate.feedback.models import MACHINE_RATER, REQUEST_TARGET, USER_RATER, Feedback
from previewgate.store.base import new_id, utcnow
from previewgate.usage.models import Usage as U


@dataclass(frozen=True)
class Rater:
    """Who a rating belongs to: a user, or (for anonymous requests) a machine."""

    user_id: uuid.UUID | None
    machine_id: str | None


@dataclass(frozen=True)
class Target:
    """What a rating rates: a message (client request id) or one request (usage id)."""

    client_request_id: str | None = None
    usage_id: uuid.UUID | None = None


async def rater_of_request(
    session: AsyncSession,
    target: Target,
    user_id: uuid.UUID | None,
    machine_id: str | None,
) -> Rater | None:
    """The rater this caller is for the target, or None when it made no such request.

    A request made with an API key belongs to its user; an anonymous one to the machine
    id it was sent with. A caller with both a key and a machine id owns either kind. Only
    experimented requests (with an attribution row) can be rated.
    """
    owned = []
    if user_id is not None:
        owned.append(U.user_id == user_id)
    if machine_id is not None:
        owned.append(and_(U.user_id.is_(None), U.machine_id == machine_id))
    if not owned:
        return None
    if target.usage_id is not None:
        which = R.usage_id == target.usage_id
    else:
        which = R.client_request_id == target.client_request_id
    query = (
        select(U.user_id)
        .join(R, R.usage_id == U.id)
        .where(which, or_(*owned))
        # The user's own request first, when the caller owns both kinds.
        .order_by(U.user_id.is_(None))
        .limit(1)
    )
    found = (await session.execute(query)).first()
    if found is None:
        return None
    owner: uuid.UUID | None = found[0]
    return Rater(user_id=owner, machine_id=machine_id)


async def save_rating(
    session: AsyncSession,
    target: Target,
    rater: Rater,
    rating: str,
    comment: str | None,
) -> uuid.UUID:
    """Insert the rater's rating, or replace their earlier one; returns the row id.

    One statement (``INSERT ... ON CONFLICT DO UPDATE`` on the target's partial unique
    index: the rater's per message, or the request's, which has one rater), so two
    concurrent ratings by the same rater never make two rows.
    """
    now = utcnow()
    conflict: list[InstrumentedAttribute[Any]]
    if target.usage_id is not None:
        conflict, predicate = [Feedback.usage_id], REQUEST_TARGET
    elif rater.user_id is not None:
        conflict, predicate = [Feedback.client_request_id, Feedback.user_id], USER_RATER
    else:
        conflict, predicate = [Feedback.client_request_id, Feedback.machine_id], MACHINE_RATER
    postgres = session.get_bind().dialect.name == "postgresql"
    insert = pg_insert if postgres else sqlite_insert
    statement = insert(Feedback).values(
        id=new_id(),
        client_request_id=target.client_request_id,
        usage_id=target.usage_id,
        user_id=rater.user_id,
        machine_id=rater.machine_id,
        rating=rating,
        comment=comment,
        created_at=now,
        updated_at=now,
    )
    upsert = statement.on_conflict_do_update(
        index_elements=conflict,
        index_where=text(predicate),
        set_={
            "rating": statement.excluded.rating,
            "comment": statement.excluded.comment,
            "updated_at": statement.excluded.updated_at,
        },
    ).returning(Feedback.id)
    row_id: uuid.UUID = (await session.execute(upsert)).scalar_one()
    return row_id
