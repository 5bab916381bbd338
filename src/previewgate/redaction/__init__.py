"""Redaction of secrets and personal data from text we export.

``redact(text, *, hash_key=None) -> (text, findings)`` replaces provider credentials, private
keys, JWTs, secret values in configs, credentials in URLs and connection strings, e-mail
addresses, phone numbers, IP addresses, home-directory user names, SSH key material and
repository URLs (keyed hash) with typed markers such as ``[REDACTED:aws_secret_key]``.
``redact_json`` does the same for every string in a parsed JSON value, keeping its structure.
``REDACTOR_VERSION`` names the rule set. ``route_secrets`` is a separate module that removes a
route's own upstream key and URL.
"""

from previewgate.redaction.redactor import REDACTOR_VERSION, Finding, redact
from previewgate.redaction.walker import redact_json

__all__ = ["REDACTOR_VERSION", "Finding", "redact", "redact_json"]
