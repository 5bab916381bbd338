"""Content-addressed blob store: objects are keyed by the sha256 hex of their exact bytes.

Two backends share one async interface (`BlobStore`):

* `FolderBlobStore` - a local directory, fanned out as ``ab/cd/abcd...``.
* `S3BlobStore` (module `blobs_s3`) - any S3-compatible service (AWS S3, Cloudflare R2,
  MinIO), using only PutObject / HeadObject / GetObject / DeleteObject / ListObjectsV2.

`open_blob_store(url)` picks the backend from a URL; see its docstring for accepted forms.
Every backend failure surfaces as `BlobStoreError`; invalid keys raise `ValueError` before any
I/O so a key can never be used for path traversal.

Garbage-collector contract: `iter_keys` reports each object's last-modified time, and every
`put_if_absent` leaves the object with a last-modified time less than `refresh_after_s`
(default 1 h) old - a dedup hit on an older object touches it (folder) or re-uploads it (S3).
So a GC that deletes only unreferenced objects older than a grace period comfortably longer
than `refresh_after_s` never deletes a blob that a row is about to reference. The in-memory
"already stored" cache trusts an entry for the same window only, so a deletion by another
process (the GC) is noticed within `refresh_after_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import os
import re
import tempfile
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Protocol, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = [
    "BlobStore",
    "BlobStoreError",
    "FolderBlobStore",
    "KnownKeys",
    "is_key",
    "open_blob_store",
    "sha256_hex",
    "sha256_hex_async",
    "validate_key",
    "validate_name",
]

_KEY_RE = re.compile(r"[0-9a-f]{64}")
_FANOUT_RE = re.compile(r"[0-9a-f]{2}")
_T = TypeVar("_T")
DEFAULT_REFRESH_AFTER_S = 3600.0


# Downloads read named objects this much at a time: one thread hop (or socket read) each.
READ_CHUNK = 256 * 1024


class BlobStoreError(Exception):
    """A backend failed (I/O error, network error, timeout, bad credentials...)."""


class BlobStore(Protocol):
    """Async content-addressed store. Implementations must be safe to share in one event loop."""

    async def put_if_absent(self, data: bytes) -> str:
        """Store `data` unless already present; return its sha256 hex."""
        ...

    async def get(self, sha256: str) -> bytes | None:
        """Return the object's bytes, or None if absent. ValueError on a malformed key."""
        ...

    async def delete(self, sha256: str) -> bool:
        """Delete the object; True if it existed. ValueError on a malformed key."""
        ...

    # Declared without `async` so that `async def ... yield` generators satisfy it.
    def iter_keys(self) -> AsyncIterator[tuple[str, datetime]]:
        """Yield (sha256 hex, last-modified as aware UTC datetime) for every stored object."""
        ...

    async def put_named(self, name: str, data: bytes) -> None:
        """Write (or replace, atomically) a named object such as an export file. ``name`` is
        checked by ``validate_name``; named objects are never content-addressed keys, so
        ``iter_keys`` and the GC do not see them."""
        ...

    async def get_named(self, name: str) -> bytes | None:
        """A named object's bytes, or None if absent."""
        ...

    async def delete_named(self, name: str) -> bool:
        """Delete a named object; True if it existed."""
        ...

    async def read_named(self, name: str, start: int, length: int) -> AsyncIterator[bytes] | None:
        """``length`` bytes of a named object from offset ``start``, in chunks of at most
        ``READ_CHUNK`` bytes, never the whole object in memory (downloads); None if absent.
        The caller bounds the range by the object's known size."""
        ...

    async def ping(self) -> None:
        """Raise BlobStoreError if the store is unreachable or unusable."""
        ...

    async def close(self) -> None: ...


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def sha256_hex_async(data: bytes) -> str:
    """sha256_hex, off the event loop for big payloads (hashlib releases the GIL)."""
    if len(data) < 1 << 20:
        return sha256_hex(data)
    return await asyncio.to_thread(sha256_hex, data)


def is_key(name: object) -> bool:
    """True if `name` is exactly 64 lowercase hex chars."""
    return isinstance(name, str) and _KEY_RE.fullmatch(name) is not None


# Named objects: relative paths of plain segments, never a fan-out directory of the
# content-addressed keys (whose first segment is two hex digits).
_NAME_SEGMENT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._=-]{0,199}")


def validate_name(name: str) -> str:
    segments = name.split("/")
    if (
        len(name) > 1000
        or not all(_NAME_SEGMENT_RE.fullmatch(s) for s in segments)
        or _FANOUT_RE.fullmatch(segments[0])
        or any(".." in s for s in segments)
    ):
        raise ValueError(f"invalid blob object name {name!r}")
    return name


def validate_key(sha256: str) -> str:
    """Return the key if it is exactly 64 lowercase hex chars, else raise ValueError."""
    if not is_key(sha256):
        raise ValueError(f"invalid blob key {sha256!r}: expected 64 lowercase hex characters")
    return sha256


class KnownKeys:
    """Bounded LRU of keys this process stored, with the object's last-modified time (epoch s),
    so repeated puts skip the existence check while the object is known to be fresh.

    Only touched from the event loop thread, so no locking is needed.
    """

    def __init__(self, max_size: int = 100_000, max_age_s: float = DEFAULT_REFRESH_AFTER_S):
        self._max = max_size
        self._max_age = max_age_s
        self._keys: OrderedDict[str, float] = OrderedDict()

    def __contains__(self, key: object) -> bool:
        """True if `key` was stored with a last-modified time within the freshness window."""
        stamp = self._keys.get(key)  # type: ignore[call-overload]
        if stamp is None or time.time() - stamp >= self._max_age:
            return False
        self._keys.move_to_end(key)  # type: ignore[arg-type]
        return True

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, key: str, modified: float) -> None:
        self._keys[key] = modified
        self._keys.move_to_end(key)
        while len(self._keys) > self._max:
            self._keys.popitem(last=False)

    def discard(self, key: str) -> None:
        self._keys.pop(key, None)


async def _in_thread(fn: Callable[[], _T]) -> _T:
    try:
        return await asyncio.to_thread(fn)
    except (OSError, TimeoutError) as exc:
        raise BlobStoreError(f"blob store I/O failed: {exc}") from exc


class FolderBlobStore:
    """Blobs as files under `root/ab/cd/<sha256>`; blocking I/O runs in worker threads.

    Writes go to a dot-prefixed temp file in the target directory and are renamed into place
    (os.replace is atomic within a filesystem), so a reader never sees a partial object.
    Temp names never match the key pattern, so `iter_keys` ignores them.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        fsync: bool = True,
        known_keys_max: int = 100_000,
        refresh_after_s: float = DEFAULT_REFRESH_AFTER_S,
    ) -> None:
        self.root = Path(root)
        self._fsync = fsync
        self._refresh_after = refresh_after_s
        self._known = KnownKeys(known_keys_max, refresh_after_s)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / key[2:4] / key

    async def put_if_absent(self, data: bytes) -> str:
        key = await sha256_hex_async(data)
        if key in self._known:
            return key
        modified = await _in_thread(lambda: self._put_sync(key, data))
        self._known.add(key, modified)
        return key

    def _put_sync(self, key: str, data: bytes) -> float:
        """Make sure the object exists with a fresh mtime; return that mtime."""
        path = self._path(key)
        try:
            mtime = path.stat().st_mtime
            if time.time() - mtime < self._refresh_after:
                return mtime
            os.utime(path)  # re-used: restart its GC grace period (a touch, not a rewrite)
            return time.time()
        except FileNotFoundError:
            pass
        started = time.time()  # <= the new file's mtime: a conservative freshness stamp
        self._write_sync(path, data)
        return started

    def _write_sync(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                if self._fsync:
                    fh.flush()
                    os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    async def get(self, sha256: str) -> bytes | None:
        path = self._path(validate_key(sha256))
        data = await _in_thread(lambda: _read_or_none(path))
        if data is not None and await sha256_hex_async(data) != sha256:
            raise BlobStoreError(f"blob {sha256} is corrupt (content hash mismatch)")
        return data

    async def delete(self, sha256: str) -> bool:
        path = self._path(validate_key(sha256))
        self._known.discard(sha256)
        return await _in_thread(lambda: _unlink_existing(path))

    async def put_named(self, name: str, data: bytes) -> None:
        path = self.root / validate_name(name)
        await _in_thread(lambda: self._write_sync(path, data))

    async def get_named(self, name: str) -> bytes | None:
        path = self.root / validate_name(name)
        return await _in_thread(lambda: _read_or_none(path))

    async def delete_named(self, name: str) -> bool:
        path = self.root / validate_name(name)
        return await _in_thread(lambda: _unlink_existing(path))

    async def read_named(self, name: str, start: int, length: int) -> AsyncIterator[bytes] | None:
        path = self.root / validate_name(name)
        handle = await _in_thread(lambda: _open_at(path, start))
        if handle is None:
            return None
        return _file_chunks(handle, length)

    async def iter_keys(self) -> AsyncIterator[tuple[str, datetime]]:
        # One thread hop per top-level fan-out dir: bounded memory, few hops.
        for top in await _in_thread(lambda: _subdirs(self.root)):
            for item in await _in_thread(functools.partial(_scan_top, top)):
                yield item

    async def ping(self) -> None:
        await _in_thread(self._ping_sync)

    def _ping_sync(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise PermissionError(f"blob folder {self.root} is not writable")

    async def close(self) -> None:
        return None


def _read_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _open_at(path: Path, start: int) -> BinaryIO | None:
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return None
    handle.seek(start)
    return handle


async def _file_chunks(handle: BinaryIO, length: int) -> AsyncIterator[bytes]:
    try:
        left = length
        while left > 0:
            chunk = await _in_thread(functools.partial(handle.read, min(READ_CHUNK, left)))
            if not chunk:
                raise BlobStoreError("the object ended before the requested range")
            left -= len(chunk)
            yield chunk
    finally:
        handle.close()


def _unlink_existing(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def _subdirs(root: Path) -> list[Path]:
    try:
        with os.scandir(root) as it:
            return sorted(Path(e.path) for e in it if _FANOUT_RE.fullmatch(e.name) and e.is_dir())
    except FileNotFoundError:
        return []


def _scan_top(top: Path) -> list[tuple[str, datetime]]:
    out: list[tuple[str, datetime]] = []
    for sub in _subdirs(top):
        prefix = top.name + sub.name
        with os.scandir(sub) as it:
            for e in it:
                if _KEY_RE.fullmatch(e.name) and e.name.startswith(prefix) and e.is_file():
                    mtime = datetime.fromtimestamp(e.stat().st_mtime, tz=UTC)
                    out.append((e.name, mtime))
    out.sort()
    return out


def open_blob_store(url: str) -> BlobStore:
    """Open a blob store from a URL.

    Accepted forms:

    * ``file:///abs/path`` (also ``file://localhost/abs/path``) - absolute folder.
    * ``file://./rel/path`` or ``file://../rel/path`` - folder relative to the working directory.
    * a plain path without scheme (``/abs/path``, ``rel/path``) - folder.
    * ``s3://bucket[/prefix/]?endpoint_url=...&region=...&prefix=...&addressing_style=...``
      - all query parameters optional; the prefix may be given in the path or as ``prefix=``,
      not both. Credentials come from the standard boto3 chain (env vars, profiles, roles).

    Raises ValueError for anything else (unknown scheme or parameter, missing bucket...).
    """
    if not isinstance(url, str) or not url.strip():
        raise ValueError("blob store URL is empty")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "" or (len(scheme) == 1 and os.name == "nt"):
        return FolderBlobStore(url)
    if scheme == "file":
        if parts.query or parts.fragment:
            raise ValueError(f"file blob store URL must not have a query or fragment: {url!r}")
        path = unquote(parts.path)
        if parts.netloc in ("", "localhost"):
            if not path.startswith("/"):
                raise ValueError(f"use file:///abs/path or file://./rel/path, got {url!r}")
            return FolderBlobStore(path)
        if parts.netloc in (".", ".."):
            return FolderBlobStore(parts.netloc + path)
        raise ValueError(f"file URL host must be empty, 'localhost', '.' or '..': {url!r}")
    if scheme == "s3":
        return _open_s3(url)
    raise ValueError(f"unsupported blob store URL scheme {parts.scheme!r} (use file:// or s3://)")


def _open_s3(url: str) -> BlobStore:
    # Imported lazily: boto3 is slow to import and folder-only deployments never need it.
    from previewgate.evidence.blobs_s3 import AddressingStyle, S3BlobStore

    parts = urlsplit(url)
    if not parts.netloc:
        raise ValueError(f"s3 blob store URL needs a bucket: {url!r}")
    if parts.fragment:
        raise ValueError(f"s3 blob store URL must not have a fragment: {url!r}")
    try:
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError as exc:
        raise ValueError(f"malformed query in s3 blob store URL {url!r}: {exc}") from exc
    allowed = {"endpoint_url", "region", "prefix", "addressing_style"}
    unknown = sorted(set(query) - allowed)
    if unknown:
        raise ValueError(f"unknown s3 blob store URL parameter(s) {unknown}; allowed: {allowed}")
    params: dict[str, str] = {}
    for name, values in query.items():
        if len(values) != 1:
            raise ValueError(f"s3 blob store URL parameter {name!r} given more than once")
        params[name] = values[0]
    path_prefix = unquote(parts.path.lstrip("/"))
    if path_prefix and "prefix" in params:
        raise ValueError("give the s3 key prefix either in the URL path or as prefix=, not both")
    style: AddressingStyle | None = None
    raw_style = params.get("addressing_style")
    if raw_style in ("path", "virtual", "auto"):
        style = raw_style  # type: ignore[assignment]  # narrowed by the check above
    elif raw_style is not None:
        raise ValueError(f"addressing_style must be path, virtual or auto, got {raw_style!r}")
    endpoint = params.get("endpoint_url") or None
    if endpoint is not None and urlsplit(endpoint).scheme not in ("http", "https"):
        raise ValueError(f"endpoint_url must be an http(s) URL, got {endpoint!r}")
    return S3BlobStore(
        bucket=unquote(parts.netloc),
        prefix=params.get("prefix", path_prefix),
        endpoint_url=endpoint,
        region=params.get("region") or None,
        addressing_style=style,
    )
