"""Replace top-level member values of a JSON object in place, keeping every other byte.

The faithful relay must not re-serialise an answer (a 30-digit integer, an escape, the key
order or the whitespace would change), so it splices: a regex walks only the document's
strings and punctuation (each string is skipped in one C-level match, so the cost grows with
the structure, not with the text), finds the members at depth 1 and their value spans, and
new values are written over those spans. Keys written with escapes (``"\\u006dodel"``) are
decoded before they are compared; every occurrence of a duplicated key is replaced.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*+"|[{}\[\],:]')
_SPACE = b" \t\r\n"
_OPEN = (123, 91)  # '{' '['
_CLOSE = (125, 93)  # '}' ']'

Span = tuple[str, int, int]  # member name, value start, value end


def _key(raw: bytes) -> str | None:
    if b"\\" not in raw:
        return raw[1:-1].decode("utf-8", "replace")
    try:
        key = json.loads(raw)
    except ValueError:
        return None
    return key if isinstance(key, str) else None


def _strip(doc: bytes, start: int, end: int) -> tuple[int, int]:
    while start < end and doc[start] in _SPACE:
        start += 1
    while end > start and doc[end - 1] in _SPACE:
        end -= 1
    return start, end


def top_level_spans(
    doc: bytes, start: int, end: int, names: frozenset[str]
) -> tuple[list[Span], bool]:
    """Value spans of the members named in ``names`` at depth 1 of ``doc[start:end]``, and
    whether the object closed within the range.

    Returns ([], False) when the range does not open an object. Not a validator: callers
    that need a valid document parse it themselves.
    """
    i, end = _strip(doc, start, end)
    if i >= end or doc[i] != 123:
        return [], False
    found: list[Span] = []
    depth = 0
    want: str | None = None  # the wanted member whose value is being read
    value_from = -1  # where that value starts (after ':'); -1 outside a wanted value
    key_next = False
    for m in _TOKEN.finditer(doc, i, end):
        c = doc[m.start()]
        if depth > 1:  # inside a nested value: only brackets matter
            if c in _OPEN:
                depth += 1
            elif c in _CLOSE:
                depth -= 1
                if depth == 1 and want is not None:
                    found.append((want, value_from, m.end()))
                    want = None
            continue
        if c in _OPEN:
            depth += 1
            if depth == 1:
                key_next = True
            elif want is not None:
                value_from = m.start()
            continue
        if c in _CLOSE or c == 44:  # '}' ']' ','
            if want is not None:  # a scalar value ends here
                found.append((want, *_strip(doc, value_from, m.start())))
                want = None
            if c == 44:
                key_next = True
                continue
            return found, True  # the top-level object closed
        if c == 58:  # ':'
            if want is not None:
                value_from = m.end()
            continue
        # a string
        if key_next:
            key_next = False
            key = _key(m.group())
            want = key if key in names else None
        elif want is not None:
            found.append((want, m.start(), m.end()))
            want = None
    return found, False


def splice(doc: bytes, spans: list[Span], value: Callable[[str, bytes], bytes | None]) -> bytes:
    """``doc`` with each span's bytes replaced by ``value(name, old)`` (None keeps the old)."""
    parts: list[bytes] = []
    at = 0
    for name, start, stop in spans:
        new = value(name, doc[start:stop])
        if new is not None:
            parts += (doc[at:start], new)
            at = stop
    if not parts:
        return doc
    parts.append(doc[at:])
    return b"".join(parts)
