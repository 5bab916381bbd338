"""`previewgate partners ...`: partners, their members, the slots they own, and exports.

Each command imports what it uses when it runs: ``--help`` loads none of it.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import click

from previewgate.cli.common import run_in_session, settings_or_exit, table

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


@click.group()
def partners() -> None:
    """Manage partners (the providers of checkpoints), members and slot ownership."""


@partners.command("create")
@click.argument("slug")
@click.option("--name", required=True, help="Display name.")
def partners_create(slug: str, name: str) -> None:
    """Create a partner (a new secret for its HMAC ids is made and kept sealed)."""
    from previewgate.crypto import KeyCipher
    from previewgate.partners import service
    from previewgate.partners.schemas import PartnerCreate

    settings = settings_or_exit()

    async def work(session: AsyncSession) -> str:
        cipher = KeyCipher(settings.encryption_key_bytes())
        partner = await service.create_partner(session, cipher, PartnerCreate(slug=slug, name=name))
        return str(partner.id)

    click.echo(f"created partner {slug}: {run_in_session(settings, work)}")


@partners.command("list")
def partners_list() -> None:
    """Partners by slug."""
    from previewgate.partners import queries

    async def work(session: AsyncSession) -> list[list[str]]:
        return [[p.slug, p.name, str(p.id)] for p in await queries.list_partners(session)]

    for line in table(["slug", "name", "id"], run_in_session(settings_or_exit(), work)):
        click.echo(line)


@partners.command("add-member")
@click.argument("partner")
@click.argument("email")
@click.option("--role", type=click.Choice(["viewer", "admin"]), default="viewer")
def partners_add_member(partner: str, email: str, role: str) -> None:
    """Make a user (by e-mail) a viewer or admin of PARTNER (slug or id)."""
    from previewgate.accounts import service as accounts
    from previewgate.partners import service

    async def work(session: AsyncSession) -> None:
        user = await accounts.get_user_by_email(session, email)
        await service.set_membership(session, partner, user.id, role)  # type: ignore[arg-type]

    run_in_session(settings_or_exit(), work)
    click.echo(f"{email} is now {role} of {partner}")


@partners.command("assign-slot")
@click.argument("experiment_id", type=click.UUID)
@click.argument("slot")
@click.argument("partner", required=False)
def partners_assign_slot(experiment_id: uuid.UUID, slot: str, partner: str | None) -> None:
    """Give SLOT (label or id) of an experiment to PARTNER (slug or id); omit it for nobody."""
    from previewgate.partners import service

    async def work(session: AsyncSession) -> None:
        owner = (await service.get_partner(session, partner)).id if partner else None
        await service.assign_slot(session, experiment_id, slot, owner)

    run_in_session(settings_or_exit(), work)
    click.echo(f"slot {slot} now belongs to {partner or 'no partner'}")


@partners.command("rename")
@click.argument("partner")
@click.option("--name", required=True, help="New display name.")
def partners_rename(partner: str, name: str) -> None:
    """Rename PARTNER (slug or id)."""
    from previewgate.partners import service

    async def work(session: AsyncSession) -> None:
        await service.rename_partner(session, partner, name)

    run_in_session(settings_or_exit(), work)
    click.echo(f"renamed {partner} to {name}")


@partners.command("delete")
@click.argument("partner")
@click.option("--yes", is_flag=True, help="Do not ask.")
def partners_delete(partner: str, yes: bool) -> None:
    """Delete PARTNER: its memberships and export records go, its slots become nobody's."""
    from previewgate.partners import service

    if not yes:
        click.confirm(f"delete partner {partner}?", abort=True)

    async def work(session: AsyncSession) -> None:
        await service.delete_partner(session, partner)

    run_in_session(settings_or_exit(), work)
    click.echo(f"deleted {partner}")


@partners.command("remove-member")
@click.argument("partner")
@click.argument("email")
def partners_remove_member(partner: str, email: str) -> None:
    """Remove a user (by e-mail) from PARTNER."""
    from previewgate.accounts import service as accounts
    from previewgate.partners import service

    async def work(session: AsyncSession) -> None:
        found = await service.get_partner(session, partner)
        user = await accounts.get_user_by_email(session, email)
        await service.remove_membership(session, found.id, user.id)

    run_in_session(settings_or_exit(), work)
    click.echo(f"{email} is no longer a member of {partner}")
