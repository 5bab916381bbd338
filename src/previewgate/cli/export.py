"""`previewgate export ...`: partner trace export, once for a day or as a worker.

Each command imports what it uses when it runs: ``--help`` loads none of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

import click

from previewgate.cli.common import prepare_store, settings_or_exit

if TYPE_CHECKING:
    from previewgate.partners.export import Exporter

T = TypeVar("T")


@click.group()
def export() -> None:
    """Export partners' traces (redacted turns of their checkpoints) to the blob store."""


def _with_exporter(work: Callable[[Exporter], Awaitable[T]]) -> T:
    from previewgate.crypto import KeyCipher
    from previewgate.errors import PreviewGateError
    from previewgate.evidence.blobs import open_blob_store
    from previewgate.partners.export import Exporter
    from previewgate.store.engine import create_engine, session_factory

    settings = settings_or_exit()

    async def main() -> T:
        await prepare_store(settings, migrate=False)
        engine = create_engine(settings.resolved_database_url)
        blobs = open_blob_store(settings.resolved_blob_url)
        try:
            cipher = KeyCipher(settings.encryption_key_bytes())
            return await work(Exporter(session_factory(engine), blobs, cipher))
        finally:
            await blobs.close()
            await engine.dispose()

    try:
        return asyncio.run(main())
    except PreviewGateError as exc:
        raise click.ClickException(exc.message) from exc


@export.command("run")
@click.option("--partner", required=True, help="Partner slug or id.")
@click.option("--day", required=True, type=click.DateTime(["%Y-%m-%d"]), help="UTC day.")
def export_run(partner: str, day: datetime) -> None:
    """Export (or re-export, replacing) one partner's UTC day."""
    the_day = day.date()
    result = _with_exporter(lambda exporter: exporter.export_day(partner, the_day))
    for file in result.files:
        click.echo(f"{file.object_key}  {file.records} records  {file.bytes} bytes  {file.sha256}")
    click.echo(f"{result.turns} turns in {len(result.files)} files")


@export.command("worker")
@click.option("--once", is_flag=True, help="One pass (follow, then export ended days), then exit.")
@click.option("--interval-s", default=30.0, show_default=True, help="Seconds between passes.")
@click.option(
    "--settle-s", default=600.0, show_default=True, help="Wait after midnight UTC before a day."
)
def export_worker(once: bool, interval_s: float, settle_s: float) -> None:
    """Follow new turns and export each partner day once it has ended."""
    from previewgate.partners.export_worker import ExportWorker

    async def work(exporter: Exporter) -> None:
        worker = ExportWorker(exporter.sessions, exporter, interval_s=interval_s, settle_s=settle_s)
        if once:
            for day in await worker.run_once():
                click.echo(f"exported partner {day.partner_id} {day.day}: {day.turns} turns")
            return
        worker.start()
        await asyncio.Event().wait()  # until interrupted

    _with_exporter(work)


@export.command("warehouse")
@click.option("--day", required=True, type=click.DateTime(["%Y-%m-%d"]), help="UTC day.")
@click.option("--format", "fmt", type=click.Choice(["parquet", "csv"]), default="parquet")
def export_warehouse(day: datetime, fmt: str) -> None:
    """Write one UTC day of the secret-free `warehouse_turns` view to the blob store."""
    from previewgate.reporting import warehouse

    the_day = day.date()

    async def work(exporter: Exporter) -> tuple[str, int]:
        async with exporter.sessions() as session:
            return await warehouse.export_day(
                session,
                exporter.blobs,
                the_day,
                fmt,  # type: ignore[arg-type]
            )

    key, rows = _with_exporter(work)
    click.echo(f"{key}  {rows} rows")
