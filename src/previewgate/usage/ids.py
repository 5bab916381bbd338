"""The gateway's id for an answer: ``gen-`` and the hex of its usage row's id.

Clients see it (JSON ``id``, every SSE chunk, ``x-request-id``) and rate answers by it, so
it maps back to the usage and attribution rows without a column of its own.
"""

from __future__ import annotations

import uuid

RESPONSE_ID_PREFIX = "gen-"


def response_id(usage_id: uuid.UUID) -> str:
    """The gateway's id for an answer (JSON ``id``, every SSE chunk, ``x-request-id``)."""
    return RESPONSE_ID_PREFIX + usage_id.hex


def usage_id_of(value: str) -> uuid.UUID | None:
    """The usage id behind a response id made by ``response_id``; None for any other text."""
    if not value.startswith(RESPONSE_ID_PREFIX):
        return None
    digits = value[len(RESPONSE_ID_PREFIX) :]
    if len(digits) != 32 or digits.strip("0123456789abcdef"):
        return None
    return uuid.UUID(hex=digits)
