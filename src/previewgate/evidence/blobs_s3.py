"""S3-compatible blob store backend (AWS S3, Cloudflare R2, MinIO).

Uses only PutObject, HeadObject, GetObject, DeleteObject and ListObjectsV2 so it runs on any
S3-compatible service. boto3 is blocking, so each call runs via `asyncio.to_thread`; one client
per store is shared across threads (boto3 clients are thread-safe). The bucket must exist.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from previewgate.evidence.blobs import (
    DEFAULT_REFRESH_AFTER_S,
    READ_CHUNK,
    BlobStoreError,
    KnownKeys,
    is_key,
    sha256_hex_async,
    validate_key,
    validate_name,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_T = TypeVar("_T")
AddressingStyle = Literal["auto", "path", "virtual"]
_NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound"})


async def _no_bytes() -> AsyncIterator[bytes]:
    return
    yield


def _is_not_found(exc: ClientError) -> bool:
    err: Any = exc.response.get("Error", {})
    return str(err.get("Code", "")) in _NOT_FOUND_CODES


class S3BlobStore:
    """Blobs as objects `<prefix><sha256>` in one bucket.

    Timeouts are short and retries few (defaults: connect 3 s, read 5 s, 2 attempts in all) so
    an unreachable store fails within seconds instead of stalling the background writer.
    A single PutObject is atomic, so no partial object is ever visible. Integrity: ContentMD5
    on every put (understood by every S3-compatible service) instead of botocore's newer
    default trailing CRC checksums, which some S3-compatible services reject.
    """

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        addressing_style: AddressingStyle | None = None,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        aws_session_token: str | None = None,
        connect_timeout_s: float = 3.0,
        read_timeout_s: float = 5.0,
        max_attempts: int = 2,
        known_keys_max: int = 100_000,
        refresh_after_s: float = DEFAULT_REFRESH_AFTER_S,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self._refresh_after = refresh_after_s
        # Custom endpoints (MinIO, R2, moto) are most reliably addressed path-style.
        style: AddressingStyle = addressing_style or ("path" if endpoint_url else "auto")
        config = Config(
            connect_timeout=connect_timeout_s,
            read_timeout=read_timeout_s,
            retries={"max_attempts": max_attempts, "mode": "standard"},
            s3={"addressing_style": style},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        try:
            session = boto3.session.Session(
                aws_access_key_id=aws_access_key_id,
                aws_secret_access_key=aws_secret_access_key,
                aws_session_token=aws_session_token,
                region_name=region,
            )
            self._client: S3Client = session.client("s3", endpoint_url=endpoint_url, config=config)
        except (BotoCoreError, ValueError) as exc:
            raise BlobStoreError(f"cannot create S3 client: {exc}") from exc
        self._known = KnownKeys(known_keys_max, refresh_after_s)

    async def _run(self, fn: Callable[[], _T]) -> _T:
        try:
            return await asyncio.to_thread(fn)
        except (BotoCoreError, ClientError, OSError, TimeoutError) as exc:
            raise BlobStoreError(f"S3 blob store bucket {self.bucket!r}: {exc}") from exc

    def _modified_sync(self, s3key: str) -> float | None:
        """The object's LastModified (epoch s), or None if it does not exist."""
        try:
            head = self._client.head_object(Bucket=self.bucket, Key=s3key)
        except ClientError as exc:
            if _is_not_found(exc):
                return None
            raise
        return head["LastModified"].timestamp()

    async def put_if_absent(self, data: bytes) -> str:
        key = await sha256_hex_async(data)
        if key in self._known:
            return key
        modified = await self._run(lambda: self._put_sync(self.prefix + key, data))
        self._known.add(key, modified)
        return key

    def _put_sync(self, s3key: str, data: bytes) -> float:
        """Make sure the object exists with a fresh LastModified; return that time."""
        modified = self._modified_sync(s3key)
        if modified is not None and time.time() - modified < self._refresh_after:
            return modified
        # Absent, or re-used after refresh_after: S3 has no "touch" among the calls we allow,
        # so re-upload the same bytes to restart its GC grace period.
        started = time.time()
        self._upload_sync(s3key, data)
        return started

    def _upload_sync(self, s3key: str, data: bytes) -> None:
        md5 = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
        self._client.put_object(
            Bucket=self.bucket,
            Key=s3key,
            Body=data,
            ContentMD5=md5,
            ContentType="application/octet-stream",
        )

    async def get(self, sha256: str) -> bytes | None:
        s3key = self.prefix + validate_key(sha256)
        data = await self._run(lambda: self._get_sync(s3key))
        if data is not None and await sha256_hex_async(data) != sha256:
            raise BlobStoreError(f"blob {sha256} is corrupt (content hash mismatch)")
        return data

    def _get_sync(self, s3key: str) -> bytes | None:
        try:
            resp = self._client.get_object(Bucket=self.bucket, Key=s3key)
        except ClientError as exc:
            if _is_not_found(exc):
                return None
            raise
        body = resp["Body"]
        try:
            return body.read()
        finally:
            body.close()

    async def delete(self, sha256: str) -> bool:
        s3key = self.prefix + validate_key(sha256)
        self._known.discard(sha256)
        return await self._run(lambda: self._delete_sync(s3key))

    def _delete_sync(self, s3key: str) -> bool:
        # DeleteObject succeeds whether or not the key exists, so ask first to report it.
        if self._modified_sync(s3key) is None:
            return False
        self._client.delete_object(Bucket=self.bucket, Key=s3key)
        return True

    async def put_named(self, name: str, data: bytes) -> None:
        s3key = self.prefix + validate_name(name)
        await self._run(lambda: self._upload_sync(s3key, data))

    async def get_named(self, name: str) -> bytes | None:
        s3key = self.prefix + validate_name(name)
        return await self._run(lambda: self._get_sync(s3key))

    async def delete_named(self, name: str) -> bool:
        s3key = self.prefix + validate_name(name)
        return await self._run(lambda: self._delete_sync(s3key))

    async def read_named(self, name: str, start: int, length: int) -> AsyncIterator[bytes] | None:
        s3key = self.prefix + validate_name(name)
        if length <= 0:  # no byte range to ask for: only whether the object exists
            exists = await self._run(lambda: self._modified_sync(s3key)) is not None
            return _no_bytes() if exists else None
        body = await self._run(lambda: self._open_range_sync(s3key, start, length))
        return None if body is None else self._chunks(body)

    def _open_range_sync(self, s3key: str, start: int, length: int) -> Any:
        try:
            resp = self._client.get_object(
                Bucket=self.bucket, Key=s3key, Range=f"bytes={start}-{start + length - 1}"
            )
        except ClientError as exc:
            if _is_not_found(exc):
                return None
            raise
        return resp["Body"]

    async def _chunks(self, body: Any) -> AsyncIterator[bytes]:
        try:
            while chunk := await self._run(functools.partial(body.read, READ_CHUNK)):
                yield chunk
        finally:
            body.close()

    async def iter_keys(self) -> AsyncIterator[tuple[str, datetime]]:
        token: str | None = None
        while True:
            page = await self._run(functools.partial(self._list_sync, token))
            for obj in page.get("Contents", []):
                name = obj.get("Key", "")[len(self.prefix) :]
                modified = obj.get("LastModified")
                # Other objects sharing the bucket/prefix (or nested "dirs") are not ours.
                if is_key(name) and modified is not None:
                    yield name, modified.astimezone(UTC)
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return

    def _list_sync(self, token: str | None, max_keys: int = 1000) -> Any:
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self.prefix}
        if token:
            kwargs["ContinuationToken"] = token
        return self._client.list_objects_v2(MaxKeys=max_keys, **kwargs)

    async def ping(self) -> None:
        # ListObjectsV2 checks reachability, credentials and bucket existence in one call.
        await self._run(lambda: self._list_sync(None, max_keys=1))

    async def close(self) -> None:
        await asyncio.to_thread(self._client.close)
