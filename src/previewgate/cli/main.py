"""The `previewgate` command."""

from __future__ import annotations

import click

from previewgate.cli.accounts import keys, users
from previewgate.cli.demo import demo
from previewgate.cli.experiments import experiments
from previewgate.cli.models import models
from previewgate.cli.reporting import gc, report, wipe
from previewgate.cli.serve import migrate, serve


@click.group()
def cli() -> None:
    """PreviewGate: an OpenAI-compatible gateway for preview-model experiments."""


for command in (serve, migrate, demo, users, keys, models, experiments, report, wipe, gc):
    cli.add_command(command)
