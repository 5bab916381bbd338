"""UsageEvents as the gateway leaves them for the writer, for tests that drive the writer or
the evidence recorder directly."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from previewgate.usage.events import UsageEvent


def usage_event(**fields: Any) -> UsageEvent:
    """A successful, unattributed request; ``fields`` override any value."""
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "created_at": datetime.now(UTC),
        "user_id": None,
        "public_model_id": "m",
        "status_code": 200,
        "has_error": False,
        "error_kind": None,
        "input_tokens": 1,
        "output_tokens": 1,
        "cached_tokens": None,
        "cost_microusd": 0,
        "ttfb_ms": 1,
        "total_ms": 2,
        "session_id": None,
        "machine_id": None,
        "client_ip": None,
        "streamed": False,
        "client_meta": None,
    }
    return UsageEvent(**{**values, **fields})
