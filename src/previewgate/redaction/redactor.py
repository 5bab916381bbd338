"""``redact(text) -> (text, findings)``: every rule of the table over one text.

A ``re2.Set`` over all patterns finds which rules can match; only those run (RE2, on the
text's UTF-8 bytes) and judge their matches. Overlapping candidates are settled leftmost
first, then by priority, then by length; a candidate that runs past the one chosen widens it,
so no part of a secret is left behind. Each chosen span becomes ``[REDACTED:<category>]``.
A second look around the new markers takes what their neighbours now reveal, so redacting
redacted text changes nothing.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass, replace
from typing import Any

import re2  # type: ignore[import-untyped]

from previewgate.redaction.rules import RULES
from previewgate.redaction.scan import PROTECT, Found, Hit, Scan

# Bump on any change to rules, validators or markers: exports record it, so a partner can tell
# which redaction a record went through.
REDACTOR_VERSION = "2026.12.3"


@dataclass(frozen=True, slots=True)
class Finding:
    """One redacted span of the input: its type and where it was (character offsets).

    Never holds the text it replaced. ``path`` locates a string inside a JSON value
    (``redact_json``); ``in_key`` says the span was in a dict key rather than a value.
    """

    category: str
    start: int
    end: int
    path: tuple[str | int, ...] = ()
    in_key: bool = False


def _options() -> Any:
    options = re2.Options()
    options.max_mem = 256 << 20  # the set's DFA over ~150 patterns: far below this in practice
    return options


def _compile() -> tuple[Any, list[Any], list[dict[str, int]]]:
    options = _options()
    pattern_set = re2.Set.SearchSet(options)
    regexes = []
    groups = []
    for rule in RULES:
        pattern_set.Add(rule.pattern)
        regex = re2.compile(rule.pattern, options)
        # The wrapper's compiled RE2: called directly it returns every group's span at once,
        # without building a match object per hit.
        regexes.append(regex._regexp)
        groups.append(dict(regex.groupindex))
    pattern_set.Compile()
    return pattern_set, regexes, groups


_SET, _REGEXES, _GROUPS = _compile()
_UNANCHORED = re2._Anchor.UNANCHORED


_RESCAN = 1024  # a match longer than this is not searched again from inside: linear time
_MARKER = re.compile(rb"\[REDACTED:[a-z0-9_]+(?::[0-9a-f]{12})?\]")


def candidates(data: bytes, hash_key: bytes | None) -> list[Hit]:
    """Every rule's hits in ``data`` (bytes offsets), before overlaps are settled."""
    matched = _SET.Match(data)
    if not matched:
        return []
    scan = Scan(data, hash_key)
    # Our own markers are never redacted again, nor is anything that runs into or touches one:
    # next to a marker a rule sees ']' or '[' where the first pass saw the secret's own
    # characters (``user:[REDACTED:password]@``, a token glued to another). Idempotence.
    hits: list[Hit] = []
    if b"[REDACTED:" in data:
        hits = [Hit(m.start() - 1, m.end() + 1, PROTECT, 0) for m in _MARKER.finditer(data)]
    end = len(data)
    for index in matched:
        emit, groups, regexp = RULES[index].emit, _GROUPS[index], _REGEXES[index]
        resume = groups[RULES[index].resume] if RULES[index].resume else 0
        position = 0
        while position <= end:
            spans = regexp.Match(_UNANCHORED, data, position, end)
            if spans[0][0] < 0:
                break
            hits.extend(emit(Found(spans, groups), scan))
            after = spans[0][1]
            if resume and after - spans[resume][1] < _RESCAN:
                after = spans[resume][1]
            position = max(after, position + 1)
    return hits


def _settle(hits: list[Hit], data: bytes) -> tuple[list[list[Any]], list[Hit]]:
    """Chosen spans ``[start, end, hit]`` in order, and the higher-priority hits inside them."""
    protected = sorted((h.start, h.end) for h in hits if h.category == PROTECT)
    starts = [p for p, _ in protected]
    widest = max((q - p for p, q in protected), default=0)
    ordered = sorted(
        (h for h in hits if h.category != PROTECT),
        key=lambda h: (h.start, -h.priority, -h.end),
    )
    chosen: list[list[Any]] = []
    inside: list[Hit] = []
    for hit in ordered:
        if protected:
            overlaps = []
            index = bisect_left(starts, hit.end) - 1
            while index >= 0 and starts[index] + widest > hit.start:
                if protected[index][1] > hit.start:
                    overlaps.append(protected[index][0])
                index -= 1
            if overlaps:
                if min(overlaps) <= hit.start:
                    continue
                # A span that runs into protected text keeps the part before it.
                hit = replace(hit, end=min(overlaps))
        if chosen and hit.start < chosen[-1][1]:
            current = chosen[-1]
            top: Hit = current[2]
            widens = hit.end > current[1]
            reported = hit.priority > top.priority and hit.category != top.category
            if (widens or reported) and (hit.verify is None or hit.verify()):
                current[1] = max(current[1], hit.end)
                if reported:
                    inside.append(hit)
            continue
        if hit.verify is None or hit.verify():
            chosen.append([hit.start, hit.end, hit])
    # A span that starts or ends inside a word takes the whole word: what is glued to a secret
    # goes with it, and a second pass cannot find a token the first one cut (idempotence).
    for span in chosen:
        while span[0] > 0 and data[span[0] - 1] in _WORD:
            if span[0] > 1 and data[span[0] - 2] == 0x5C:  # ``\n`` in JSON: an escape, not a word
                break
            span[0] -= 1
        while span[1] < len(data) and data[span[1]] in _WORD:
            span[1] += 1
    merged: list[list[Any]] = []
    for span in chosen:
        if merged and span[0] < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], span[1])
        else:
            merged.append(span)
    return merged, inside


_WORD = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


class _Offsets:
    """Byte offsets → character offsets, for the few offsets a text's findings need."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._byte = 0
        self._char = 0
        self._cache: dict[int, int] = {}

    def __call__(self, offset: int) -> int:
        cached = self._cache.get(offset)
        if cached is not None:
            return cached
        if offset < self._byte:
            self._byte = self._char = 0
        self._char += len(self._data[self._byte : offset].decode("utf-8", "replace"))
        self._byte = offset
        self._cache[offset] = self._char
        return self._char


_MAX_PASSES = 3


def _render(
    data: bytes, chosen: list[list[Any]]
) -> tuple[bytes, list[tuple[int, int, int]], list[tuple[int, int]]]:
    """The redacted bytes, its unchanged stretches as (start, end, shift to the input), and
    where its markers are."""
    pieces: list[bytes] = []
    kept: list[tuple[int, int, int]] = []
    markers: list[tuple[int, int]] = []
    position = length = 0
    for start, end, hit in chosen:
        pieces.append(data[position:start])
        kept.append((length, length + start - position, position - length))
        length += start - position
        marker = (hit.marker or f"[REDACTED:{hit.category}]").encode()
        pieces.append(marker)
        markers.append((length, length + len(marker)))
        length += len(marker)
        position = end
    pieces.append(data[position:])
    kept.append((length, length + len(data) - position, position - length))
    return b"".join(pieces), kept, markers


_REACH = 64  # how far from a marker a second pass looks at least
_LINE_REACH = 1024  # and at most, to take in the marker's whole line (``key: value`` rules)
_EDGE = 16  # hits this close to a window's cut edge may be cut themselves: ignored


def _second_pass(data: bytes, chosen: list[list[Any]], hash_key: bytes | None) -> list[Hit]:
    """Hits that a pass over the redacted text would add near its markers, in the input's
    offsets (a rule's view of a marker's neighbours is all that changed)."""
    out, kept, markers = _render(data, chosen)
    windows: list[list[int]] = []
    for start, end in markers:
        # The whole line around a marker, within bounds: an assignment's key can sit further
        # than _REACH before a value that only reads as a secret once the marker is there.
        line_start = out.rfind(b"\n", max(0, start - _LINE_REACH), start) + 1
        line_end = out.find(b"\n", end, min(len(out), end + _LINE_REACH))
        low = max(0, min(start - _REACH, max(line_start, start - _LINE_REACH)))
        high = min(len(out), max(end + _REACH, line_end if line_end >= 0 else end + _LINE_REACH))
        if windows and low <= windows[-1][1]:
            windows[-1][1] = high
        else:
            windows.append([low, high])
    found = []
    for low, high in windows:
        for hit in candidates(out[low:high], hash_key):
            start, end = hit.start + low, hit.end + low
            if hit.category == PROTECT or (low and start < low + _EDGE):
                continue
            if high < len(out) and end > high - _EDGE:
                continue
            if hit.verify is not None and not hit.verify():
                continue
            for kept_start, kept_end, shift in kept:
                if kept_start <= start and end <= kept_end:
                    found.append(replace(hit, start=start + shift, end=end + shift, verify=None))
                    break
    covered = [(s, e) for s, e, _ in chosen]
    return [h for h in found if not any(s <= h.start and h.end <= e for s, e in covered)]


def redact(text: str, *, hash_key: bytes | None = None) -> tuple[str, list[Finding]]:
    """``text`` with every secret and personal datum replaced by a typed marker, and what was
    replaced (types and character offsets, never the text itself).

    ``hash_key`` (per partner) turns repository URLs into ``[REDACTED:repo_url:<hmac>]``:
    stable for one key, not joinable across keys. Pure: same input, same output.
    """
    if not text:
        return text, []
    # Lone surrogates cannot be encoded; '?' keeps one byte per character, so offsets hold.
    data = text.encode("utf-8", "replace")
    hits = candidates(data, hash_key)
    if not hits:
        return text, []
    chosen, inside = _settle(hits, data)
    if not chosen:
        return text, []
    for _ in range(_MAX_PASSES):
        # Once a secret is a marker, the text beside it reads differently: a phone number
        # glued to a key is no longer glued. What a second pass would find is taken now, so
        # that redacting twice changes nothing.
        more = _second_pass(data, chosen, hash_key)
        if not more:
            break
        hits += more
        chosen, inside = _settle(hits, data)
    to_char = (lambda offset: offset) if len(data) == len(text) else _Offsets(data)
    pieces: list[str] = []
    findings: list[Finding] = []
    position = 0
    for start_byte, end_byte, hit in chosen:
        start, end = to_char(start_byte), to_char(end_byte)
        pieces.append(text[position:start])
        pieces.append(hit.marker or f"[REDACTED:{hit.category}]")
        position = end
        findings.append(Finding(hit.category, start, end))
    pieces.append(text[position:])
    for hit in inside:
        findings.append(Finding(hit.category, to_char(hit.start), to_char(hit.end)))
    findings.sort(key=lambda f: (f.start, -f.end))
    return "".join(pieces), findings
