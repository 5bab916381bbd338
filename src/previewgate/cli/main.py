"""The `previewgate` command.

Subcommands are imported only when they run (click's lazy-loading group): their modules
pull in SQLAlchemy, the web app, SciPy and uvicorn, which made a bare ``--help`` take
seconds.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import click

# name -> ("module:attribute", one-line help). The help is written here so that listing
# the commands imports none of them; tests/cli/test_lazy.py keeps it equal to the
# command's own.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "serve": (
        "previewgate.cli.serve:serve",
        "Start the gateway (production entry point: no demo data, no demo upstream).",
    ),
    "migrate": ("previewgate.cli.serve:migrate", "Apply database migrations."),
    "demo": (
        "previewgate.cli.demo:demo",
        "Start a local mock upstream and the gateway on embedded defaults, with demo data.",
    ),
    "users": ("previewgate.cli.accounts:users", "Manage users."),
    "keys": ("previewgate.cli.accounts:keys", "Manage API keys."),
    "models": ("previewgate.cli.models:models", "Manage the model catalog."),
    "experiments": (
        "previewgate.cli.experiments:experiments",
        "Create, run, hot-swap and archive preview-model experiments.",
    ),
    "partners": (
        "previewgate.cli.partners:partners",
        "Manage partners (the providers of checkpoints), members and slot ownership.",
    ),
    "export": (
        "previewgate.cli.export:export",
        "Export partners' traces (redacted turns of their checkpoints) to the blob store.",
    ),
    "webhooks": (
        "previewgate.cli.webhooks:webhooks",
        "Partners' webhook endpoints (Standard Webhooks), replays, and the delivery worker.",
    ),
    "report": ("previewgate.cli.reporting:report", "Live statistics of an experiment."),
    "wipe": (
        "previewgate.cli.reporting:wipe",
        "Forget an experiment's prompts (hashes become __deleted__); run `gc` to free storage.",
    ),
    "gc": (
        "previewgate.cli.reporting:gc",
        "Delete stored prompts and responses that no attribution row references.",
    ),
}


class LazyGroup(click.Group):
    """A group that imports a subcommand's module when that subcommand is resolved."""

    def __init__(
        self, *args: Any, lazy_subcommands: Mapping[str, tuple[str, str]], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_subcommands = lazy_subcommands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy_subcommands])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.lazy_subcommands:
            return super().get_command(ctx, cmd_name)
        module_name, attribute = self.lazy_subcommands[cmd_name][0].split(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{module_name}:{attribute} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # As click's own, except that a lazy subcommand is listed from its static help,
        # shortened by a stand-in Command exactly as click shortens the real one.
        commands: list[tuple[str, click.Command]] = []
        for name in self.list_commands(ctx):
            lazy = self.lazy_subcommands.get(name)
            command = click.Command(name, help=lazy[1]) if lazy else self.get_command(ctx, name)
            if command is not None and not command.hidden:
                commands.append((name, command))
        if commands:
            limit = formatter.width - 6 - max(len(name) for name, _ in commands)
            with formatter.section("Commands"):
                formatter.write_dl(
                    [(name, cmd.get_short_help_str(limit)) for name, cmd in commands]
                )


@click.group(cls=LazyGroup, lazy_subcommands=SUBCOMMANDS)
@click.version_option(package_name="previewgate")
def cli() -> None:
    """PreviewGate: an OpenAI-compatible gateway for preview-model experiments."""
