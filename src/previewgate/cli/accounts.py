"""`previewgate users ...` and `previewgate keys ...`: each a routing change, so a running
gateway accepts a new key (and refuses a deleted user) at once.

Each command imports the service itself: it loads SQLAlchemy, which ``--help`` does not need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from previewgate.cli.common import run_change, settings_or_exit

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


@click.group()
def users() -> None:
    """Manage users."""


@users.command("create")
@click.argument("email")
@click.option("--admin", is_flag=True, help="Make the user an administrator.")
def users_create(email: str, admin: bool) -> None:
    """Create a user and print its first API key (last line of stdout)."""
    from previewgate.accounts import service

    async def work(session: AsyncSession) -> str:
        user = await service.create_user(session, email, is_admin=admin)
        return (await service.issue_key(session, user)).plaintext

    key = run_change(settings_or_exit(), work)
    click.echo(f"created {'admin ' if admin else ''}user {email}; API key (shown once):")
    click.echo(key)


@users.command("credit")
@click.argument("email")
@click.argument("usd", type=float)
def users_credit(email: str, usd: float) -> None:
    """Add USD credit to a user's balance (negative to remove)."""
    from previewgate.accounts import service

    async def work(session: AsyncSession) -> int:
        user = await service.get_user_by_email(session, email)
        return await service.add_credit(session, user, round(usd * 1_000_000))

    balance = run_change(settings_or_exit(), work)
    click.echo(f"{email} balance: {balance / 1_000_000:.6f} USD")


@users.command("delete")
@click.argument("email")
def users_delete(email: str) -> None:
    """Soft-delete a user (keys revoked; experiment evidence kept per retention policy)."""
    from previewgate.accounts import service

    async def work(session: AsyncSession) -> None:
        await service.soft_delete_user(session, await service.get_user_by_email(session, email))

    run_change(settings_or_exit(), work)
    click.echo(f"deleted {email}")


@click.group()
def keys() -> None:
    """Manage API keys."""


@keys.command("create")
@click.argument("email")
def keys_create(email: str) -> None:
    """Issue a new API key for a user (printed once, last line of stdout)."""
    from previewgate.accounts import service

    async def work(session: AsyncSession) -> str:
        user = await service.get_user_by_email(session, email)
        return (await service.issue_key(session, user)).plaintext

    key = run_change(settings_or_exit(), work)
    click.echo(f"new API key for {email} (shown once):")
    click.echo(key)
