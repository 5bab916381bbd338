"""The `previewgate` CLI against a real store."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from previewgate.accounts.models import ApiKey, User
from previewgate.cli.main import cli
from previewgate.crypto import hash_api_key
from previewgate.store.engine import create_engine, session_factory


@pytest.fixture
def env(database_url: str, encryption_key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PREVIEWGATE_DATABASE_URL", database_url)
    monkeypatch.setenv("PREVIEWGATE_ENCRYPTION_KEY", encryption_key)
    monkeypatch.setenv("PREVIEWGATE_DATA_DIR", str(tmp_path / "data"))
    return database_url


async def _users(url: str) -> list[tuple[User, list[ApiKey]]]:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            users = list(await session.scalars(select(User)))
            return [
                (u, list(await session.scalars(select(ApiKey).where(ApiKey.user_id == u.id))))
                for u in users
            ]
    finally:
        await engine.dispose()


def test_users_and_keys(env: str) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["users", "create", "Ops@Example.com", "--admin"])
    assert result.exit_code == 0, result.output
    first_key = result.output.strip().splitlines()[-1]
    result = runner.invoke(cli, ["keys", "create", "ops@example.com"])
    assert result.exit_code == 0, result.output
    second_key = result.output.strip().splitlines()[-1]
    [(user, keys)] = asyncio.run(_users(env))
    assert user.email == "ops@example.com" and user.is_admin
    # Stored hashed: the plaintext is nowhere in the rows.
    assert {k.hash for k in keys} == {hash_api_key(first_key), hash_api_key(second_key)}
    assert all(first_key not in (k.hash + k.prefix) for k in keys)
    result = runner.invoke(cli, ["users", "create", "ops@example.com"])
    assert result.exit_code != 0 and "already exists" in result.output
    result = runner.invoke(cli, ["users", "credit", "ops@example.com", "2.5"])
    assert result.exit_code == 0 and "2.500000 USD" in result.output


def test_models_add_reads_key_from_env(env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UPSTREAM_KEY", "sk-cli-secret")
    runner = CliRunner()
    result = runner.invoke(
        cli,
        [
            "models",
            "add",
            "demo/cli",
            "--upstream",
            '{"internal_id": "m", "base_url": "http://127.0.0.1:9/v1"}',
            "--api-key-env",
            "UPSTREAM_KEY",
        ],
    )
    assert result.exit_code == 0, result.output
    listing = runner.invoke(cli, ["models", "list"])
    header, _, row = listing.output.splitlines()
    assert header.split() == ["id", "kind", "key", "in", "$/M", "out", "$/M", "upstream"]
    assert row.split()[:3] == ["demo/cli", "production", "configured"]
    assert "sk-cli-secret" not in listing.output
    bad = runner.invoke(cli, ["models", "add", "demo/bad", "--upstream", '{"internal_id": "m"}'])
    assert bad.exit_code != 0 and "base_url" in bad.output


def test_models_add_refuses_a_bad_key_without_echoing_it(
    env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    upstream = '{"internal_id": "m", "base_url": "http://127.0.0.1:9/v1"}'
    runner = CliRunner()
    for key, fragment in (("sk-ключ", "ключ"), ("sk-a\r\nX-Evil: 1", "X-Evil"), ("sk-a b", "a b")):
        monkeypatch.setenv("UPSTREAM_KEY", key)
        args = ["models", "add", "demo/bad-key", "--upstream", upstream, "--api-key-env"]
        result = runner.invoke(cli, [*args, "UPSTREAM_KEY"])
        assert result.exit_code == 1, result.output
        assert "invalid model: api_key:" in result.output and "partner key" in result.output
        assert fragment not in result.output
    monkeypatch.setenv("UPSTREAM_KEY", " ")
    result = runner.invoke(cli, [*args, "UPSTREAM_KEY"])
    assert result.exit_code == 1 and "unset or empty" in result.output
    result = runner.invoke(cli, [*args, "NO_SUCH_VARIABLE_SET"])
    assert result.exit_code == 1 and "unset or empty" in result.output
    assert "demo/bad-key" not in runner.invoke(cli, ["models", "list"]).output


def test_serve_refuses_an_unmigrated_database(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if backend != "postgresql":
        pytest.skip("embedded SQLite migrates itself; the refusal is for production stores")
    from tests.conftest import PG_ADMIN_DSN, _pg_admin, _pg_url

    name = "pgtest_unmigrated_" + tmp_path.name[-8:].replace("-", "_")
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    try:
        monkeypatch.setenv("PREVIEWGATE_DATABASE_URL", _pg_url(PG_ADMIN_DSN, name))
        result = CliRunner().invoke(cli, ["serve"])
        assert result.exit_code != 0
        assert "previewgate migrate" in result.output
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
