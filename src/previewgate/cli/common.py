"""Helpers shared by CLI commands: settings, a one-shot session, clean errors, tables."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import TYPE_CHECKING, TypeVar

import click

from previewgate.config import ConfigError, Settings, load_settings
from previewgate.errors import PreviewGateError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)


async def prepare_store(settings: Settings, *, migrate: bool) -> None:
    """Migrate on request (or on embedded defaults); otherwise refuse an unmigrated store."""
    # Here, not at module level: SQLAlchemy (about a second) would slow every `--help`.
    from previewgate.store.engine import create_engine
    from previewgate.store.migrate import is_up_to_date, upgrade

    settings.ensure_embedded_key()
    engine = create_engine(settings.resolved_database_url)
    try:
        if migrate or settings.is_embedded:
            await upgrade(engine)
        elif not await is_up_to_date(engine):
            raise click.ClickException(
                "the database is not migrated to the latest schema: run `previewgate migrate`"
            )
    finally:
        await engine.dispose()


def run_in_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one committed transaction; domain errors become clean CLI errors."""
    from previewgate.store.engine import create_engine, session_factory

    async def _main() -> T:
        await prepare_store(settings, migrate=False)
        engine = create_engine(settings.resolved_database_url)
        try:
            async with session_factory(engine)() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(_main())
    except PreviewGateError as exc:
        raise click.ClickException(exc.message) from exc


async def publish_invalidation(settings: Settings) -> None:
    """Tell running gateways that routing state changed (no-op without Redis)."""
    if not settings.redis_url:
        return
    from redis.asyncio import Redis

    from previewgate.gateway.routing_cache import CHANNEL

    client = Redis.from_url(settings.redis_url, socket_connect_timeout=2)
    try:
        await client.publish(CHANNEL, b"1")
    except Exception as exc:  # running gateways still catch up within the TTL
        click.echo(f"warning: invalidation not published ({type(exc).__name__})", err=True)
    finally:
        await client.aclose()


def table(
    header: Sequence[str], rows: Sequence[Sequence[str]], right: Collection[int] = ()
) -> list[str]:
    """Lines of a text table: a header, a rule, the rows; every column as wide as its widest
    cell and two spaces apart, the columns in ``right`` (numbers) right-aligned."""
    widths = [max(map(len, column)) for column in zip(header, *rows, strict=True)]

    def render(cells: Sequence[str]) -> str:
        padded = (
            cell.rjust(width) if index in right else cell.ljust(width)
            for index, (cell, width) in enumerate(zip(cells, widths, strict=True))
        )
        return "  ".join(padded).rstrip()

    return [render(header), "  ".join("-" * w for w in widths), *map(render, rows)]
