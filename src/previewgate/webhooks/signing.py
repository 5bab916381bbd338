"""Standard Webhooks signatures (v1.0.0), by the ``standardwebhooks`` package.

``webhook-signature`` carries one ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``
per live secret, space-separated: during a rotation's grace period the previous secret
signs too, so a receiver verifying with either one accepts the delivery.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Sequence
from datetime import datetime

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # the spec allows 24-64


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(os.urandom(SECRET_BYTES)).decode()


def headers(message_id: str, at: datetime, body: str, secrets: Sequence[str]) -> dict[str, str]:
    signatures = " ".join(Webhook(secret).sign(message_id, at, body) for secret in secrets)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signatures,
        "content-type": "application/json",
    }
