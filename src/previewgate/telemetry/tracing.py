"""The process's OpenTelemetry tracer provider, when the environment asks for one.

Off by default: `Settings.trace_exporter` reads the OTEL_* variables that decide. The SDK
reads the others itself (``OTEL_EXPORTER_OTLP_*`` endpoint, headers and timeout,
``OTEL_TRACES_SAMPLER``, ``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_BSP_*``).
The SDK is imported only here and only when tracing is on: a gateway without tracing
loads none of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from previewgate.config import Settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

SERVICE_NAME = "previewgate"  # OTEL_SERVICE_NAME overrides it


def tracer_provider(settings: Settings) -> TracerProvider | None:
    """A provider exporting in batches from a background thread, or None when tracing is off.

    One per process (each worker builds its own after it starts); its ``shutdown`` flushes.
    """
    exporter = settings.trace_exporter
    if exporter is None:
        return None
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        ConsoleSpanExporter,
        SpanExporter,
    )

    span_exporter: SpanExporter
    if exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        span_exporter = OTLPSpanExporter()
    else:
        span_exporter = ConsoleSpanExporter()
    # The SDK's atexit hook would flush again after our own shutdown: ours is enough.
    provider = TracerProvider(
        resource=Resource.create({"service.name": SERVICE_NAME}), shutdown_on_exit=False
    )
    provider.add_span_processor(BatchSpanProcessor(span_exporter))
    return provider
