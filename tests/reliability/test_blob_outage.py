"""The S3 blob store goes away mid-run (a real moto server, stopped) and comes back.

Complements tests/evidence/test_attribution.py (store down from the start): here the
store works, then its server stops, then it starts again on the same port.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer

from previewgate.evidence.models import FAILED
from tests.evidence.test_attribution import body, rows
from tests.reliability.helpers import URL, machine
from tests.support.experiments import admin_client, create_preview_model, start_experiment
from tests.support.faults import port_open, wait_until
from tests.support.servers import MockServer, free_port

BUCKET = "evidence-outage"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Dummy credentials; keep a developer's real AWS config out of the test."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)


class Moto:
    """A moto S3 server on a fixed port, so it can stop and start again at the same address."""

    def __init__(self) -> None:
        self.port = free_port()
        self.server: ThreadedMotoServer | None = None
        self.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()
        wait_until(lambda: port_open(self.port), what="moto to listen")

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
        wait_until(lambda: not port_open(self.port), what="moto to stop listening")


@pytest.fixture
def moto(aws_env: None) -> Iterator[Moto]:
    server = Moto()
    client = boto3.client("s3", endpoint_url=server.endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    client.close()
    yield server
    server.stop()


def test_s3_goes_away_mid_run_and_returns(
    moto: Moto, make_gateway: Any, settings: Any, mocks: list[MockServer]
) -> None:
    url = f"s3://{BUCKET}?endpoint_url={moto.endpoint}&region=us-east-1"
    gw = make_gateway(settings.replace(blob_url=url))
    admin = admin_client(gw)
    create_preview_model(admin)
    start_experiment(admin, mocks[:2])

    def ask(n: int) -> None:
        # Unique prompts and replies, so no side is already known to the store's key cache.
        for mock in mocks[:2]:
            mock.upstream.reply = f"reply number {n}"
        r = httpx.post(f"{gw.base_url}{URL}", json=body(f"question {n}"), headers=machine("b"))
        assert r.status_code == 200, r.text
        gw.flush()

    ask(1)
    moto.stop()
    ask(2)
    moto.start()  # moto keeps its objects in process memory: the bucket is still there
    ask(3)
    landed = rows(gw)
    assert len(landed) == 3
    hashes = [(r.system_prompt_sha256, r.request_body_sha256, r.response_sha256) for r, _ in landed]
    assert all(len(h) == 64 for h in hashes[0]), hashes[0]
    # The system prompt was stored before the outage, so the store's key cache knows it.
    assert hashes[1][1:] == (FAILED, FAILED), hashes[1]
    assert all(len(h) == 64 for h in hashes[2]), hashes[2]
    assert [u.status_code for _, u in landed] == [200, 200, 200]
    stored = gw.call(lambda rt: rt.blobs.get(hashes[2][2]))
    assert stored is not None and b"reply number 3" in stored
