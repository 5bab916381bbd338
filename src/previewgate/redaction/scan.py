"""What a rule sees of one text (its UTF-8 bytes) and what it reports (hits, byte offsets)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

# Priorities settle candidates that start at the same place: the more specific rule wins.
# A lower-priority candidate that starts earlier and covers a higher one still replaces it
# (it is the wider span), and the higher one is reported inside it.
PRI_BLOCK = 130  # private key blocks
PRI_TOKEN = 100  # provider formats with a distinctive prefix
PRI_WEAK_TOKEN = 90  # formats with less evidence (a bare ``sk-`` key, vault ``s.`` tokens)
PRI_URL_CREDENTIALS = 85
PRI_SSH = 80
PRI_HEADER = 70
PRI_ASSIGNMENT = 60  # the value of a secret-named key
PRI_REPO = 40
PRI_PII = 30
PROTECT = "__protect__"  # a span no rule may redact inside (base64 data URLs)

_WORD = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
LINE_REACH = 1024


@dataclass(frozen=True, slots=True)
class Hit:
    """A candidate span (bytes). ``verify``, when set, is the rule's last and costliest check
    (entropy, placeholder words): it runs only if the span would change the output, not for
    a candidate that a more specific rule already covers."""

    start: int
    end: int
    category: str
    priority: int
    marker: str | None = None  # None: ``[REDACTED:<category>]``
    verify: Callable[[], bool] | None = field(default=None, compare=False)


class Scan:
    """One text under scan: its bytes, the partner's hash key, and byte-level lookups."""

    __slots__ = ("data", "hash_key", "memo")

    def __init__(self, data: bytes, hash_key: bytes | None) -> None:
        self.data = data
        self.hash_key = hash_key
        self.memo: dict[str, Any] = {}  # per-text results a rule computes once, not per match

    def text(self, start: int, end: int) -> str:
        return self.data[start:end].decode("utf-8", "replace")

    def byte_before(self, index: int) -> int:
        return self.data[index - 1] if index > 0 else -1

    def byte_after(self, index: int) -> int:
        return self.data[index] if index < len(self.data) else -1

    def word_before(self, index: int) -> bool:
        return index > 0 and self.data[index - 1] in _WORD

    def word_after(self, index: int) -> bool:
        return index < len(self.data) and self.data[index] in _WORD

    def line_start(self, index: int, reach: int = LINE_REACH) -> int:
        """Offset of the line holding ``index`` (after a newline or a JSON-escaped ``\\n``),
        looking back at most ``reach`` bytes: a rule's cost per match stays bounded on a
        megabyte without newlines."""
        floor = max(0, index - reach)
        real = self.data.rfind(b"\n", floor, index)
        escaped = self.data.rfind(b"\\n", floor, index)
        return max(real + 1 if real >= 0 else floor, escaped + 2 if escaped >= 0 else floor)

    def line_end(self, index: int, reach: int = LINE_REACH) -> int:
        ceiling = min(len(self.data), index + reach)
        real = self.data.find(b"\n", index, ceiling)
        escaped = self.data.find(b"\\n", index, ceiling)
        ends = [e for e in (real, escaped) if e >= 0]
        return min(ends) if ends else ceiling


class Found:
    """One pattern match: the byte spans of its groups, by name."""

    __slots__ = ("_groups", "_spans")

    def __init__(self, spans: Sequence[tuple[int, int]], groups: dict[str, int]) -> None:
        self._spans = spans
        self._groups = groups

    def span(self, name: str | None = None) -> tuple[int, int]:
        return self._spans[self._groups[name]] if name else self._spans[0]

    def has(self, name: str) -> bool:
        index = self._groups.get(name)
        return index is not None and self._spans[index][0] >= 0


Emit = Callable[[Found, Scan], Iterable[Hit]]


@dataclass(frozen=True, slots=True)
class Rule:
    """A pattern (RE2 syntax, run on UTF-8 bytes) and what to make of each match."""

    name: str
    pattern: str
    emit: Emit
    # Where the next search starts: after the match (None) or after this group, when a match
    # may hold another one (``a.b: c=d`` holds ``c=d``; the first may yet be rejected).
    resume: str | None = None


def token(
    name: str,
    category: str,
    pattern: str,
    check: Callable[[str], bool] | None = None,
    *,
    priority: int = PRI_TOKEN,
    tail: bool = False,
) -> Rule:
    """A rule whose group ``s`` (or whole match) is the secret, kept when ``check`` says so.

    ``tail``: the match may not run on into more token characters (for formats whose last
    character is not a word character, where ``\\b`` cannot say so).
    """

    def emit(found: Found, scan: Scan) -> Iterable[Hit]:
        start, end = found.span("s" if found.has("s") else None)
        if tail and scan.byte_after(end) in _TOKEN_TAIL:
            return ()
        verify = None if check is None else partial(_check_text, check, scan, start, end)
        return (Hit(start, end, category, priority, None, verify),)

    return Rule(name, pattern, emit)


def _check_text(check: Callable[[str], bool], scan: Scan, start: int, end: int) -> bool:
    return check(scan.text(start, end))


_TOKEN_TAIL = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
