"""Fixtures for evidence tests: a real S3-compatible HTTP endpoint (moto server) on loopback."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from previewgate.evidence.blobs import BlobStore, FolderBlobStore
from previewgate.evidence.blobs_s3 import S3BlobStore

REGION = "us-east-1"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """Start moto in server mode on 127.0.0.1 with an OS-chosen port for the whole session."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Dummy credentials; keep a developer's real ~/.aws config out of the tests."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def s3_bucket(moto_endpoint: str, aws_env: None) -> str:
    """A fresh bucket per test so tests never see each other's objects."""
    name = f"evidence-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name=REGION)
    client.create_bucket(Bucket=name)
    client.close()
    return name


@pytest.fixture(params=["folder", "s3"])
async def blob_store(
    request: pytest.FixtureRequest, tmp_path: Path, moto_endpoint: str, aws_env: None
) -> AsyncIterator[BlobStore]:
    """The same tests run against the folder backend and a real S3 endpoint."""
    store: BlobStore
    if request.param == "folder":
        store = FolderBlobStore(tmp_path / "blobs")
    else:
        bucket = request.getfixturevalue("s3_bucket")
        store = S3BlobStore(bucket, prefix="blobs/", endpoint_url=moto_endpoint, region=REGION)
    await store.ping()
    try:
        yield store
    finally:
        await store.close()
