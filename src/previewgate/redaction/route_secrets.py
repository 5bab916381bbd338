"""Removing a route's own secrets from text we keep or relay: its key, base URL and host.

Used where upstream text is kept on purpose — faithful error bodies (production routes) and
the evidence of experimented requests — as a second line of defence: what an experimented
client receives is rebuilt from an allowlist and needs no scrubbing.

Every form is matched without regard to case: the key itself, its common masked form
(first 8 characters, a run of ``*``, ``.``, ``…`` or ``x``, the last 4), URLs with and without
their trailing slash, their ``host:port`` and host, and a password in the URL.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from urllib.parse import urlsplit

REDACTED = "[redacted]"
_MASK = r"(?:\*|\.|…|x|X|•){2,}"
_MIN_MASKED_KEY = 16  # shorter keys have too little on either side of a mask to match safely


def _forms(secret: str) -> list[str]:
    if "://" not in secret:
        forms = [re.escape(secret)]
        if len(secret) >= _MIN_MASKED_KEY:
            forms.append(re.escape(secret[:8]) + _MASK + re.escape(secret[-4:]))
        return forms
    forms = [re.escape(secret), re.escape(secret.rstrip("/"))]
    try:
        parts = urlsplit(secret)
    except ValueError:  # e.g. a broken IPv6 literal: the text itself is still matched
        return forms
    try:
        port = parts.port
    except ValueError:  # a port that is not a number: the netloc still matches
        port = None
    host_port = f"{parts.hostname}:{port}" if parts.hostname and port else None
    for variant in (parts.netloc, host_port, parts.hostname, parts.password):
        if variant:
            forms.append(re.escape(variant))
    return forms


@lru_cache(maxsize=256)
def _pattern(secrets: tuple[str, ...]) -> re.Pattern[str] | None:
    forms = {form for secret in secrets if secret for form in _forms(secret)}
    if not forms:
        return None
    # Longest first: a URL is replaced whole before its host is.
    return re.compile("|".join(sorted(forms, key=len, reverse=True)), re.IGNORECASE)


def mentions(text: str, secrets: Sequence[str]) -> bool:
    """Whether ``text`` holds any form of any secret."""
    pattern = _pattern(tuple(secrets))
    return pattern is not None and pattern.search(text) is not None


def survives_json(secrets: Sequence[str]) -> bool:
    """Whether every secret is written as itself inside a JSON string (no quote, backslash or
    control character to escape), so a search of serialised JSON finds it."""
    return all(s.isprintable() and '"' not in s and "\\" not in s for s in secrets)


def redact(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every form of every secret replaced by ``[redacted]``."""
    pattern = _pattern(tuple(secrets))
    return text if pattern is None else pattern.sub(REDACTED, text)
