"""Byte ranges: for every size and header, the range lies inside the file, or the whole
file is sent, or the request is unsatisfiable exactly when it starts past the end."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from previewgate.http_range import RangeNotSatisfiable, byte_range


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (None, 10, None),
        ("bytes=0-0", 10, (0, 1)),
        ("bytes=2-5", 10, (2, 4)),
        ("bytes=2-", 10, (2, 8)),
        ("bytes=-3", 10, (7, 3)),
        ("bytes=-30", 10, (0, 10)),
        ("bytes=5-400", 10, (5, 5)),
        ("bytes=0-1,4-5", 10, None),
        ("items=0-1", 10, None),
        ("bytes=5-2", 10, None),
        ("bytes=-", 10, None),
        ("bytes=x-1", 10, None),
    ],
)
def test_byte_ranges(header: str | None, size: int, expected: tuple[int, int] | None) -> None:
    assert byte_range(header, size) == expected


@pytest.mark.parametrize(
    ("header", "size"),
    [("bytes=10-", 10), ("bytes=11-20", 10), ("bytes=-0", 10), ("bytes=0-", 0), ("bytes=-5", 0)],
)
def test_unsatisfiable(header: str, size: int) -> None:
    with pytest.raises(RangeNotSatisfiable):
        byte_range(header, size)


@given(
    size=st.integers(0, 10**9),
    first=st.one_of(st.none(), st.integers(0, 2 * 10**9)),
    last=st.one_of(st.none(), st.integers(0, 2 * 10**9)),
)
def test_a_range_always_lies_inside_the_file(
    size: int, first: int | None, last: int | None
) -> None:
    header = f"bytes={'' if first is None else first}-{'' if last is None else last}"
    try:
        found = byte_range(header, size)
    except RangeNotSatisfiable:
        assert (first is not None and first >= size) or (first is None and (last == 0 or size == 0))
        return
    if found is None:
        return
    start, length = found
    assert 0 <= start < size and length >= 1 and start + length <= size
    if first is not None:
        assert start == first
        if last is not None:
            assert start + length - 1 == min(last, size - 1)
    elif last is not None:
        assert length == min(last, size)
