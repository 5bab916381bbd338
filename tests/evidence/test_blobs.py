"""Blob store tests: every shared test runs against the folder backend and a real moto S3."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import os
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from previewgate.evidence.blobs import (
    READ_CHUNK,
    BlobStore,
    BlobStoreError,
    FolderBlobStore,
    KnownKeys,
    open_blob_store,
)
from previewgate.evidence.blobs_s3 import S3BlobStore

BAD_KEYS = [
    "",
    "../../etc/passwd",
    "../" + "a" * 61,
    "A" * 64,
    "a" * 63,
    "a" * 65,
    "g" * 64,
    " " + "a" * 63,
    "a" * 63 + "\n",
    "ab/cd/" + "a" * 58,
]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _raw_delete(store: BlobStore, key: str) -> None:
    """Remove an object behind the store's back (bypassing its known-keys cache)."""
    if isinstance(store, FolderBlobStore):
        (store.root / key[:2] / key[2:4] / key).unlink()
    else:
        assert isinstance(store, S3BlobStore)
        store._client.delete_object(Bucket=store.bucket, Key=store.prefix + key)


def _raw_exists(store: BlobStore, key: str) -> bool:
    if isinstance(store, FolderBlobStore):
        return bool((store.root / key[:2] / key[2:4] / key).is_file())
    assert isinstance(store, S3BlobStore)
    resp = store._client.list_objects_v2(Bucket=store.bucket, Prefix=store.prefix + key)
    return bool(resp.get("KeyCount", 0) > 0)


async def test_roundtrip(blob_store: BlobStore) -> None:
    data = "héllo wörld 🌍".encode()
    key = await blob_store.put_if_absent(data)
    assert key == _sha(data)
    assert await blob_store.get(key) == data
    assert await blob_store.delete(key) is True
    assert await blob_store.get(key) is None
    assert await blob_store.delete(key) is False


async def test_empty_and_binary_objects(blob_store: BlobStore) -> None:
    payloads = [b"", bytes(range(256)), os.urandom(300_000), os.urandom(2 << 20)]
    keys = [await blob_store.put_if_absent(p) for p in payloads]
    assert keys == [_sha(p) for p in payloads]
    for key, payload in zip(keys, payloads, strict=True):
        assert await blob_store.get(key) == payload


async def test_missing_key_is_none(blob_store: BlobStore) -> None:
    assert await blob_store.get("0" * 64) is None


async def test_second_put_does_no_io(blob_store: BlobStore) -> None:
    data = b"dedup me"
    key = await blob_store.put_if_absent(data)
    _raw_delete(blob_store, key)
    # The known-keys cache answers: no existence check, no write, so the object stays gone.
    assert await blob_store.put_if_absent(data) == key
    assert not _raw_exists(blob_store, key)


async def test_delete_forgets_known_key(blob_store: BlobStore) -> None:
    key = await blob_store.put_if_absent(b"x")
    assert await blob_store.delete(key)
    await blob_store.put_if_absent(b"x")
    assert _raw_exists(blob_store, key)


async def test_concurrent_puts_of_same_bytes(blob_store: BlobStore) -> None:
    data = os.urandom(10_000)
    keys = await asyncio.gather(*(blob_store.put_if_absent(data) for _ in range(8)))
    assert set(keys) == {_sha(data)}
    assert await blob_store.get(keys[0]) == data


@pytest.mark.parametrize("bad", BAD_KEYS)
async def test_invalid_key_rejected_without_io(
    blob_store: BlobStore, bad: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_io(*_: Any, **__: Any) -> Any:
        raise AssertionError("I/O attempted for an invalid key")

    with monkeypatch.context() as patch:
        patch.setattr(asyncio, "to_thread", no_io)
        with pytest.raises(ValueError):
            await blob_store.get(bad)
        with pytest.raises(ValueError):
            await blob_store.delete(bad)


async def test_iter_keys_with_ages(blob_store: BlobStore) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    keys = {await blob_store.put_if_absent(f"blob {i}".encode()) for i in range(5)}
    after = datetime.now(UTC) + timedelta(seconds=5)
    listed = [item async for item in blob_store.iter_keys()]
    assert {k for k, _ in listed} == keys
    assert len(listed) == len(keys)
    for _, modified in listed:
        assert modified.tzinfo is not None
        assert modified.utcoffset() == timedelta(0)
        assert before <= modified <= after


async def test_iter_keys_empty(blob_store: BlobStore) -> None:
    assert [item async for item in blob_store.iter_keys()] == []


# --- folder backend specifics -------------------------------------------------------------


async def test_folder_layout_and_no_temp_files_left(tmp_path: Path) -> None:
    store = FolderBlobStore(tmp_path)
    key = await store.put_if_absent(b"layout")
    assert (tmp_path / key[:2] / key[2:4] / key).read_bytes() == b"layout"
    assert os.listdir(tmp_path / key[:2] / key[2:4]) == [key]


async def test_folder_failed_write_leaves_nothing_visible(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FolderBlobStore(tmp_path)
    data = b"crash during rename"
    key = _sha(data)

    def broken_replace(*_: Any) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(BlobStoreError) as info:
        await store.put_if_absent(data)
    assert isinstance(info.value.__cause__, OSError)
    monkeypatch.undo()
    fan = tmp_path / key[:2] / key[2:4]
    assert os.listdir(fan) == []  # temp file cleaned up, nothing under the hash name
    assert await store.get(key) is None
    # Not cached as known after a failure: a retry really writes.
    assert await store.put_if_absent(data) == key
    assert await store.get(key) == data


async def test_folder_iter_keys_ignores_temp_and_stray_files(tmp_path: Path) -> None:
    store = FolderBlobStore(tmp_path)
    key = await store.put_if_absent(b"real")
    fan = tmp_path / key[:2] / key[2:4]
    (fan / f".tmp-{key}").write_bytes(b"half")  # an interrupted write from a crashed process
    (fan / ("f" * 64)).write_bytes(b"wrong dir")  # hash name that does not match its folder
    (fan / "README").write_text("hi")
    (tmp_path / "zz").mkdir()
    (tmp_path / "notes.txt").write_text("hi")
    assert [k async for k, _ in store.iter_keys()] == [key]


async def test_folder_existing_object_not_rewritten_by_new_process(tmp_path: Path) -> None:
    data = b"already there"
    key = await FolderBlobStore(tmp_path).put_if_absent(data)
    path = tmp_path / key[:2] / key[2:4] / key
    before = os.stat(path)
    await FolderBlobStore(tmp_path).put_if_absent(data)  # fresh cache: must check, not write
    after = os.stat(path)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


async def test_folder_corrupt_object_detected(tmp_path: Path) -> None:
    store = FolderBlobStore(tmp_path)
    key = await store.put_if_absent(b"original")
    (tmp_path / key[:2] / key[2:4] / key).write_bytes(b"tampered")
    with pytest.raises(BlobStoreError):
        await store.get(key)


async def test_folder_ping_creates_root_and_fails_on_file(tmp_path: Path) -> None:
    root = tmp_path / "a" / "b"
    await FolderBlobStore(root).ping()
    assert root.is_dir()
    (tmp_path / "file").write_text("not a dir")
    with pytest.raises(BlobStoreError):
        await FolderBlobStore(tmp_path / "file" / "sub").ping()


# --- S3 backend specifics -----------------------------------------------------------------


async def test_s3_existing_object_not_rewritten_by_new_process(
    moto_endpoint: str, s3_bucket: str
) -> None:
    data = b"already in s3"
    first = S3BlobStore(s3_bucket, endpoint_url=moto_endpoint)
    await first.put_if_absent(data)
    await first.close()
    store = S3BlobStore(s3_bucket, endpoint_url=moto_endpoint)
    calls: list[str] = []
    store._client.meta.events.register(
        "before-call.s3.*", lambda model, **_: calls.append(model.name)
    )
    await store.put_if_absent(data)
    await store.put_if_absent(data)
    assert calls == ["HeadObject"]  # one existence check, no PutObject, then cached
    await store.close()
    # Older than refresh_after: re-uploaded, so the GC grace period restarts.
    stale = S3BlobStore(s3_bucket, endpoint_url=moto_endpoint, refresh_after_s=0)
    calls.clear()
    stale._client.meta.events.register(
        "before-call.s3.*", lambda model, **_: calls.append(model.name)
    )
    await stale.put_if_absent(data)
    assert calls == ["HeadObject", "PutObject"]
    await stale.close()


async def test_s3_iter_keys_paginates_and_skips_foreign_objects(
    moto_endpoint: str, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = S3BlobStore(s3_bucket, prefix="ev/", endpoint_url=moto_endpoint)
    keys = {await store.put_if_absent(f"page {i}".encode()) for i in range(5)}
    client = boto3.client("s3", endpoint_url=moto_endpoint)
    client.put_object(Bucket=s3_bucket, Key="ev/not-a-hash", Body=b"x")
    client.put_object(Bucket=s3_bucket, Key="ev/sub/" + "a" * 64, Body=b"x")
    client.put_object(Bucket=s3_bucket, Key="b" * 64, Body=b"outside prefix")
    client.close()
    monkeypatch.setattr(store, "_list_sync", functools.partial(store._list_sync, max_keys=2))
    assert {k async for k, _ in store.iter_keys()} == keys
    await store.close()


async def test_s3_missing_bucket_fails_ping(moto_endpoint: str, aws_env: None) -> None:
    store = S3BlobStore("no-such-bucket-here", endpoint_url=moto_endpoint)
    with pytest.raises(BlobStoreError):
        await store.ping()
    with pytest.raises(BlobStoreError):
        await store.put_if_absent(b"data")
    await store.close()


async def test_s3_unreachable_endpoint_fails_fast(aws_env: None) -> None:
    with socket.socket() as sock:  # grab a free port, then close it: connection refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = open_blob_store(f"s3://bucket?endpoint_url=http://127.0.0.1:{port}")
    start = time.monotonic()
    with pytest.raises(BlobStoreError):
        await store.ping()
    with pytest.raises(BlobStoreError):
        await store.put_if_absent(b"data")
    with pytest.raises(BlobStoreError):
        await store.get("a" * 64)
    with pytest.raises(BlobStoreError):
        _ = [item async for item in store.iter_keys()]
    assert time.monotonic() - start < 10
    await store.close()


async def test_s3_hung_endpoint_times_out(aws_env: None) -> None:
    with socket.socket() as listener:  # accepts connections (backlog) but never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        store = S3BlobStore("bucket", endpoint_url=f"http://127.0.0.1:{port}", read_timeout_s=0.5)
        start = time.monotonic()
        with pytest.raises(BlobStoreError):
            await store.put_if_absent(b"data")
        assert time.monotonic() - start < 5
        await store.close()


# --- URL factory and helpers ---------------------------------------------------------------


async def test_open_folder_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cases = {
        f"file://{tmp_path}/abs": tmp_path / "abs",
        f"file://localhost{tmp_path}/host": tmp_path / "host",
        "file://./rel/dir": Path("./rel/dir"),
        f"{tmp_path}/plain": tmp_path / "plain",
        "plain-rel": Path("plain-rel"),
        f"file://{tmp_path}/with%20space": tmp_path / "with space",
    }
    for url, expected in cases.items():
        store = open_blob_store(url)
        assert isinstance(store, FolderBlobStore)
        assert store.root == expected
        key = await store.put_if_absent(url.encode())
        assert await store.get(key) == url.encode()
    assert (tmp_path / "rel" / "dir").is_dir()


async def test_open_s3_url_roundtrip(moto_endpoint: str, s3_bucket: str) -> None:
    store = open_blob_store(f"s3://{s3_bucket}?endpoint_url={moto_endpoint}&prefix=x/&region=eu")
    assert isinstance(store, S3BlobStore)
    assert store.prefix == "x/"
    key = await store.put_if_absent(b"via url")
    assert await store.get(key) == b"via url"
    await store.close()
    path_style = open_blob_store(f"s3://{s3_bucket}/x/?endpoint_url={moto_endpoint}")
    assert isinstance(path_style, S3BlobStore)
    assert path_style.prefix == "x/"
    assert await path_style.get(key) == b"via url"
    await path_style.close()


@pytest.mark.parametrize(
    "url",
    [
        "",
        "   ",
        "ftp://host/x",
        "http://example/blobs",
        "file://otherhost/x",
        "file:relative",
        "file:///x?y=1",
        "s3://",
        "s3:///prefix",
        "s3://b?unknown=1",
        "s3://b?region=a&region=b",
        "s3://b/p/?prefix=q/",
        "s3://b?addressing_style=sideways",
        "s3://b?endpoint_url=ftp://host",
        "s3://b#frag",
    ],
)
def test_open_bad_urls(url: str) -> None:
    with pytest.raises(ValueError):
        open_blob_store(url)


def test_known_keys_is_bounded_lru_with_expiry() -> None:
    now = time.time()
    known = KnownKeys(max_size=2, max_age_s=60)
    known.add("a", now)
    known.add("b", now)
    assert "a" in known  # touching "a" makes "b" the oldest
    known.add("c", now)
    assert "b" not in known
    assert "a" in known and "c" in known
    assert len(known) == 2
    known.discard("a")
    known.discard("missing")
    assert "a" not in known
    known.add("old", now - 61)  # stored long ago: must be re-checked, another process may GC it
    assert "old" not in known


async def test_known_key_expires_and_is_rechecked(blob_store: BlobStore) -> None:
    assert isinstance(blob_store, FolderBlobStore | S3BlobStore)
    blob_store._known = KnownKeys(max_age_s=0)  # every entry already stale
    key = await blob_store.put_if_absent(b"gc'd by someone else")
    _raw_delete(blob_store, key)
    await blob_store.put_if_absent(b"gc'd by someone else")
    assert _raw_exists(blob_store, key)


async def test_folder_reuse_of_old_object_touches_it(tmp_path: Path) -> None:
    data = b"system prompt used for months"
    key = await FolderBlobStore(tmp_path).put_if_absent(data)
    path = tmp_path / key[:2] / key[2:4] / key
    old = time.time() - 30 * 86400
    os.utime(path, (old, old))
    inode = os.stat(path).st_ino
    store = FolderBlobStore(tmp_path, refresh_after_s=3600)
    await store.put_if_absent(data)
    assert os.stat(path).st_ino == inode  # touched, not rewritten
    assert time.time() - os.stat(path).st_mtime < 60  # GC grace period restarts now
    [(_, modified)] = [item async for item in store.iter_keys()]
    assert datetime.now(UTC) - modified < timedelta(seconds=60)


async def test_named_objects_roundtrip_overwrite_and_stay_out_of_gc(blob_store: BlobStore) -> None:
    name = "partner/0b4c/traces/2026-12-01/session-1.jsonl.gz"
    assert await blob_store.get_named(name) is None
    await blob_store.put_named(name, b"first")
    await blob_store.put_named(name, b"second")
    assert await blob_store.get_named(name) == b"second"
    key = await blob_store.put_if_absent(b"content")
    # The GC walks content-addressed keys only: an export file is never a candidate.
    assert [k async for k, _ in blob_store.iter_keys()] == [key]
    assert await blob_store.delete_named(name) is True
    assert await blob_store.delete_named(name) is False
    assert await blob_store.get_named(name) is None


@pytest.mark.parametrize(
    "name",
    ["", "/abs", "a//b", "../up", "a/../b", "ab/cd/x", "a b", "ok/\x00", "é", "x/" + "y" * 201],
)
async def test_named_objects_refuse_unsafe_names(blob_store: BlobStore, name: str) -> None:
    with pytest.raises(ValueError):
        await blob_store.put_named(name, b"x")
    with pytest.raises(ValueError):
        await blob_store.get_named(name)


async def _read(store: BlobStore, name: str, start: int, length: int) -> bytes | None:
    chunks = await store.read_named(name, start, length)
    if chunks is None:
        return None
    return b"".join([chunk async for chunk in chunks])


async def test_named_objects_read_in_ranges_and_chunks(blob_store: BlobStore) -> None:
    name = f"partner/{uuid.uuid4()}/traces/2026-01-01/big.jsonl.gz"
    data = os.urandom(READ_CHUNK * 2 + 1234)
    assert await blob_store.read_named(name, 0, 10) is None
    await blob_store.put_named(name, data)
    chunks = await blob_store.read_named(name, 0, len(data))
    assert chunks is not None
    sizes = [len(chunk) async for chunk in chunks]
    assert sum(sizes) == len(data) and max(sizes) <= READ_CHUNK and len(sizes) >= 3
    assert await _read(blob_store, name, 0, len(data)) == data
    assert await _read(blob_store, name, 5, 100) == data[5:105]
    assert await _read(blob_store, name, len(data) - 7, 7) == data[-7:]
    assert (
        await _read(blob_store, name, READ_CHUNK - 3, READ_CHUNK + 9)
        == (data[READ_CHUNK - 3 : 2 * READ_CHUNK + 6])
    )
    assert await _read(blob_store, name, 0, 0) == b""
