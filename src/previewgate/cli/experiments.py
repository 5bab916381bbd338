"""`previewgate experiments ...`: the experiment lifecycle, thin over the same service as the API.

Partner keys are read from an environment variable named by ``--api-key-env`` or
from stdin (``--api-key-stdin``), never from argv, which any local user can read
with ``ps``.

The experiment service is imported inside the commands: it loads SQLAlchemy, which
``--help`` does not need.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import click
from pydantic import ValidationError

from previewgate.cli.common import run_change, run_in_session, settings_or_exit, table
from previewgate.crypto import KeyCipher
from previewgate.experiments.schemas import ExperimentCreate, VariantCreate

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from previewgate.experiments.models import Experiment, Variant

key_env = click.option("--api-key-env", metavar="NAME", help="Read the key from this env var.")
key_stdin = click.option("--api-key-stdin", is_flag=True, help="Read the key from stdin.")
upstream_option = click.option(
    "--upstream", "upstream_json", required=True, help='Upstream JSON: {"internal_id", "base_url"}.'
)


@click.group()
def experiments() -> None:
    """Create, run, hot-swap and archive preview-model experiments."""


def _mutate(work: Callable[[AsyncSession, KeyCipher], Awaitable[Any]]) -> Any:
    """Run one routing change (see ``run_change``)."""
    settings = settings_or_exit()

    async def with_cipher(session: AsyncSession) -> Any:
        # Built after the store is prepared: embedded defaults generate the key there.
        return await work(session, KeyCipher(settings.encryption_key_bytes()))

    return run_change(settings, with_cipher)


def _read_key(api_key_env: str | None, api_key_stdin: bool) -> str:
    if bool(api_key_env) == api_key_stdin:
        raise click.UsageError("give exactly one of --api-key-env NAME or --api-key-stdin")
    if api_key_env:
        key = os.environ.get(api_key_env, "").strip()
        if not key:
            raise click.ClickException(f"environment variable {api_key_env} is unset or empty")
        return key
    key = sys.stdin.read().strip()
    if not key:
        raise click.ClickException("no key on stdin")
    return key


def _upstream(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"--upstream is not valid JSON: {exc.msg}") from exc


def _invalid(exc: ValidationError) -> click.ClickException:
    # Location and reason only: pydantic's full text would echo input values (the key).
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "value"
    return click.ClickException(f"invalid input: {where}: {err['msg']}")


async def _variant(session: AsyncSession, experiment_id: uuid.UUID, ref: str) -> Variant:
    from previewgate.experiments import service

    return service.find_variant(await service.get_experiment(session, experiment_id), ref)


LIST_COLUMNS = ("id", "status", "model", "variants", "archived", "name")


def _cells(experiment: Experiment) -> list[str]:
    return [
        str(experiment.id),
        experiment.status,
        experiment.public_model_id,
        str(len(experiment.variants)),
        "yes" if experiment.is_archived else "",
        experiment.name,
    ]


@experiments.command("create")
@click.argument("public_model_id")
@click.option("--name", required=True)
@click.option("--description", default="")
@click.option("--require-opt-in/--no-require-opt-in", default=True, show_default=True)
@click.option("--allow-anonymous/--no-allow-anonymous", default=False, show_default=True)
def create(
    public_model_id: str, name: str, description: str, require_opt_in: bool, allow_anonymous: bool
) -> None:
    """Create a draft experiment on a preview model; prints its id last."""
    from previewgate.experiments import service

    try:
        data = ExperimentCreate(
            public_model_id=public_model_id,
            name=name,
            description=description,
            require_opt_in=require_opt_in,
            allow_anonymous=allow_anonymous,
        )
    except ValidationError as exc:
        raise _invalid(exc) from exc

    async def work(session: AsyncSession, _: KeyCipher) -> Experiment:
        return await service.create_experiment(session, data)

    experiment = _mutate(work)
    click.echo(f"created draft experiment on {public_model_id}:")
    click.echo(str(experiment.id))


@experiments.command("list")
@click.option("--archived/--unarchived", default=None, help="Default: both.")
@click.option("--status", type=click.Choice(["draft", "active", "paused", "completed"]))
def list_(archived: bool | None, status: str | None) -> None:
    """List experiments, newest first."""
    from previewgate.experiments import service

    async def work(session: AsyncSession) -> list[list[str]]:
        return [_cells(e) for e in await service.list_experiments(session, archived, status)]

    rows = run_in_session(settings_or_exit(), work)
    for line in table(LIST_COLUMNS, rows, right={3}) if rows else []:
        click.echo(line)


@experiments.command("show")
@click.argument("experiment_id", type=click.UUID)
def show(experiment_id: uuid.UUID) -> None:
    """Print the admin view as JSON: variants, shares, version timelines (never a key)."""
    from previewgate.experiments import service, views

    async def work(session: AsyncSession) -> str:
        experiment = await service.get_experiment(session, experiment_id)
        return views.experiment_view(experiment).model_dump_json(indent=2)

    click.echo(run_in_session(settings_or_exit(), work))


@experiments.command("add-variant")
@click.argument("experiment_id", type=click.UUID)
@click.argument("label")
@click.option("--weight", type=int, default=1, show_default=True)
@upstream_option
@key_env
@key_stdin
def add_variant(
    experiment_id: uuid.UUID,
    label: str,
    weight: int,
    upstream_json: str,
    api_key_env: str | None,
    api_key_stdin: bool,
) -> None:
    """Add a slot and its first checkpoint to a draft experiment."""
    from previewgate.experiments import service

    try:
        data = VariantCreate(
            label=label,
            weight=weight,
            upstream=_upstream(upstream_json),
            api_key=_read_key(api_key_env, api_key_stdin),
        )
    except ValidationError as exc:
        raise _invalid(exc) from exc

    async def work(session: AsyncSession, cipher: KeyCipher) -> Variant:
        return await service.add_variant(session, cipher, experiment_id, data)

    variant = _mutate(work)
    click.echo(f"added variant {label!r} (weight {weight}):")
    click.echo(str(variant.id))


@experiments.command("swap")
@click.argument("experiment_id", type=click.UUID)
@click.argument("variant", metavar="VARIANT_ID_OR_LABEL")
@upstream_option
@key_env
@key_stdin
def swap(
    experiment_id: uuid.UUID,
    variant: str,
    upstream_json: str,
    api_key_env: str | None,
    api_key_stdin: bool,
) -> None:
    """Hot-swap a slot to a new checkpoint, effective now; no subject changes slot."""
    from previewgate.experiments import service

    raw = _upstream(upstream_json)
    key = _read_key(api_key_env, api_key_stdin)

    async def work(session: AsyncSession, cipher: KeyCipher) -> None:
        slot = await _variant(session, experiment_id, variant)
        await service.swap_variant_version(session, cipher, experiment_id, slot.id, raw, key)

    _mutate(work)
    click.echo(f"variant {variant}: new version effective now")


@experiments.command("rotate-key")
@click.argument("experiment_id", type=click.UUID)
@click.argument("variant", metavar="VARIANT_ID_OR_LABEL")
@key_env
@key_stdin
def rotate_key(
    experiment_id: uuid.UUID, variant: str, api_key_env: str | None, api_key_stdin: bool
) -> None:
    """Replace a slot's partner key: a new version on the current upstream, effective now."""
    from previewgate.experiments import service

    key = _read_key(api_key_env, api_key_stdin)

    async def work(session: AsyncSession, cipher: KeyCipher) -> None:
        slot = await _variant(session, experiment_id, variant)
        await service.rotate_api_key(session, cipher, experiment_id, slot.id, key)

    _mutate(work)
    click.echo(f"rotated the key of variant {variant}")


def _transition(name: str, summary: str) -> None:
    """``experiments NAME ID`` runs the service function ``NAME``; ``summary`` is the first
    line of its docstring, written out so that listing the commands needs no service
    (tests/cli/test_lazy.py keeps the two equal)."""

    @experiments.command(name, help=summary)
    @click.argument("experiment_id", type=click.UUID)
    def command(experiment_id: uuid.UUID) -> None:
        from previewgate.experiments import service

        move: Callable[[AsyncSession, uuid.UUID], Awaitable[Experiment]] = getattr(service, name)

        async def work(session: AsyncSession, _: KeyCipher) -> str:
            return (await move(session, experiment_id)).status

        click.echo(f"experiment {experiment_id} is now {_mutate(work)}")


_transition("activate", "draft/paused → active once every activation rule holds.")
_transition(
    "pause", "active → paused: the id answers 404 model-unavailable, subjects keep their slots."
)
_transition(
    "complete", "active/paused → completed (terminal); frees the public id for a new experiment."
)


@experiments.command("archive")
@click.argument("experiment_id", type=click.UUID)
@click.option("--undo", is_flag=True, help="Unarchive instead.")
def archive(experiment_id: uuid.UUID, undo: bool) -> None:
    """Archive (or --undo) an experiment; an active one must be paused or completed first."""
    from previewgate.experiments import service

    async def work(session: AsyncSession, _: KeyCipher) -> None:
        await service.set_archived(session, experiment_id, not undo)

    _mutate(work)
    click.echo(f"experiment {experiment_id} {'unarchived' if undo else 'archived'}")
