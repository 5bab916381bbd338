"""Prompt capture: split the upstream request body into system prompt + rest, canonically
serialised and capped at a byte limit.

Canonical form (`canonical_json`): ``json.dumps(obj, ensure_ascii=False, sort_keys=True,
separators=(",", ":"))`` encoded as UTF-8. Lone surrogates (legal in JSON text via ``\\ud800``
escapes, but not encodable as UTF-8) are written back as their ``\\uXXXX`` escape, so the output
is always valid UTF-8 and ``json.loads`` of it gives back the exact input. The stdlib encoder is
used rather than orjson because it never rejects valid parsed JSON (big ints, surrogates).

Truncation (`fit_to_limit`) works on "slots": a slot is an ordered list of string locations
whose texts are cut as one run (a message's content, possibly split into text parts).

1. Text slots: longest-first water-filling. All slots whose serialised size exceeds a common
   level L are cut to at most L bytes, with L the largest level at which the whole document
   fits. This is the closed form of "repeatedly shorten the longest text" and is deterministic.
   A slot is cut by keeping a prefix of its text on a code-point boundary (never mid-char,
   never mid-escape); later parts of a multi-part slot are emptied before earlier ones.
2. If the document still does not fit with every text slot empty (huge tool schemas, image
   data URLs, tool-call arguments...), the same water-filling runs over every string value in
   the document (dict keys are never changed).
3. If even that is too big (the JSON structure alone exceeds the limit), the result is ``{}``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DEFAULT_LIMIT_BYTES",
    "CapturedPrompt",
    "Slot",
    "canonical_json",
    "capture_prompt",
    "fit_to_limit",
    "message_text_slot",
    "string_slots",
]

DEFAULT_LIMIT_BYTES = 4 * 1024 * 1024
MIN_LIMIT_BYTES = 2  # room for the last-resort "{}"

# A location holding a str: (container, key or index). A slot is cut as one run of text.
Ref = tuple[Any, Any]
Slot = list[Ref]


@dataclass(frozen=True)
class CapturedPrompt:
    system: bytes | None  # canonical leading system message object, or None if there is none
    rest: bytes  # canonical body with the leading system message removed from "messages"
    was_truncated: bool  # either half was cut to fit the limit


def canonical_json(obj: Any) -> bytes:
    text = json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return text.encode("utf-8", "backslashreplace")


def _str_size(s: str) -> int:
    """Bytes `s` occupies inside canonical JSON, without its quotes."""
    if s.isascii() and s.isprintable() and '"' not in s and "\\" not in s:
        return len(s)  # fast path: no escapes, one byte per char
    return len(canonical_json(s)) - 2


def _cut(s: str, budget: int) -> str:
    """Longest prefix of `s` whose serialised size is <= budget (binary search on code points)."""
    if budget <= 0:
        return ""
    lo, hi = 0, min(len(s), budget)  # every char costs at least one byte
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _str_size(s[:mid]) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return s[:lo]


def _cut_slot(slot: Slot, budget: int) -> None:
    for container, key in slot:
        text = container[key]
        size = _str_size(text)
        if size <= budget:
            budget -= size
        else:
            container[key] = _cut(text, budget)
            budget = 0


def _water_level(sizes: list[int], budget: int) -> int:
    """Largest L with sum(min(size, L)) <= budget (budget >= 0)."""
    lo, hi = 0, max(sizes, default=0)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if sum(min(s, mid) for s in sizes) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _shrink(doc: Any, slots: list[Slot], limit: int) -> None:
    """Cut the largest slots of `doc` (in place) so that the document fits in `limit` bytes."""
    sizes = [sum(_str_size(c[k]) for c, k in slot) for slot in slots]
    base = len(canonical_json(doc)) - sum(sizes)
    level = _water_level(sizes, max(limit - base, 0))
    for slot, size in zip(slots, sizes, strict=True):
        if size > level:
            _cut_slot(slot, level)


def string_slots(doc: Any) -> list[Slot]:
    """Every string value in `doc` as its own slot, in canonical (sorted-key) order."""
    out: list[Slot] = []
    stack: list[Any] = [doc]
    while stack:  # iterative: deeply nested input must not hit the recursion limit here
        node = stack.pop()
        if isinstance(node, dict):
            items: list[tuple[Any, Any]] = sorted(node.items())
        elif isinstance(node, list):
            items = list(enumerate(node))
        else:
            continue
        for key, value in reversed(items):
            if isinstance(value, str):
                out.append([(node, key)])
            else:
                stack.append(value)
    return out


def fit_to_limit(
    obj: Any, text_slots: Callable[[Any], list[Slot]], limit: int
) -> tuple[bytes, bool]:
    """Canonical bytes of `obj`, truncated to at most `limit` bytes; returns (bytes, truncated).

    `text_slots(doc)` names the preferred places to cut in a private copy `doc` of `obj`.
    `obj` itself is never modified.
    """
    if limit < MIN_LIMIT_BYTES:
        raise ValueError(f"limit must be at least {MIN_LIMIT_BYTES} bytes, got {limit}")
    data = canonical_json(obj)
    if len(data) <= limit:
        return data, False
    doc = json.loads(data)  # cheap deep copy that we are free to mutate
    for slots_of in (text_slots, string_slots):
        _shrink(doc, slots_of(doc), limit)
        data = canonical_json(doc)
        if len(data) <= limit:
            return data, True
    return b"{}", True


def message_text_slot(message: Any) -> Slot:
    """The text of one chat message: str content, or the "text" of each content part."""
    if not isinstance(message, dict):
        return []
    content = message.get("content")
    if isinstance(content, str):
        return [(message, "content")]
    if isinstance(content, list):
        return [
            (part, "text")
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        ]
    return []


def _messages_text_slots(body: Any) -> list[Slot]:
    messages = body.get("messages") if isinstance(body, dict) else None
    if not isinstance(messages, list):
        return []
    return [slot for slot in map(message_text_slot, messages) if slot]


def _system_text_slots(message: Any) -> list[Slot]:
    slot = message_text_slot(message)
    return [slot] if slot else []


def capture_prompt(body: dict[str, Any], limit_bytes: int = DEFAULT_LIMIT_BYTES) -> CapturedPrompt:
    """Split `body` into its leading system message and the rest, each capped at `limit_bytes`.

    Only ``role == "system"`` in ``messages[0]`` counts as the system prompt: "developer"
    messages, and system messages later in the conversation, stay in the rest. The body must be
    JSON-serialisable (it is the canonical upstream request); it is not modified.
    """
    messages = body.get("messages")
    system_msg: Any = None
    rest: dict[str, Any] = body
    if (
        isinstance(messages, list)
        and messages
        and isinstance(messages[0], dict)
        and messages[0].get("role") == "system"
    ):
        system_msg = messages[0]
        rest = {**body, "messages": messages[1:]}
    system_bytes: bytes | None = None
    system_cut = False
    if system_msg is not None:
        system_bytes, system_cut = fit_to_limit(system_msg, _system_text_slots, limit_bytes)
    rest_bytes, rest_cut = fit_to_limit(rest, _messages_text_slots, limit_bytes)
    return CapturedPrompt(system_bytes, rest_bytes, system_cut or rest_cut)
