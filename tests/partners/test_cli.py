"""`previewgate partners ...` against a real store: the same service as the REST API."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from previewgate.cli.main import cli

UPSTREAM = '{"internal_id": "rc-a", "base_url": "http://127.0.0.1:9/v1"}'


@pytest.fixture
def runner(
    database_url: str, encryption_key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> CliRunner:
    monkeypatch.setenv("PREVIEWGATE_DATABASE_URL", database_url)
    monkeypatch.setenv("PREVIEWGATE_ENCRYPTION_KEY", encryption_key)
    monkeypatch.setenv("PREVIEWGATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PG_SLOT_KEY", "sk-slot-key-0123456789")
    return CliRunner()


def _ok(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_partners_from_the_command_line(runner: CliRunner) -> None:
    _ok(runner, "users", "create", "eng@acme.example")
    assert "created partner acme" in _ok(runner, "partners", "create", "acme", "--name", "Acme")
    refused = runner.invoke(cli, ["partners", "create", "acme", "--name", "again"])
    assert refused.exit_code != 0 and "exists" in refused.output
    _ok(runner, "partners", "rename", "acme", "--name", "Acme Labs")
    listed = _ok(runner, "partners", "list")
    assert "acme" in listed and "Acme Labs" in listed
    _ok(runner, "partners", "add-member", "acme", "eng@acme.example", "--role", "admin")

    _ok(runner, "models", "add", "acme/preview", "--kind", "preview")
    made = _ok(runner, "experiments", "create", "acme/preview", "--name", "bake-off")
    experiment_id = made.strip().split()[-1]  # the id is printed last
    _ok(
        runner,
        "experiments",
        "add-variant",
        experiment_id,
        "rc-a",
        "--weight",
        "1",
        "--upstream",
        UPSTREAM,
        "--api-key-env",
        "PG_SLOT_KEY",
    )
    assert "belongs to acme" in _ok(
        runner, "partners", "assign-slot", experiment_id, "rc-a", "acme"
    )
    shown = _ok(runner, "experiments", "show", experiment_id)
    assert '"partner_id": null' not in shown

    missing = runner.invoke(cli, ["partners", "assign-slot", experiment_id, "rc-a", "nobody"])
    assert missing.exit_code != 0 and "does not exist" in missing.output
    _ok(runner, "partners", "remove-member", "acme", "eng@acme.example")
    _ok(runner, "partners", "delete", "acme", "--yes")
    assert "acme" not in _ok(runner, "partners", "list")
    shown = _ok(runner, "experiments", "show", experiment_id)
    assert '"partner_id": null' in shown
