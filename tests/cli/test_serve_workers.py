"""`previewgate serve --workers 2` as a real process tree: load spread, invalidation, exits."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from previewgate.cli.main import cli
from tests.conftest import REDIS_URL
from tests.support.faults import wait_until
from tests.support.workers import MODEL, Gateway, TwoWorkerGateways, cmdline

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

UPSTREAM = '{"internal_id": "m", "base_url": "http://127.0.0.1:9/v1"}'


@pytest.fixture
def store_env(
    database_url: str, encryption_key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """The test's store, also set here for the in-process CLI that seeds it."""
    env = {
        "PREVIEWGATE_DATABASE_URL": database_url,
        "PREVIEWGATE_ENCRYPTION_KEY": encryption_key,
        "PREVIEWGATE_DATA_DIR": str(tmp_path / "data"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def start_gateway(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], Gateway]]:
    """Two-worker gateways told of changes by Redis alone (no generation poll in the test)."""
    gateways = TwoWorkerGateways(tmp_path)
    yield lambda store: gateways.start(store, redis_url=REDIS_URL, poll_s=600)
    gateways.stop_all()


def _seed() -> str:
    """An admin and one model; returns the admin's API key."""
    runner = CliRunner()
    made = runner.invoke(cli, ["users", "create", "ops@example.com", "--admin"])
    assert made.exit_code == 0, made.output
    added = runner.invoke(cli, ["models", "add", MODEL, "--upstream", UPSTREAM, "--name", "v1"])
    assert added.exit_code == 0, added.output
    return made.output.strip().splitlines()[-1]


def test_catalog_change_reaches_every_worker(
    store_env: dict[str, str], start_gateway: Callable[[dict[str, str]], Gateway]
) -> None:
    # store_env comes first: its database is dropped after the gateway has stopped.
    admin_key = _seed()
    gateway = start_gateway(store_env)
    pinned = gateway.connect_to_each_worker()
    assert sorted(pinned) == sorted(gateway.workers)
    editor, *others = workers = list(pinned.values())
    # A worker is subscribed once it has reloaded a second time: the listener wakes the
    # reloader right after SUBSCRIBE (the first reload is at startup).
    for w in workers:
        wait_until(
            lambda w=w: w.metric("previewgate_cache_reloads_total") >= 2, what="subscription"
        )
    assert [w.model_name() for w in workers] == ["v1"] * len(workers)
    heard = [w.metric("previewgate_cache_invalidations_total") for w in workers]

    status, body = editor.request(
        "PATCH", f"/admin/api/models/{MODEL}", {"display_name": "v2"}, key=admin_key
    )
    assert status == 200, body

    for w in others:  # told only by Redis: the TTL is ten minutes
        wait_until(
            lambda w=w: w.model_name() == "v2", timeout=5, what=f"worker {w.worker} to serve it"
        )
    assert editor.model_name() == "v2"
    after = [w.metric("previewgate_cache_invalidations_total") for w in workers]
    assert all(a > b for a, b in zip(after, heard, strict=True)), (heard, after)

    for w in workers:
        w.close()
    gateway.stop()
    assert gateway.proc.returncode == 0, gateway.log()
    assert not any(cmdline(pid) for pid in gateway.workers), "a worker outlived the parent"


def test_a_dead_worker_stops_the_gateway(
    start_gateway: Callable[[dict[str, str]], Gateway], tmp_path: Path
) -> None:
    # Supervision does not depend on the store: embedded defaults, one run.
    gateway = start_gateway({"PREVIEWGATE_DATA_DIR": str(tmp_path / "data")})
    survivor, victim = gateway.connect_to_each_worker()  # both serving
    os.kill(victim, signal.SIGKILL)
    assert gateway.wait() == 1, gateway.log()
    assert f"worker {victim} exited (status -9); stopping the gateway" in gateway.log()
    assert not cmdline(survivor), "the other worker outlived the parent"
