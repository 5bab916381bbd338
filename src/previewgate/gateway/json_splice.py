"""Replace top-level member values of a JSON object in place, keeping every other byte.

The faithful relay must not re-serialise an answer (a 30-digit integer, an escape, the key
order or the whitespace would change), so it splices: it finds the members at depth 1 and
their value spans, and new values are written over those spans. Keys written with escapes
(``"\\u006dodel"``) are decoded before they are compared; every occurrence of a duplicated
key is replaced.

Two passes, both driven by C-level regex matches rather than a Python loop per byte:

1. one match over the opening run of *simple* members (keys without escapes, values that are
   strings without escapes or scalars), or over OpenAI's usual ``id``, ``object``,
   ``created``, ``model`` opening, which most answers and stream chunks share;
2. from the first member it cannot read that way, a walk over strings and brackets only
   (each string skipped in one match), unless a byte search shows no wanted key and no
   escape lies beyond, in which case there is nothing left to find.

Measured on a 300-byte stream chunk and a 400-byte answer (CPython 3.11): 2-3 µs and 6 µs,
against 15 and 30 µs for a walk over every token.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

_WS = rb"[ \t\r\n]*"
_SIMPLE_VALUE = rb'(?:"[^"\\]*"|[^"{}\[\],: \t\r\n]+)'
# From '{': members whose key and value hold no escape and no container, up to the first
# member that does (or to the closing '}'). Inside such a run quotes alternate strictly, so
# a search for '"name":' in it can only meet keys.
_SIMPLE_RUN = re.compile(
    rb"\{"
    + _WS
    + rb'(?:"[^"\\]*"'
    + _WS
    + b":"
    + _WS
    + _SIMPLE_VALUE
    + _WS
    + rb"(?:,|(?=\}))"
    + _WS
    + rb")*"
)


def _member(key: bytes, value: bytes) -> bytes:
    return _WS + b'"' + key + b'"' + _WS + b":" + _WS + value + _WS


# OpenAI's own member order, which most servers copy: id, object, created, model.
_OPENAI_PREFIX = re.compile(
    rb"\{"
    + b",".join(
        (
            _member(b"id", rb'("[^"\\]*")'),
            _member(b"object", rb'"[^"\\]*"'),
            _member(b"created", rb"[0-9]+"),
            _member(b"model", rb'("[^"\\]*")'),
        )
    )
    + b","
)
_WANTED: dict[frozenset[str], re.Pattern[bytes]] = {}
_NEEDLES: dict[frozenset[str], tuple[tuple[str, bytes], ...]] = {}
_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*+"|[{}\[\]]')
_VALUE_START = re.compile(rb'"[^"\\]*"[ \t\r\n]*:[ \t\r\n]*(?=\S)')
_SIMPLE_TAIL = re.compile(
    rb'(?:[ \t\r\n]*,[ \t\r\n]*"[^"\\]*"[ \t\r\n]*:[ \t\r\n]*'
    rb'(?:"[^"\\]*"|[^"{}\[\],: \t\r\n]+))*[ \t\r\n]*\}'
)
_SCALAR_END = re.compile(rb"[,}\]]")
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


def _wanted(names: frozenset[str]) -> re.Pattern[bytes]:
    pattern = _WANTED.get(names)
    if pattern is None:
        alternatives = b"|".join(re.escape(n.encode()) for n in sorted(names))
        pattern = _WANTED[names] = re.compile(
            rb'"(' + alternatives + rb')"' + _WS + b":" + _WS + b"(" + _SIMPLE_VALUE + b")"
        )
    return pattern


def _needles(names: frozenset[str]) -> tuple[tuple[str, bytes], ...]:
    found = _NEEDLES.get(names)
    if found is None:
        found = _NEEDLES[names] = tuple((n, b'"%s"' % n.encode()) for n in sorted(names))
    return found


def _strip(doc: bytes, start: int, end: int) -> tuple[int, int]:
    while start < end and doc[start] in _SPACE:
        start += 1
    while end > start and doc[end - 1] in _SPACE:
        end -= 1
    return start, end


def top_level_spans(doc: bytes, start: int, end: int, names: frozenset[str]) -> list[Span]:
    """Value spans of the members named in ``names`` at depth 1 of ``doc[start:end]``.

    Returns [] when the range does not open an object. Not a validator: callers that need a
    valid document parse it themselves.
    """
    i, end = _strip(doc, start, end)
    if i >= end or doc[i] != 123:
        return []
    known = _OPENAI_PREFIX.match(doc, i, end)
    if known is not None:  # the usual layout of answers and chunks: no search needed
        found: list[Span] = [
            (name, known.start(group), known.end(group))
            for name, group in (("id", 1), ("model", 2))
            if name in names
        ]
        pos = known.end()
    else:
        run = _SIMPLE_RUN.match(doc, i, end)
        pos = run.end() if run is not None else i + 1
        found = [
            (m.group(1).decode(), m.start(2), m.end(2))
            for m in _wanted(names).finditer(doc, i, pos)
        ]
        if doc.startswith(b"}", pos):
            return found  # every member was simple
    if doc.find(b"\\u", pos, end) < 0:  # no key beyond can be spelled with escapes
        beyond: list[Span] = []
        for name, needle in _needles(names):
            at = doc.find(needle, pos, end)
            if at < 0:
                continue
            if doc.find(needle, at + 1, end) >= 0 or (span := _last_member(doc, at, end)) is None:
                return _walk(doc, pos, end, names, found)
            beyond.append((name, *span))
        return found + beyond
    return _walk(doc, pos, end, names, found)


def _last_member(doc: bytes, at: int, end: int) -> tuple[int, int] | None:
    """The value span of the member whose key starts at ``at``, if provably at depth 1.

    Proof: a ',' before the key, and after its value only simple members and the object's
    final '}' (``end`` is the document's end). In a valid document nothing but the top-level
    object can close there, and a key inside a string would have its quotes escaped.
    """
    before = at - 1
    while before > 0 and doc[before] in _SPACE:
        before -= 1
    if doc[before] != 44:  # ','
        return None
    m = _VALUE_START.match(doc, at, end)
    if m is None:
        return None
    start = m.end()
    first = doc[start]
    if first == 34:
        s = _TOKEN.match(doc, start, end)
        stop = s.end() if s is not None else -1
    elif first in _OPEN:
        stop = _container_end(doc, start, end)
    else:
        t = _SCALAR_END.search(doc, start, end)
        stop = _strip(doc, start, t.start())[1] if t else -1
    if stop < 0 or _SIMPLE_TAIL.fullmatch(doc, stop, end) is None:
        return None
    return start, stop


def _container_end(doc: bytes, start: int, end: int) -> int:
    depth = 0
    for m in _TOKEN.finditer(doc, start, end):
        c = doc[m.start()]
        if c in _OPEN:
            depth += 1
        elif c in _CLOSE:
            depth -= 1
            if depth == 0:
                return m.end()
    return -1


def _walk(doc: bytes, pos: int, end: int, names: frozenset[str], found: list[Span]) -> list[Span]:
    """The general case, from ``pos`` at depth 1 where a key is expected."""
    depth = 1
    want: str | None = None  # a wanted member whose container value is being skipped
    value_from = -1
    for m in _TOKEN.finditer(doc, pos, end):
        c = doc[m.start()]
        if c in _OPEN:
            depth += 1
            continue
        if c in _CLOSE:
            depth -= 1
            if depth == 1 and want is not None:
                found.append((want, value_from, m.end()))
                want = None
            elif depth == 0:
                break
            continue
        if depth != 1:
            continue
        # A string at depth 1: a key when a ':' follows, else a value of an unwanted key.
        j = m.end()
        while j < end and doc[j] in _SPACE:
            j += 1
        if j >= end or doc[j] != 58:
            continue
        name = _key(m.group())
        if name not in names:
            continue
        j += 1
        while j < end and doc[j] in _SPACE:
            j += 1
        if j >= end:
            break
        first = doc[j]
        if first == 34:  # a string value: the next token; read it here
            s = _TOKEN.match(doc, j, end)
            if s is not None:
                found.append((name, j, s.end()))
        elif first in _OPEN:
            want, value_from = name, j
        else:
            stop = _SCALAR_END.search(doc, j, end)
            found.append((name, *_strip(doc, j, stop.start() if stop else end)))
    return found


def splice(doc: bytes, spans: list[Span], value: Callable[[str, bytes], bytes | None]) -> bytes:
    """``doc`` with each span's bytes replaced by ``value(name, old)`` (None keeps the old)."""
    parts: list[bytes] = []
    at = 0
    for name, start, stop in sorted(spans, key=lambda span: span[1]):
        new = value(name, doc[start:stop])
        if new is not None:
            parts += (doc[at:start], new)
            at = stop
    if not parts:
        return doc
    parts.append(doc[at:])
    return b"".join(parts)
