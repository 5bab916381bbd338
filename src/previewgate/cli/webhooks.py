"""`previewgate webhooks ...`: partners' webhook endpoints, replays, and the delivery worker.

Each command imports what it uses when it runs: ``--help`` loads none of it.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import click

from previewgate.cli.common import prepare_store, run_in_session, settings_or_exit, table

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

EVENTS = ["export.ready", "feedback.created", "experiment.status_changed", "checkpoint.swapped"]


@click.group()
def webhooks() -> None:
    """Partners' webhook endpoints (Standard Webhooks), replays, and the delivery worker."""


@webhooks.command("add")
@click.argument("partner")
@click.argument("url")
@click.option("--event", "events", multiple=True, type=click.Choice(EVENTS), required=True)
@click.option("--description", default="")
def webhooks_add(partner: str, url: str, events: tuple[str, ...], description: str) -> None:
    """Add an endpoint for PARTNER (slug or id); prints its whsec_ secret once, last."""
    from previewgate.crypto import KeyCipher
    from previewgate.partners.service import get_partner
    from previewgate.webhooks import service
    from previewgate.webhooks.schemas import EndpointCreate

    settings = settings_or_exit()

    async def work(session: AsyncSession) -> tuple[uuid.UUID, str]:
        found = await get_partner(session, partner)
        data = EndpointCreate(url=url, event_types=list(events), description=description)  # type: ignore[arg-type]
        endpoint, secret = await service.create_endpoint(
            session,
            KeyCipher(settings.encryption_key_bytes()),
            found.id,
            data,
            settings.webhook_allowed_network_list,
        )
        return endpoint.id, secret

    endpoint_id, secret = run_in_session(settings, work)
    click.echo(f"endpoint {endpoint_id}; signing secret (shown once):")
    click.echo(secret)


@webhooks.command("list")
@click.argument("partner")
def webhooks_list(partner: str) -> None:
    """PARTNER's endpoints."""
    from previewgate.partners.service import get_partner
    from previewgate.webhooks import queries

    async def work(session: AsyncSession) -> list[list[str]]:
        found = await get_partner(session, partner)
        return [
            [str(e.id), e.url, ",".join(e.event_types), "yes" if e.enabled else "no"]
            for e in await queries.endpoints_of(session, found.id)
        ]

    rows = run_in_session(settings_or_exit(), work)
    for line in table(["id", "url", "events", "enabled"], rows):
        click.echo(line)


@webhooks.command("rotate")
@click.argument("endpoint_id", type=click.UUID)
@click.option("--grace-s", default=86_400, show_default=True, help="Old secret keeps signing.")
def webhooks_rotate(endpoint_id: uuid.UUID, grace_s: int) -> None:
    """A new secret for ENDPOINT_ID (printed once, last); the old one signs too for a while."""
    from previewgate.crypto import KeyCipher
    from previewgate.webhooks import service

    settings = settings_or_exit()

    async def work(session: AsyncSession) -> str:
        cipher = KeyCipher(settings.encryption_key_bytes())
        _, secret = await service.rotate_secret(
            session, cipher, endpoint_id, timedelta(seconds=grace_s)
        )
        return secret

    secret = run_in_session(settings, work)
    click.echo("new signing secret (shown once):")
    click.echo(secret)


@webhooks.command("test")
@click.argument("endpoint_id", type=click.UUID)
def webhooks_test(endpoint_id: uuid.UUID) -> None:
    """Queue a webhook.test event to ENDPOINT_ID."""
    from previewgate.webhooks import service

    async def work(session: AsyncSession) -> str:
        return await service.send_test(session, endpoint_id)

    click.echo(f"queued {run_in_session(settings_or_exit(), work)}")


@webhooks.command("replay")
@click.argument("endpoint_id", type=click.UUID)
@click.option("--since", required=True, type=click.DateTime(), help="Dead since (UTC).")
def webhooks_replay(endpoint_id: uuid.UUID, since: datetime) -> None:
    """Send every dead delivery of ENDPOINT_ID created since --since again."""
    from datetime import UTC

    from previewgate.webhooks import service

    async def work(session: AsyncSession) -> int:
        return await service.replay_dead(session, endpoint_id, since.replace(tzinfo=UTC))

    click.echo(f"requeued {run_in_session(settings_or_exit(), work)} deliveries")


@webhooks.command("worker")
def webhooks_worker() -> None:
    """Deliver queued events until interrupted (several workers share the work)."""
    from previewgate.crypto import KeyCipher
    from previewgate.store.engine import create_engine, session_factory
    from previewgate.webhooks.delivery import DeliveryWorker, options_from

    settings = settings_or_exit()

    async def main() -> None:
        await prepare_store(settings, migrate=False)
        engine = create_engine(settings.resolved_database_url)
        worker = DeliveryWorker(
            session_factory(engine),
            KeyCipher(settings.encryption_key_bytes()),
            options_from(settings),
        )
        worker.start()
        try:
            await asyncio.Event().wait()
        finally:
            await worker.stop()
            await engine.dispose()

    asyncio.run(main())
