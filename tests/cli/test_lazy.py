"""`previewgate` start-up: subcommands are imported when they run, not when listed."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from previewgate.cli.experiments import experiments
from previewgate.cli.main import SUBCOMMANDS, cli
from previewgate.experiments import service

# What made `previewgate --help` take seconds; `--help` needs none of it.
HEAVY = (
    "sqlalchemy",
    "scipy",
    "numpy",
    "fastapi",
    "uvicorn",
    "redis",
    "previewgate.app",
    "previewgate.gateway",
)


def run_fresh(*argvs: list[str]) -> tuple[str, list[str]]:
    """Run ``cli(argv)`` for each argv in a new interpreter: its stdout and, after the last,
    every module it had imported."""
    script = (
        "import json, sys\n"
        "from previewgate.cli.main import cli\n"
        f"for argv in {list(argvs)!r}:\n"
        "    assert cli(argv, standalone_mode=False) == 0\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    *output, modules = done.stdout.splitlines()
    return "\n".join(output), json.loads(modules)


def heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)]


def test_root_help_lists_every_command_and_imports_none() -> None:
    output, modules = run_fresh(["--help"])
    listed = output.partition("Commands:")[2].split("\n")
    assert [line.split()[0] for line in listed if line.strip()] == sorted(SUBCOMMANDS)
    assert heavy(modules) == []
    assert [m for m in modules if m.startswith("previewgate")] == [
        "previewgate",
        "previewgate.cli",
        "previewgate.cli.main",
    ]


def test_each_command_help_imports_nothing_heavy() -> None:
    output, modules = run_fresh(*([name, "--help"] for name in SUBCOMMANDS))
    assert output.count("Usage:") == len(SUBCOMMANDS)
    assert "previewgate.cli.reporting" in modules  # the commands were loaded, their help shown
    assert heavy(modules) == []


def test_lazy_map_resolves_to_commands_with_that_help() -> None:
    ctx = click.Context(cli)
    assert cli.list_commands(ctx) == sorted(SUBCOMMANDS)
    for name, (_, summary) in SUBCOMMANDS.items():
        command = cli.get_command(ctx, name)
        assert isinstance(command, click.Command), name
        assert command.name == name
        assert command.get_short_help_str(limit=sys.maxsize) == summary


@pytest.mark.parametrize(("width", "shortened"), [(60, True), (80, True), (120, False)])
def test_listing_reads_as_clicks_own(width: int, shortened: bool) -> None:
    ctx = click.Context(cli, terminal_width=width)
    lazy, loaded = ctx.make_formatter(), ctx.make_formatter()
    cli.format_commands(ctx, lazy)
    click.Group.format_commands(cli, ctx, loaded)  # click's: loads each command for its help
    assert lazy.getvalue() == loaded.getvalue()
    assert ("..." in lazy.getvalue()) == shortened


@pytest.mark.parametrize("name", ["activate", "pause", "complete"])
def test_transition_help_is_the_service_docstring(name: str) -> None:
    command = experiments.get_command(click.Context(experiments), name)
    assert command is not None
    assert command.help == (getattr(service, name).__doc__ or "").split("\n")[0]


def test_version_comes_from_the_package_metadata() -> None:
    result = CliRunner().invoke(cli, ["--version"], prog_name="previewgate")
    assert result.exit_code == 0, result.output
    assert result.output == f"previewgate, version {importlib.metadata.version('previewgate')}\n"
