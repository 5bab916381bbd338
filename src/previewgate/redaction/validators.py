"""Checks that tell a real-looking value from a placeholder, a reference or plain text.

Each rule's pattern finds candidates; these decide. They are cheap and pure, and none of them
keeps or returns the value it looks at.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import math
import re
import zlib
from collections import Counter

# Words that make a value a stand-in rather than a credential, looked for in its lower-case
# form: a random token would need four or more given letters in a row to be kept by mistake.
_PLACEHOLDER_WORDS = (
    "example", "your", "placeholder", "changeme", "change_me", "change-me", "changeit",
    "replace", "redacted", "dummy", "sample", "fake", "xxxx", "...", "…", "***", "•••",
    "insert_", "insert-", "goeshere", "goes_here", "goes-here", "_here", "-here", "todo",
    "fixme", "notreal", "not_a_real", "not-a-real", "mysecret", "my_secret", "my-secret",
    "mypassword", "my_password", "my-password", "mytoken", "my_token", "my-token",
    "myapikey", "my_api_key", "my-api-key",
)  # fmt: skip
# Whole values that are placeholders, defaults or literals of a language rather than secrets.
_PLACEHOLDER_VALUES = frozenset(
    {
        "password", "passwd", "pass", "secret", "token", "apikey", "api_key", "api-key",
        "changeme", "admin", "root", "test", "testing", "tester", "guest", "default", "none",
        "null", "nil", "true", "false", "yes", "no", "on", "off", "undefined", "empty",
        "string", "str", "int", "number", "boolean", "bool", "any", "object", "bytes",
        "optional", "required", "unknown", "hidden", "masked", "secret_key", "access_token",
        "your-token", "your_token", "mypassword", "letmein", "qwerty", "abc123", "foobar",
        "private", "public", "credentials", "bearer", "basic", "token_here", "xxx",
    }
)  # fmt: skip
# References to a value kept elsewhere: shell and template variables, vault lookups.
_REFERENCE = re.compile(
    r"^(?:\$|%[A-Za-z_(]|\{\{|<[^>]*>?$|@(?:Value|Named)\b|!(?:vault|Ref|Sub|GetAtt|secret)|"
    r"&|\*[A-Za-z]|env\(|ENV\[|process\.env|os\.environ|getenv|secrets\.|vault:|"
    r"arn:aws:secretsmanager|ref\+|sm://|projects/[^/]+/secrets/)"
)
_MARKER = "[REDACTED"


def shannon_entropy(value: str) -> float:
    """Bits per character of ``value``'s own distribution (0 for the empty string)."""
    value = value[:128]  # enough to tell a key from a placeholder, and bounded in cost
    length = len(value)
    if not length:
        return 0.0
    table = _C_LOG_C if length < len(_C_LOG_C) else None
    counts = Counter(value).values()
    if table is None:
        return math.log2(length) - sum(c * math.log2(c) for c in counts) / length
    return math.log2(length) - sum(map(table.__getitem__, counts)) / length


# c·log2(c) for the counts of short values: entropy without a logarithm per character.
_C_LOG_C = [0.0] + [c * math.log2(c) for c in range(1, 4097)]


def is_placeholder(value: str) -> bool:
    """Whether ``value`` is a documented stand-in (``YOUR_API_KEY``, ``sk-...``, ``<token>``,
    AWS's ``...EXAMPLE`` keys), a reference to a variable, or one of our own markers."""
    stripped = value.strip().strip("\"'`")
    if not stripped or _MARKER in stripped:
        return True
    lower = stripped.lower()
    if lower in _PLACEHOLDER_VALUES or _REFERENCE.match(stripped):
        return True
    if any(word in lower for word in _PLACEHOLDER_WORDS):
        return True
    # One character repeated, or two alternating: 000000, abababab, ********.
    return len(stripped) >= 4 and len(set(stripped[:16])) <= 2 and len(set(stripped)) <= 2


_DIGIT = re.compile(r"[0-9]").search
_OTHER = re.compile(r"[^A-Za-z0-9]").search


def char_kinds(value: str) -> int:
    """How many of lower case, upper case, digits and other characters ``value`` uses."""
    return (
        (value != value.upper())
        + (value != value.lower())
        + (_DIGIT(value) is not None)
        + (_OTHER(value) is not None)
    )


def has_digit(value: str) -> bool:
    return _DIGIT(value) is not None


def looks_random(value: str, *, min_len: int = 16, min_entropy: float = 3.0) -> bool:
    """A token-like value: long enough, varied enough and not a placeholder."""
    if len(value) < min_len or is_placeholder(value):
        return False
    if shannon_entropy(value) < min_entropy:
        return False
    return has_digit(value) or char_kinds(value) >= 2


_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def base62(number: int, width: int) -> str:
    digits = []
    while number:
        number, rest = divmod(number, 62)
        digits.append(_BASE62[rest])
    return "".join(reversed(digits)).rjust(width, "0")


def crc32_suffix_ok(token: str, prefix_len: int) -> bool:
    """GitHub and npm tokens end in six base62 characters of the CRC-32 of the random part."""
    body, check = token[prefix_len:-6], token[-6:]
    return base62(zlib.crc32(body.encode()), 6) == check


def _b64url_json(segment: str) -> object:
    padded = segment + "=" * (-len(segment) % 4)
    return json.loads(base64.urlsafe_b64decode(padded))


def is_jwt(token: str) -> bool:
    """Three (or five, JWE) base64url parts whose first decodes to a JSON header."""
    parts = token.split(".")
    if len(parts) not in (3, 5):
        return False
    try:
        header = _b64url_json(parts[0])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return False
    return isinstance(header, dict) and bool({"alg", "typ", "enc", "kid"} & header.keys())


def is_basic_credential(token: str) -> bool:
    """A ``Basic`` header value: base64 of ``user:password``."""
    try:
        raw = base64.b64decode(token + "=" * (-len(token) % 4), validate=True)
        decoded = raw.decode("utf-8")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return False
    return ":" in decoded and decoded.isprintable() and not is_placeholder(decoded)


def ip_is_public_interest(address: str) -> bool:
    """Whether an address says something about someone: loopback, unspecified, broadcast,
    multicast, netmasks and the documentation ranges (RFC 5737, RFC 3849) do not."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if ip.is_loopback or ip.is_unspecified or ip.is_multicast:
        return False
    number = int(ip)
    if ip.version == 4:
        if number >> 24 == 255:  # broadcast and netmasks
            return False
        return not any(low <= number <= high for low, high in _DOC_V4)
    return not _DOC_V6[0] <= number <= _DOC_V6[1]


def _range(network: str) -> tuple[int, int]:
    net = ipaddress.ip_network(network)
    return int(net.network_address), int(net.broadcast_address)


_DOC_V4 = tuple(_range(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"))
_DOC_V6 = _range("2001:db8::/32")
