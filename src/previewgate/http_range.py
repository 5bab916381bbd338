"""One byte range of a ``Range`` request header (RFC 9110 §14), for file downloads.

Written here because it is twenty lines: Starlette parses ranges only inside its
``FileResponse`` (local files), and downloads also stream from S3. One range is served;
a header with several ranges, another unit or bad syntax is ignored (the whole file is
sent, as the RFC allows), and a range that starts past the end is unsatisfiable (416).
"""

from __future__ import annotations

import re

_ONE_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class RangeNotSatisfiable(Exception):
    """The range starts at or beyond the end of the representation."""


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(start, length)`` of the bytes asked for, or None for the whole representation."""
    if header is None:
        return None
    found = _ONE_RANGE.fullmatch(header.strip())
    if found is None:
        return None
    first, last = found.groups()
    if not first:
        if not last:
            return None  # "bytes=-": not a range at all
        suffix = int(last)  # the last N bytes
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable
        start = max(size - suffix, 0)
        return start, size - start
    start = int(first)
    if start >= size:
        raise RangeNotSatisfiable
    end = size - 1 if not last else min(int(last), size - 1)
    if end < start:
        return None  # "bytes=9-3" is invalid: ignored
    return start, end - start + 1
