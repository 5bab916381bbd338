"""``redact_json``: the redactor over a parsed JSON value, keeping its shape.

Strings are redacted wherever they are, dict keys included: a key can be an e-mail address or
a file path under someone's home (a map of paths to contents). Numbers, booleans and None are
returned as they are. A string under a secret-named key (``"password"``, ``"api_key"``) is
replaced whole when it looks like a secret, as in ``.env`` files. Should two keys of one dict
become equal after redaction, the later ones get ``#2``, ``#3``... so no entry is lost.
Strings holding JSON (tool-call ``arguments``) are redacted as text, escaped or not.
"""

from __future__ import annotations

from typing import Any

from previewgate.redaction import keynames
from previewgate.redaction.redactor import Finding, redact

Path = tuple[str | int, ...]


def _string(
    value: str, key: str | None, path: Path, hash_key: bytes | None
) -> tuple[str, list[Finding]]:
    text, found = redact(value, hash_key=hash_key)
    category = keynames.classify(key) if key is not None else None
    whole = any(f.start == 0 and f.end == len(value) for f in found)
    if category is not None and not whole:
        candidate = value
        if category == "auth_header":
            parts = value.split(None, 1)
            prefix = parts[0] + " " if len(parts) == 2 else ""
            candidate = value[len(prefix) :]
        else:
            prefix = ""
        if keynames.plausible(candidate, category, strict=keynames.is_bare_key(key or "")):
            found = [Finding(category, len(prefix), len(value)), *found]
            text = f"{prefix}[REDACTED:{category}]"
    return text, [Finding(f.category, f.start, f.end, path) for f in found]


def _walk(
    value: Any, key: str | None, path: Path, hash_key: bytes | None, out: list[Finding]
) -> Any:
    if isinstance(value, str):
        text, found = _string(value, key, path, hash_key)
        out.extend(found)
        return text
    if isinstance(value, dict):
        result: dict[Any, Any] = {}
        for k, v in value.items():
            new_key = k
            if isinstance(k, str):
                new_key, key_found = redact(k, hash_key=hash_key)
                if new_key in result:
                    n = 2
                    while f"{new_key}#{n}" in result:
                        n += 1
                    new_key = f"{new_key}#{n}"
                out.extend(Finding(f.category, f.start, f.end, path, True) for f in key_found)
            result[new_key] = _walk(
                v, k if isinstance(k, str) else None, (*path, new_key), hash_key, out
            )
        return result
    if isinstance(value, list):
        return [_walk(v, None, (*path, i), hash_key, out) for i, v in enumerate(value)]
    if isinstance(value, tuple):
        return tuple(_walk(v, None, (*path, i), hash_key, out) for i, v in enumerate(value))
    return value


def redact_json(value: Any, *, hash_key: bytes | None = None) -> tuple[Any, list[Finding]]:
    """``value`` (as ``json.loads`` gives it) with every string redacted and the structure
    kept: same keys (unless a key itself held something to redact), same list lengths, other
    values untouched. Findings carry the path of the string they were found in."""
    findings: list[Finding] = []
    return _walk(value, None, (), hash_key, findings), findings
