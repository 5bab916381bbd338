"""`previewgate models ...`: the catalog from the command line.

Each command imports the catalog service itself: it loads SQLAlchemy, which ``--help`` does
not need.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

import click
from pydantic import ValidationError

from previewgate.cli.common import run_change, run_in_session, settings_or_exit, table
from previewgate.crypto import KeyCipher

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


@click.group()
def models() -> None:
    """Manage the model catalog."""


@models.command("add")
@click.argument("public_id")
@click.option("--kind", type=click.Choice(["production", "preview"]), default="production")
@click.option("--upstream", "upstream_json", help="Upstream JSON, e.g. '{\"internal_id\": ...}'.")
@click.option("--api-key-env", help="Name of an environment variable holding the upstream key.")
@click.option("--price-in", type=float, help="USD per million input tokens.")
@click.option("--price-out", type=float, help="USD per million output tokens.")
@click.option("--disclosure", help="Disclosure text (preview models).")
@click.option("--name", "display_name", default="")
def models_add(
    public_id: str,
    kind: str,
    upstream_json: str | None,
    api_key_env: str | None,
    price_in: float | None,
    price_out: float | None,
    disclosure: str | None,
    display_name: str,
) -> None:
    """Add a model. Keys are read from an environment variable, never from argv."""
    from previewgate.catalog import service
    from previewgate.catalog.schemas import ModelCreate

    settings = settings_or_exit()
    api_key = _env_key(api_key_env) if api_key_env else None
    try:
        data = ModelCreate(
            public_id=public_id,
            kind=kind,  # type: ignore[arg-type]
            display_name=display_name,
            upstream=json.loads(upstream_json) if upstream_json else None,
            api_key=api_key,
            pricing={"input": price_in or 0, "output": price_out or 0}
            if price_in or price_out
            else None,
            disclosure_text=disclosure,
        )
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"invalid --upstream JSON: {exc.msg}") from exc
    except ValidationError as exc:
        # Field and reason only: pydantic's full text echoes the values, which may hold a key.
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "model"
        raise click.ClickException(f"invalid model: {where}: {first['msg']}") from exc

    async def work(session: AsyncSession) -> None:
        await service.create_model(session, KeyCipher(settings.encryption_key_bytes()), data)

    run_change(settings, work)
    click.echo(f"added {kind} model {public_id}")


def _env_key(name: str) -> str:
    # Surrounding whitespace (a trailing newline from a file) is trimmed, as for experiments;
    # anything left that is not printable ASCII is refused by the schema, without echoing it.
    key = os.environ.get(name, "").strip()
    if not key:
        raise click.ClickException(f"environment variable {name} is unset or empty")
    return key


@models.command("list")
def models_list() -> None:
    """List the catalog (keys show only as configured or not)."""
    from previewgate.catalog import service, views

    async def work(session: AsyncSession) -> list[dict[str, object]]:
        return [views.public_view(m) for m in await service.list_models(session)]

    rows = [_cells(view) for view in run_in_session(settings_or_exit(), work)]
    for line in table(LIST_COLUMNS, rows, right={3, 4}) if rows else []:
        click.echo(line)


LIST_COLUMNS = ("id", "kind", "key", "in $/M", "out $/M", "upstream")


def _cells(view: dict[str, Any]) -> list[str]:
    pricing = view["pricing"] or {}
    upstream = view["upstream"] or {}
    return [
        view["public_id"],
        view["kind"],
        "configured" if view["key_configured"] else "-",
        _price(pricing.get("input")),
        _price(pricing.get("output")),
        str(upstream.get("base_url") or "-"),
    ]


def _price(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"
