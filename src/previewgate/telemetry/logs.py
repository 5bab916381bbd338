"""Log lines: human-readable by default, one JSON object per line with
``PREVIEWGATE_LOG_FORMAT=json``.

A JSON line always has ``time`` (UTC, ISO 8601), ``level``, ``logger`` and ``message``,
plus the request fields a record carries (`REQUEST_FIELDS`, passed with ``extra=``) and the
traceback as ``exception``. What goes into a record is the caller's care: the gateway never
logs keys, prompts or an experimented request's internal id or upstream, in either format.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Literal

import orjson

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Fields a record may carry with ``extra=`` and a JSON line then shows, in this order.
REQUEST_FIELDS = (
    "request_id",
    "route",
    "model",
    "status",
    "latency_ms",
    "ttfb_ms",
    "error_kind",
    "streamed",
    "trace_id",
)


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (newlines in text are escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = record.__dict__
        for name in REQUEST_FIELDS:
            value = fields.get(name)
            if value is not None:
                doc[name] = value
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            doc["exception"] = record.exc_text
        if record.stack_info:
            doc["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(doc, default=str).decode()


def formatter(fmt: Literal["text", "json"]) -> logging.Formatter:
    return JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT)


def configure_logging(level: str, fmt: Literal["text", "json"] = "text") -> None:
    """The root logger's one handler (stderr) and level; every logger, uvicorn's included,
    writes through it."""
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(fmt))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
