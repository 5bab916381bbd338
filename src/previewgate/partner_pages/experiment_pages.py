"""Experiments with a slot of the partner's: the list, one experiment with its live
results, an own slot's checkpoint timeline and one checkpoint's feedback."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response

from previewgate.admin_pages.actions import reading
from previewgate.admin_pages.rendering import PageRoute, render
from previewgate.deps import RuntimeDep
from previewgate.partner_pages.auth import MemberPage
from previewgate.partners import portal

router = APIRouter(route_class=PageRoute)


@router.get("/experiments")
async def experiment_list(request: Request, runtime: RuntimeDep, found: MemberPage) -> Response:
    async with reading(runtime) as session:
        rows = await portal.experiments_of(session, found.member.partner_id)
    return render(request, "partner/experiments.html", member=found.member, rows=rows)


@router.get("/experiments/{experiment_id}")
async def experiment_detail(
    experiment_id: uuid.UUID, request: Request, runtime: RuntimeDep, found: MemberPage
) -> Response:
    partner_id = found.member.partner_id
    async with reading(runtime) as session:
        view = await portal.experiment(session, experiment_id, partner_id)
        report = (
            await portal.results(session, experiment_id, partner_id) if view.own_slots else None
        )
    return render(request, "partner/experiment.html", member=found.member, view=view, report=report)


@router.get("/slots/{slot_id}")
async def slot_detail(
    slot_id: uuid.UUID, request: Request, runtime: RuntimeDep, found: MemberPage
) -> Response:
    async with reading(runtime) as session:
        slot = await portal.slot(session, slot_id, found.member.partner_id)
    return render(request, "partner/slot.html", member=found.member, slot=slot)


@router.get("/checkpoints/{version_id}")
async def checkpoint_detail(
    version_id: uuid.UUID, request: Request, runtime: RuntimeDep, found: MemberPage
) -> Response:
    async with reading(runtime) as session:
        feedback = await portal.checkpoint_feedback(session, version_id, found.member.partner_id)
    top = max([d.up + d.down for d in feedback.days] + [1])
    return render(
        request, "partner/checkpoint.html", member=found.member, feedback=feedback, top=top
    )
