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


def _run(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]], change: bool) -> T:
    from previewgate.routing.change import routing_change
    from previewgate.store.engine import create_engine, session_factory

    async def _main() -> T:
        await prepare_store(settings, migrate=False)
        engine = create_engine(settings.resolved_database_url)
        try:
            sessions = session_factory(engine)
            if not change:
                async with sessions() as session, session.begin():
                    return await work(session)
            async with routing_change(sessions, lambda: _publish(settings)) as session:
                return await work(session)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(_main())
    except PreviewGateError as exc:
        raise click.ClickException(exc.message) from exc


def run_in_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one committed transaction; domain errors become clean CLI errors."""
    return _run(settings, work, change=False)


def run_change(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` as one routing change (``routing.change``): running gateways pick it up
    through Redis at once when configured, through the store's generation within a second
    otherwise."""
    return _run(settings, work, change=True)


async def _publish(settings: Settings) -> None:
    if not settings.redis_url:
        return
    from previewgate.routing.cache import publish_change, redis_client

    client = redis_client(settings.redis_url)
    try:
        await publish_change(client)
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
