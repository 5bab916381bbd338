"""Upstream failures of experimented requests, as errors the gateway writes itself.

The upstream's status and error fields only choose one of a few categories; the message,
``type`` and ``code`` the client sees come from the table below, so no upstream text can
reach it (an upstream that names its checkpoint, its host or its key in an error says it to
nobody). ``retry-after`` survives only as a number of seconds.

=========================================  ======  ==========================  =============
upstream says                              status  code                        type
=========================================  ======  ==========================  =============
context window / length exceeded           400     context_length_exceeded     invalid_request_error
content policy / moderation                400     content_policy_violation    invalid_request_error
400, 409, 422 (other)                      400     invalid_request             invalid_request_error
413                                        413     payload_too_large           invalid_request_error
429 or a rate-limit code                   429     rate_limit_exceeded         rate_limit_error
408, 504                                   504     upstream_timeout            server_error
500, 502, 503                              same    upstream_error              server_error
anything else (401, 403, 404, 3xx, 6xx..)  502     upstream_error              server_error
=========================================  ======  ==========================  =============
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from previewgate.errors import (
    BadRequest,
    ContentPolicyViolation,
    ContextLengthExceeded,
    PayloadTooLarge,
    PreviewGateError,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
)

_CONTEXT = re.compile(
    r"context.?length|context.?window|maximum context|too many tokens|prompt is too long",
    re.IGNORECASE,
)
_POLICY = re.compile(r"content.?(policy|filter|management)|moderation|flagged|safety", re.I)
_RATE = re.compile(r"rate.?limit", re.IGNORECASE)
_SECONDS = re.compile(r"[0-9]{1,6}")
MAX_RETRY_AFTER_S = 86_400


def _words(detail: Any) -> str:
    """The upstream's own classification fields, joined for matching (never shown)."""
    if isinstance(detail, dict):
        inner = detail.get("error", detail)
        if isinstance(inner, dict):
            parts = [inner.get(k) for k in ("code", "type", "message", "status")]
            parts.append(detail.get("detail"))
            return " ".join(str(p) for p in parts if p is not None)[:4096]
        return str(inner)[:4096]
    return str(detail)[:4096] if detail is not None else ""


def embedded_status(detail: Any) -> int | None:
    """OpenRouter-style errors carry the HTTP status as ``error.code``."""
    inner = detail.get("error") if isinstance(detail, dict) else None
    code = inner.get("code") if isinstance(inner, dict) else None
    if isinstance(code, int) and not isinstance(code, bool) and 400 <= code <= 599:
        return code
    return None


def blind_error(status: int, detail: Any) -> PreviewGateError:
    """The gateway's error for an upstream failure with this HTTP ``status`` and parsed body.

    ``status`` is what the upstream answered (200 for an error carried in a 200 body or in
    a stream, in which case the body's own ``error.code`` is used when it is a status).
    """
    if status < 400:
        status = embedded_status(detail) or 502
    words = _words(detail)
    if status in (400, 413, 422) and _CONTEXT.search(words):
        return ContextLengthExceeded("The request exceeds the model's context length.")
    if status in (400, 403, 422) and _POLICY.search(words):
        return ContentPolicyViolation("The request was refused by the model's content policy.")
    if status == 429 or _RATE.search(words):
        return RateLimited("The model is receiving too many requests; retry shortly.")
    if status in (400, 409, 422):
        return BadRequest("The model could not process this request.")
    if status == 413:
        return PayloadTooLarge("The request is too large for the model.")
    if status in (408, 504):
        return UpstreamTimeout("The model took too long to answer.")
    if status in (500, 502, 503):
        return UpstreamError("The model failed to answer; retry shortly.", status=status)
    return UpstreamError("The model failed to answer; retry shortly.")


def retry_after(headers: Sequence[tuple[str, str]]) -> bytes | None:
    """A ``retry-after`` value we are willing to repeat: whole seconds, bounded."""
    for name, value in headers:
        if name == "retry-after":
            value = value.strip()
            if _SECONDS.fullmatch(value):
                return str(min(int(value), MAX_RETRY_AFTER_S)).encode()
            return None
    return None
