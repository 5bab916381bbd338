"""`python -m previewgate` is the `previewgate` command."""

from previewgate.cli.main import cli

cli()
