"""One INFO line per chat request on the ``previewgate.access`` logger.

It names the request by the gateway's own id and the model by its public id, and says how
the request was routed and ended: never a key, a prompt, or an experimented request's
internal id or upstream. Below INFO (``PREVIEWGATE_LOG_LEVEL=WARNING``) nothing is built.
"""

from __future__ import annotations

import logging

from previewgate.errors import PreviewGateError
from previewgate.gateway.resolve import RouteDecision
from previewgate.usage.events import UsageEvent

ACCESS = logging.getLogger("previewgate.access")


def enabled() -> bool:
    return ACCESS.isEnabledFor(logging.INFO)


def finished(
    route: RouteDecision, event: UsageEvent, response_id: str, trace_id: str | None
) -> None:
    error = f" {event.error_kind}" if event.has_error and event.error_kind else ""
    ACCESS.info(
        "chat %s %s -> %d in %d ms%s",
        route.kind,
        route.public_id,
        event.status_code,
        event.total_ms,
        error,
        extra={
            "request_id": response_id,
            "route": route.kind,
            "model": route.public_id,
            "status": event.status_code,
            "latency_ms": event.total_ms,
            "ttfb_ms": event.ttfb_ms,
            "error_kind": event.error_kind if event.has_error else None,
            "streamed": event.streamed,
            "trace_id": trace_id,
        },
    )


def refused(
    model: str | None, error: PreviewGateError, latency_ms: int, trace_id: str | None
) -> None:
    """A request the gateway answered itself (bad input, a refusal by the routing rules)."""
    ACCESS.info(
        "chat refused %s -> %d %s in %d ms",
        model or "-",
        error.status,
        error.code,
        latency_ms,
        extra={
            "model": model,
            "status": error.status,
            "latency_ms": latency_ms,
            "error_kind": error.code,
            "trace_id": trace_id,
        },
    )
