"""Prometheus metrics, one registry per process."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

disable_created_metrics()  # type: ignore[no-untyped-call]

REQUESTS = Counter("previewgate_requests_total", "Proxied requests", ["route", "status_class"])
LATENCY = Histogram(
    "previewgate_request_seconds",
    "Total request latency",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
TTFB = Histogram(
    "previewgate_ttfb_seconds",
    "Time to first upstream byte",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
LOOP_LAG = Histogram(
    "previewgate_event_loop_lag_seconds",
    "How late the event loop ran a task that was due (sampled every few ms)",
    buckets=(0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 1),
)
UPSTREAM_ERRORS = Counter("previewgate_upstream_errors_total", "Upstream failures", ["kind"])
WRITER_QUEUE = Gauge("previewgate_writer_queue_depth", "Usage events waiting to be written")
WRITER_WRITTEN = Counter("previewgate_writer_rows_total", "Rows written", ["table"])
WRITER_FAILURES = Counter("previewgate_writer_failures_total", "Failed write attempts")
WRITER_DROPPED = Counter(
    "previewgate_writer_dropped_total", "Usage events dropped because the buffer was full"
)
ATTRIBUTION_FAILURES = Counter(
    "previewgate_attribution_failures_total", "Attribution rows that could not be written"
)
BLOB_FAILURES = Counter("previewgate_blob_failures_total", "Blob writes that failed")
CACHE_RELOADS = Counter("previewgate_cache_reloads_total", "Routing state reloads")
CACHE_RELOAD_FAILURES = Counter(
    "previewgate_cache_reload_failures_total", "Routing state reloads that failed"
)
CACHE_INVALIDATIONS = Counter(
    "previewgate_cache_invalidations_total", "Invalidation messages received over Redis"
)
ROUTING_GENERATION_POLLS = Counter(
    "previewgate_routing_generation_polls_total", "Reads of the store's routing generation"
)
_KEY_LOOKUPS = Counter(
    "previewgate_key_lookups_total",
    "API keys not in the routing state, by outcome (found, missing and error reached the store)",
    ["result"],
)
KEY_LOOKUPS = {
    r: _KEY_LOOKUPS.labels(r)
    for r in ("found", "missing", "error", "joined", "remembered_missing", "limited")
}
WEBHOOK_DELIVERIES = Counter(
    "previewgate_webhook_deliveries_total", "Webhook deliveries finished", ["outcome"]
)
WEBHOOK_ATTEMPTS = Counter("previewgate_webhook_attempts_total", "Webhook attempts", ["result"])
WEBHOOK_LATENCY = Histogram(
    "previewgate_webhook_attempt_seconds",
    "Webhook attempt latency",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15),
)
WEBHOOK_ENDPOINTS = Gauge("previewgate_webhook_endpoints", "Webhook endpoints by state", ["state"])
WEBHOOK_BACKLOG = Gauge(
    "previewgate_webhook_backlog", "Webhook deliveries waiting or dead", ["status"]
)
WEBHOOK_ENDPOINTS_DISABLED = Counter(
    "previewgate_webhook_endpoints_disabled_total", "Webhook endpoints disabled by the worker"
)
INVARIANT_VIOLATIONS = Counter(
    "previewgate_invariant_violations_total", "Requests refused by a broken invariant", ["kind"]
)

# Label children resolved once: the hot path should not pay for label lookups per request.
CHAT_REQUESTS = {n: REQUESTS.labels("chat", f"{n}xx") for n in range(1, 6)}
CHAT_LATENCY = LATENCY.labels("chat")
CHAT_TTFB = TTFB.labels("chat")
