"""The partner's webhook endpoints: list and create, rotate the secret, send a test event,
the deliveries and attempts log, and replays."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

from fastapi import APIRouter, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from previewgate.admin_pages.actions import reading
from previewgate.admin_pages.forms import FormResult, text, validate
from previewgate.admin_pages.rendering import PageRoute, redirect, render
from previewgate.deps import RuntimeDep
from previewgate.partner_pages.auth import MemberForm, MemberPage
from previewgate.partner_pages.changes import change
from previewgate.partners import portal_webhooks
from previewgate.webhooks.schemas import EndpointCreate, EventType, SecretRotation

router = APIRouter(route_class=PageRoute)
ENDPOINT = "/webhooks/{endpoint_id}"
DELIVERY = "/deliveries/{delivery_id}"


def _endpoint_url(endpoint_id: uuid.UUID) -> str:
    return f"/partner/webhooks/{endpoint_id}"


def _refused(request: Request, back: str, result: FormResult) -> Response:
    return redirect(request, back, "; ".join(result.errors.values()), kind="error")


@router.get("/webhooks")
async def webhook_list(request: Request, runtime: RuntimeDep, found: MemberPage) -> Response:
    async with reading(runtime) as session:
        endpoints = await portal_webhooks.endpoints(session, found.member)
    return render(
        request,
        "partner/webhooks.html",
        member=found.member,
        endpoints=endpoints,
        event_types=get_args(EventType),
    )


def _secret_page(request: Request, found: MemberForm, what: str, **context: Any) -> Response:
    return render(request, "partner/secret.html", member=found.member, what=what, **context)


@router.post("/webhooks")
async def create_endpoint(request: Request, runtime: RuntimeDep, found: MemberForm) -> Response:
    form = await request.form()
    result = FormResult("endpoint")
    fields = {
        "url": text(form, "url").strip(),
        "event_types": [t for t in form.getlist("event_types") if isinstance(t, str)],
        "description": text(form, "description").strip(),
    }
    data = validate(EndpointCreate, fields, result)
    if data is None:
        return _refused(request, "/partner/webhooks", result)
    allowed = runtime.settings.webhook_allowed_network_list

    async def run(session: AsyncSession) -> Any:
        return await portal_webhooks.create(session, runtime.cipher, found.member, data, allowed)

    return await change(
        request,
        runtime,
        "/partner/webhooks",
        run,
        lambda created: _secret_page(
            request, found, "endpoint", secret=created.secret, back=_endpoint_url(created.id)
        ),
    )


@router.get(ENDPOINT)
async def endpoint_detail(
    endpoint_id: uuid.UUID, request: Request, runtime: RuntimeDep, found: MemberPage
) -> Response:
    async with reading(runtime) as session:
        endpoint = await portal_webhooks.endpoint(session, found.member, endpoint_id)
        deliveries = await portal_webhooks.deliveries(session, found.member, endpoint_id)
    since = (datetime.now(UTC) - timedelta(days=7)).date().isoformat()
    return render(
        request,
        "partner/webhook.html",
        member=found.member,
        endpoint=endpoint,
        deliveries=deliveries,
        since=since,
    )


@router.post(ENDPOINT + "/rotate")
async def rotate_secret(
    endpoint_id: uuid.UUID, request: Request, runtime: RuntimeDep, found: MemberForm
) -> Response:
    back = _endpoint_url(endpoint_id)
    result = FormResult("rotation")
    grace = text(await request.form(), "grace_s").strip() or "86400"
    parsed = validate(SecretRotation, {"grace_s": grace}, result)
    if parsed is None:
        return _refused(request, back, result)

    async def run(session: AsyncSession) -> Any:
        return await portal_webhooks.rotate(
            session, runtime.cipher, found.member, endpoint_id, parsed.grace_s
        )

    return await change(
        request,
        runtime,
        back,
        run,
        lambda rotated: _secret_page(request, found, "rotation", secret=rotated.secret, back=back),
    )


@router.post(ENDPOINT + "/test")
async def send_test(
    endpoint_id: uuid.UUID, request: Request, runtime: RuntimeDep, found: MemberForm
) -> Response:
    back = _endpoint_url(endpoint_id)

    async def run(session: AsyncSession) -> str:
        return await portal_webhooks.send_test(session, found.member, endpoint_id)

    return await change(
        request,
        runtime,
        back,
        run,
        lambda message_id: redirect(
            request, back, f"Test event {message_id} queued: it appears below once sent."
        ),
    )


@router.post(ENDPOINT + "/replay-dead")
async def replay_dead(
    endpoint_id: uuid.UUID, request: Request, runtime: RuntimeDep, found: MemberForm
) -> Response:
    back = _endpoint_url(endpoint_id)
    try:
        since = datetime.fromisoformat(text(await request.form(), "since").strip())
    except ValueError:
        return redirect(request, back, "Give the first day as YYYY-MM-DD.", kind="error")
    since = since if since.tzinfo else since.replace(tzinfo=UTC)

    async def run(session: AsyncSession) -> int:
        return await portal_webhooks.replay_dead(session, found.member, endpoint_id, since)

    return await change(
        request,
        runtime,
        back,
        run,
        lambda count: redirect(request, back, f"{count} dead deliveries queued again."),
    )


@router.get(DELIVERY)
async def delivery_detail(
    delivery_id: uuid.UUID, request: Request, runtime: RuntimeDep, found: MemberPage
) -> Response:
    async with reading(runtime) as session:
        delivery = await portal_webhooks.delivery(session, found.member, delivery_id)
        attempts = await portal_webhooks.attempts(session, found.member, delivery_id)
    return render(
        request, "partner/delivery.html", member=found.member, delivery=delivery, attempts=attempts
    )


@router.post(DELIVERY + "/replay")
async def replay_delivery(
    delivery_id: uuid.UUID, request: Request, runtime: RuntimeDep, found: MemberForm
) -> Response:
    back = f"/partner/deliveries/{delivery_id}"

    async def run(session: AsyncSession) -> None:
        await portal_webhooks.replay(session, found.member, delivery_id)

    return await change(
        request, runtime, back, run, lambda _: redirect(request, back, "Delivery queued again.")
    )
