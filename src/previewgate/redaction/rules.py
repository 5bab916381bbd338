"""The rule table: every pattern the redactor runs, in three families.

- ``provider_rules``: credentials in their providers' own formats, private keys, JWTs.
- ``context_rules``: secrets known by the key, header, flag or URL part they stand in.
- ``pii_rules``: e-mail, phone, IP addresses, home-directory user names, repository URLs.

All patterns are RE2 syntax (linear time, no backtracking) and run on UTF-8 bytes. One
``re2.Set`` over the table tells which rules can match a text at all; only those run.
"""

from __future__ import annotations

from previewgate.redaction import context_rules, pii_rules, provider_rules
from previewgate.redaction.scan import Rule

RULES: tuple[Rule, ...] = provider_rules.RULES + context_rules.RULES + pii_rules.RULES
