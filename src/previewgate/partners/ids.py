"""Ids a partner can join on and nobody else can."""

from __future__ import annotations

import hashlib
import hmac


def keyed_id(secret: bytes, kind: str, value: str) -> str:
    """HMAC-SHA256 of ``kind`` and ``value`` with the partner's secret, 32 hex digits: stable
    for that partner, not joinable across partners."""
    return hmac.new(secret, f"{kind}\x00{value}".encode(), hashlib.sha256).hexdigest()[:32]
