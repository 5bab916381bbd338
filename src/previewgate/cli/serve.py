"""`previewgate serve` and `previewgate migrate`.

uvicorn is imported by `serve` itself: ``--help`` and `migrate` do not need it.
"""

from __future__ import annotations

import asyncio
import sys
from functools import partial
from typing import Any

import click

from previewgate.cli.common import prepare_store, settings_or_exit
from previewgate.telemetry.logs import configure_logging

APP_FACTORY = "previewgate.app:create_app_from_env"


def uvicorn_config_kwargs() -> dict[str, Any]:
    """Server settings chosen by measurement (see bench/README.md)."""
    return {
        "loop": "uvloop",
        "http": "httptools",
        "access_log": False,
        "lifespan": "on",
        "timeout_graceful_shutdown": 30,
        # X-Forwarded-For is honoured only by our own trusted-proxy rule (previewgate.identity).
        "proxy_headers": False,
        "server_header": False,
        "date_header": False,
    }


@click.command()
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Processes (default PREVIEWGATE_WORKERS).",
)
def serve(workers: int | None) -> None:
    """Start the gateway (production entry point: no demo data, no demo upstream).

    With several workers each process has its own SO_REUSEPORT socket (see
    ``previewgate.cli.workers``); the command exits 1 if a worker dies.
    """
    import uvicorn

    from previewgate.cli.workers import run_workers

    settings = settings_or_exit()
    configure_logging(settings.log_level, settings.log_format)
    asyncio.run(prepare_store(settings, migrate=False))
    server: dict[str, Any] = {
        "factory": True,
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level.lower(),
        # uvicorn's own lines go through our handler too (one format, JSON included).
        "log_config": None,
        **uvicorn_config_kwargs(),
    }
    count = workers or settings.workers
    if count == 1:
        uvicorn.run(APP_FACTORY, **server)
        return
    config = uvicorn.Config(APP_FACTORY, **server)
    init = partial(configure_logging, settings.log_level, settings.log_format)
    sys.exit(run_workers(config, count, init))


@click.command()
def migrate() -> None:
    """Apply database migrations."""
    settings = settings_or_exit()
    asyncio.run(prepare_store(settings, migrate=True))
    click.echo("database is at the latest schema")
