"""The value object a finished request leaves behind for the background writer."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from previewgate.evidence.sse_assembly import ResponseAssembler


@dataclass(slots=True)
class AttributionEvent:
    """Which checkpoint served an experimented request, and the raw material for its evidence."""

    variant_version_id: uuid.UUID
    allocation_subject: str
    client_request_id: str | None
    upstream_body: dict[str, Any]  # the body sent upstream, after all rewrites
    upstream_bytes: int  # its size as sent (JSON): how much work capturing it will be
    response: ResponseAssembler | None = None  # the answer as relayed, merged
    response_bytes: int = 0  # what the client received: how much work capturing it will be
    streamed: bool = False
    secrets: tuple[str, ...] = ()  # the slot's key and base URL: redacted from the evidence
    # The body's API format: it is captured in the canonical (chat) shape, read off the path.
    upstream_format: str = "openai-chat"
    request_kind: str = "chat"  # the client's API: chat | responses | messages


@dataclass(slots=True)
class UsageEvent:
    id: uuid.UUID
    created_at: datetime
    user_id: uuid.UUID | None
    public_model_id: str
    status_code: int
    has_error: bool
    error_kind: str | None
    input_tokens: int | None
    output_tokens: int | None
    cached_tokens: int | None
    cost_microusd: int
    ttfb_ms: int | None
    total_ms: int
    session_id: str | None
    machine_id: str | None
    client_ip: str | None
    streamed: bool
    client_meta: dict[str, Any] | None
    attribution: AttributionEvent | None = None
    upstream_response_id: str | None = None  # the upstream's own id (ours is gen-<id hex>)
    request_kind: str = "chat"  # the client's API: chat | responses | messages

    def usage_row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created_at": self.created_at,
            "user_id": self.user_id,
            "public_model_id": self.public_model_id,
            "request_kind": self.request_kind,
            "status_code": self.status_code,
            "has_error": self.has_error,
            "error_kind": self.error_kind,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cached_tokens": self.cached_tokens,
            "cost_microusd": self.cost_microusd,
            "ttfb_ms": self.ttfb_ms,
            "total_ms": self.total_ms,
            "session_id": self.session_id,
            "machine_id": self.machine_id,
            "client_ip": self.client_ip,
            "streamed": self.streamed,
            "client_meta": self.client_meta,
            "upstream_response_id": _printable(self.upstream_response_id),
        }


def _printable(value: str | None) -> str | None:
    """Upstream text bound for a column: no NUL (PostgreSQL refuses it), no lone surrogates,
    so a hostile id can never make the store refuse the usage row."""
    if value is None or value.isprintable():
        return value
    return "".join(ch for ch in value if ch.isprintable()) or None
