"""`previewgate experiments ...` against a real store: same rules as the API, keys never in argv."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from previewgate.cli.main import cli
from previewgate.crypto import KeyCipher
from previewgate.experiments.models import Variant, VariantVersion
from previewgate.store.engine import create_engine, session_factory

PUBLIC_ID = "acme/preview-cli"
ENV_KEY = "sk-from-env-5e1f"
STDIN_KEY = "sk-from-stdin-77aa"
ROTATED_KEY = "sk-rotated-0b0b"


@pytest.fixture
def env(
    database_url: str, encryption_key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    monkeypatch.setenv("PREVIEWGATE_DATABASE_URL", database_url)
    monkeypatch.setenv("PREVIEWGATE_ENCRYPTION_KEY", encryption_key)
    monkeypatch.setenv("PREVIEWGATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PARTNER_KEY", ENV_KEY)
    return database_url


def run(*args: str, ok: bool = True, stdin: str | None = None) -> Result:
    result = CliRunner().invoke(cli, list(args), input=stdin)
    assert (result.exit_code == 0) is ok, result.output
    return result


def upstream(internal_id: str) -> str:
    return json.dumps({"internal_id": internal_id, "base_url": "http://127.0.0.1:9/v1"})


async def stored_keys(url: str, encryption_key: str) -> dict[str, list[str]]:
    """label -> decrypted keys of its versions, oldest first."""
    cipher = KeyCipher(base64.b64decode(encryption_key))
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            rows = await session.execute(
                select(Variant.label, VariantVersion.encrypted_api_key)
                .join(Variant, Variant.id == VariantVersion.variant_id)
                .order_by(VariantVersion.effective_at, VariantVersion.id)
            )
            out: dict[str, list[str]] = {}
            for label, sealed in rows:
                out.setdefault(label, []).append(cipher.decrypt(sealed))
            return out
    finally:
        await engine.dispose()


def test_cli_lifecycle(env: str, encryption_key: str) -> None:
    run("models", "add", PUBLIC_ID, "--kind", "preview", "--disclosure", "Kept 30 days.")
    exp_id = run("experiments", "create", PUBLIC_ID, "--name", "cli run").output.split()[-1]
    add = ("experiments", "add-variant", exp_id)
    run(*add, "A", "--upstream", upstream("rc-a"), "--api-key-env", "PARTNER_KEY")
    run(*add, "B", "--weight", "3", "--upstream", upstream("rc-b"), "--api-key-stdin",
        stdin=STDIN_KEY + "\n")  # fmt: skip
    missing = run(*add, "C", "--upstream", upstream("rc-c"), ok=False)
    assert "exactly one of --api-key-env NAME or --api-key-stdin" in missing.output
    bad = run(*add, "C", "--upstream", '{"internal_id": "x"}', "--api-key-env", "PARTNER_KEY",
              ok=False)  # fmt: skip
    assert "base_url" in bad.output and ENV_KEY not in bad.output

    assert "is now active" in run("experiments", "activate", exp_id).output
    refused = run(*add, "C", "--upstream", upstream("rc-c"), "--api-key-env", "PARTNER_KEY",
                  ok=False)  # fmt: skip
    assert "structural edits (add/remove variant, change weight) are allowed only in draft" in (
        refused.output
    )
    run("experiments", "swap", exp_id, "A", "--upstream", upstream("rc-a2"),
        "--api-key-env", "PARTNER_KEY")  # fmt: skip
    run("experiments", "rotate-key", exp_id, "A", "--api-key-stdin", stdin=ROTATED_KEY)

    listing = run("experiments", "list").output
    assert exp_id in listing and "active" in listing and PUBLIC_ID in listing
    assert run("experiments", "list", "--archived").output.strip() == ""
    assert exp_id in run("experiments", "list", "--status", "active").output
    shown = run("experiments", "show", exp_id).output
    view: dict[str, Any] = json.loads(shown)
    assert {v["label"]: v["share"] for v in view["variants"]} == {"A": 0.25, "B": 0.75}
    [slot_a] = [v for v in view["variants"] if v["label"] == "A"]
    assert [v["internal_id"] for v in slot_a["versions"]] == ["rc-a", "rc-a2", "rc-a2"]
    for needle in (ENV_KEY, STDIN_KEY, ROTATED_KEY, "encrypted_api_key", "auth_tag"):
        assert needle not in shown + listing

    # Keys from env and stdin land encrypted, exactly as given (minus the newline).
    assert asyncio.run(stored_keys(env, encryption_key)) == {
        "A": [ENV_KEY, ENV_KEY, ROTATED_KEY],
        "B": [STDIN_KEY],
    }
    assert "is now paused" in run("experiments", "pause", exp_id).output
    assert "archived" in run("experiments", "archive", exp_id).output
    archived = run("experiments", "activate", exp_id, ok=False).output
    assert "unarchive it first" in archived
    run("experiments", "archive", exp_id, "--undo")
    assert "is now completed" in run("experiments", "complete", exp_id).output
    terminal = run("experiments", "activate", exp_id, ok=False).output
    assert "completed is a terminal status" in terminal


BAD_KEYS = {"sk-ключ": "ключ", "sk-a\r\nX-Evil: 1": "X-Evil", "sk-secret part": "secret part"}


def test_cli_refuses_bad_partner_keys_from_env_and_stdin(
    env: str, encryption_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    run("models", "add", PUBLIC_ID, "--kind", "preview")
    exp_id = run("experiments", "create", PUBLIC_ID, "--name", "keys").output.split()[-1]
    add = ("experiments", "add-variant", exp_id)
    run(*add, "A", "--upstream", upstream("rc-a"), "--api-key-env", "PARTNER_KEY")
    for key, fragment in BAD_KEYS.items():
        monkeypatch.setenv("BAD_KEY", key)
        refusals = [
            run(*add, "B", "--upstream", upstream("rc-b"), "--api-key-env", "BAD_KEY", ok=False),
            run(*add, "B", "--upstream", upstream("rc-b"), "--api-key-stdin", stdin=key,
                ok=False),
            run("experiments", "swap", exp_id, "A", "--upstream", upstream("rc-a2"),
                "--api-key-env", "BAD_KEY", ok=False),
            run("experiments", "swap", exp_id, "A", "--upstream", upstream("rc-a2"),
                "--api-key-stdin", stdin=key + "\n", ok=False),
            run("experiments", "rotate-key", exp_id, "A", "--api-key-stdin", stdin=key,
                ok=False),
            run("experiments", "rotate-key", exp_id, "A", "--api-key-env", "BAD_KEY", ok=False),
        ]  # fmt: skip
        for result in refusals:
            assert result.exit_code == 1, result.output
            assert "the partner key contains" in result.output, result.output
            assert fragment not in result.output
    # Blank input is refused before it reaches the rule.
    monkeypatch.setenv("BAD_KEY", " ")
    blank = run("experiments", "rotate-key", exp_id, "A", "--api-key-env", "BAD_KEY", ok=False)
    assert "unset or empty" in blank.output
    blank = run("experiments", "rotate-key", exp_id, "A", "--api-key-stdin", stdin=" \n", ok=False)
    assert "no key on stdin" in blank.output
    # Only the first, good key was ever stored.
    assert asyncio.run(stored_keys(env, encryption_key)) == {"A": [ENV_KEY]}
