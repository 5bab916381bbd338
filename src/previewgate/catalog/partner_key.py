"""The one rule for partner (upstream) API keys, applied on every path a key comes in by.

A partner key ends up in an ``Authorization: Bearer <key>`` header sent upstream, so it
must be a valid header token: printable ASCII only (0x21-0x7E). That refuses spaces,
tabs, CR/LF (which would inject headers), other control characters and anything outside
ASCII (which cannot be encoded into the header and would fail every routed request).

Length: 1 to ``PARTNER_KEY_MAX_LENGTH`` (2048) characters. Provider keys today are 32-200
characters; 2048 leaves room for JWT-style bearer tokens and OAuth access tokens (Google
documents up to 2048 bytes) while keeping the header far below the 8 KiB header limit of
common servers and proxies.

Messages name the problem and its position, never the key text or any part of it.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from previewgate.crypto import DecryptionFailed, EncryptionKeyMissing, KeyCipher
from previewgate.errors import Unprocessable

PARTNER_KEY_MAX_LENGTH = 2048
_FIRST, _LAST = 0x21, 0x7E


def partner_key_problem(key: str) -> str | None:
    """Why ``key`` is not acceptable as a partner key, or None when it is."""
    if not key:
        return "the partner key is empty"
    if len(key) > PARTNER_KEY_MAX_LENGTH:
        return f"the partner key is longer than {PARTNER_KEY_MAX_LENGTH} characters"
    for position, char in enumerate(key, start=1):
        code = ord(char)
        if _FIRST <= code <= _LAST:
            continue
        if char.isspace():
            kind = "whitespace (a space or line break)"
        elif code < 0x80:
            kind = "a control character"
        else:
            kind = "a non-ASCII character"
        return (
            f"the partner key contains {kind} at position {position}; "
            "only printable ASCII characters (0x21-0x7E) are allowed"
        )
    return None


def _checked(key: str) -> str:
    problem = partner_key_problem(key)
    if problem is not None:
        raise ValueError(problem)
    return key


# For input schemas: the same rule, reported as a field error.
PartnerKey = Annotated[str, AfterValidator(_checked)]


def require_partner_key(key: str) -> str:
    """``key`` unchanged, or ``Unprocessable`` (422) saying why; services call this."""
    problem = partner_key_problem(key)
    if problem is not None:
        raise Unprocessable(problem)
    return key


def open_partner_key(cipher: KeyCipher, sealed: dict[str, str] | None) -> tuple[str | None, bool]:
    """The stored key in clear, and whether it is unusable (undecryptable or against the rule).

    ``(None, False)`` means no key is stored. A key stored before the rule existed (CR/LF,
    non-ASCII) cannot go into a header: it counts as unusable, so routing fails closed.
    """
    if sealed is None:
        return None, False
    try:
        key = cipher.decrypt(sealed)
    except (DecryptionFailed, EncryptionKeyMissing):
        return None, True
    if partner_key_problem(key) is not None:
        return None, True
    return key, False
