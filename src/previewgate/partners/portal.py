"""What the partner portal reads and changes, for its pages and its API alike.

Every call takes the caller's partner and looks each id up scoped to it first, so an id
that is not the partner's answers 404 whatever it is (another partner's, an operator's,
or none at all), and the API and the pages cannot disagree on who may see what.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from previewgate.accounts import service as accounts
from previewgate.errors import Forbidden, NotFound
from previewgate.experiments import service as experiments
from previewgate.experiments import views
from previewgate.experiments.schemas import ExperimentOut
from previewgate.partners import queries, service
from previewgate.partners.models import ExportFile
from previewgate.partners.portal_auth import Member, require_admin
from previewgate.partners.portal_results import scoped_report
from previewgate.partners.portal_schemas import (
    CheckpointFeedbackOut,
    CheckpointOut,
    DayRatings,
    OwnSlotOut,
    PortalExperimentOut,
    PortalMemberOut,
    ViewerInvited,
)
from previewgate.reporting import queries as reporting_queries
from previewgate.reporting import service as reporting
from previewgate.reporting.figures import StatsFilter
from previewgate.reporting.inference import Mode, wilson_interval

TREND_DAYS = 30
NOT_FOUND = "not found"


async def experiments_of(session: AsyncSession, partner_id: uuid.UUID) -> list[PortalExperimentOut]:
    found = await queries.partner_experiments(session, partner_id)
    return [PortalExperimentOut.of(views.experiment_view(e), partner_id) for e in found]


async def _view(
    session: AsyncSession, experiment_id: uuid.UUID, partner_id: uuid.UUID
) -> ExperimentOut:
    if not await queries.owned_slot_ids(session, experiment_id, partner_id):
        raise NotFound(NOT_FOUND)
    return views.experiment_view(await experiments.get_experiment(session, experiment_id))


async def experiment(
    session: AsyncSession, experiment_id: uuid.UUID, partner_id: uuid.UUID
) -> PortalExperimentOut:
    return PortalExperimentOut.of(await _view(session, experiment_id, partner_id), partner_id)


async def results(
    session: AsyncSession,
    experiment_id: uuid.UUID,
    partner_id: uuid.UUID,
    mode: Mode = "sequential",
    alpha: float = 0.05,
) -> dict[str, Any]:
    """The live results with the admin view's inference, scoped to the partner."""
    return await _results(
        session, await _view(session, experiment_id, partner_id), partner_id, mode, alpha
    )


async def _results(
    session: AsyncSession, view: ExperimentOut, partner_id: uuid.UUID, mode: Mode, alpha: float
) -> dict[str, Any]:
    report = await reporting.experiment_stats(session, view.id, mode=mode, alpha=alpha)
    return scoped_report(report, view, partner_id)


async def experiment_with_results(
    session: AsyncSession, experiment_id: uuid.UUID, partner_id: uuid.UUID
) -> tuple[PortalExperimentOut, dict[str, Any]]:
    """The experiment page's two parts, from one lookup of the experiment."""
    view = await _view(session, experiment_id, partner_id)
    report = await _results(session, view, partner_id, "sequential", 0.05)
    return PortalExperimentOut.of(view, partner_id), report


async def slot(session: AsyncSession, slot_id: uuid.UUID, partner_id: uuid.UUID) -> OwnSlotOut:
    found = await queries.owned_slot(session, slot_id, partner_id)
    if found is None:
        raise NotFound(NOT_FOUND)
    view = views.experiment_view(await experiments.get_experiment(session, found.experiment_id))
    is_control = bool(view.variants) and view.variants[0].id == slot_id
    return OwnSlotOut.of(next(s for s in view.variants if s.id == slot_id), is_control)


async def checkpoint_feedback(
    session: AsyncSession, version_id: uuid.UUID, partner_id: uuid.UUID, days: int = TREND_DAYS
) -> CheckpointFeedbackOut:
    """Ratings of one own checkpoint (the same counting as the results), and per day."""
    found = await queries.slot_of_owned_version(session, version_id, partner_id)
    if found is None:
        raise NotFound(NOT_FOUND)
    view = views.experiment_view(await experiments.get_experiment(session, found.experiment_id))
    own = next(s for s in view.variants if s.id == found.id)
    checkpoint = next(v for v in own.versions if v.id == version_id)
    slots = {version_id: own.id}
    stats = (await reporting_queries.version_stats(session, slots, StatsFilter())).versions
    totals = stats[version_id]
    since = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    since -= timedelta(days=days - 1)
    by_day = (await reporting_queries.rating_days(session, [version_id], since)).get(version_id, {})
    rated = totals.thumbs_up + totals.thumbs_down
    interval = wilson_interval(totals.thumbs_up, rated)
    return CheckpointFeedbackOut(
        experiment_id=view.id,
        public_model_id=view.public_model_id,
        slot_id=own.id,
        slot_label=own.label,
        checkpoint=CheckpointOut.of(checkpoint),
        requests=totals.requests,
        up=totals.thumbs_up,
        down=totals.thumbs_down,
        up_rate=totals.thumbs_up / rated if rated else None,
        up_rate_interval=asdict(interval) if interval is not None else None,
        days=_daily(by_day, since.date(), days),
    )


def _daily(by_day: dict[date, tuple[int, int]], first: date, days: int) -> list[DayRatings]:
    """One entry per day from ``first``, days without ratings included (as zeros)."""
    found = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        up, down = by_day.get(day, (0, 0))
        found.append(DayRatings(day=day, up=up, down=down))
    return found


async def export_file(
    session: AsyncSession, file_id: uuid.UUID, partner_id: uuid.UUID
) -> ExportFile:
    found = await queries.export_file(session, file_id, partner_id)
    if found is None:
        raise NotFound(NOT_FOUND)
    return found


async def members(session: AsyncSession, partner_id: uuid.UUID) -> list[PortalMemberOut]:
    return [
        PortalMemberOut(user_id=m.user_id, email=email, role=m.role, created_at=m.created_at)
        for m, email in await queries.members_with_emails(session, partner_id)
    ]


async def invite_viewer(session: AsyncSession, partner_id: uuid.UUID, email: str) -> ViewerInvited:
    """A new user who is a viewer of this partner, with an API key shown once."""
    user = await accounts.create_user(session, email)
    _, secret = await accounts.create_user_key(session, user.id)
    membership = await service.set_membership(session, partner_id, user.id, "viewer")
    return ViewerInvited(
        user_id=user.id,
        email=user.email,
        role=membership.role,
        created_at=membership.created_at,
        api_key=secret,
    )


async def remove_viewer(session: AsyncSession, member: Member, user_id: uuid.UUID) -> None:
    """Partner admins remove viewers; admins are the operator's to change. Access ends at
    once (every portal request checks the membership); the user and its keys stay."""
    membership = await queries.find_membership(session, member.partner_id, user_id)
    if membership is None:
        raise NotFound(NOT_FOUND)
    require_admin(member)
    if membership.role != "viewer":
        raise Forbidden("a partner's admins are added and removed by the operator")
    await service.remove_membership(session, member.partner_id, user_id)
