"""An OTLP/HTTP trace receiver on loopback: what a collector would get from the gateway.

It accepts ``POST /v1/traces`` (protobuf), keeps every decoded span, and answers with an
empty ``ExportTraceServiceResponse``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest


@dataclass
class ReceivedSpan:
    name: str
    service: str
    trace_id: str  # hex
    attributes: dict[str, Any]
    raw: str  # the span and its resource as JSON: what a secret scan reads


class OtlpReceiver:
    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self.paths: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                receiver.paths.append(self.path)
                receiver._take(body)
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _take(self, body: bytes) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        for resource_spans in request.resource_spans:
            resource = MessageToDict(resource_spans.resource)
            service = next(
                (
                    a["value"].get("stringValue", "")
                    for a in resource.get("attributes", [])
                    if a["key"] == "service.name"
                ),
                "",
            )
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    as_dict = MessageToDict(span)
                    attributes = {
                        a["key"]: next(iter(a["value"].values()), None)
                        for a in as_dict.get("attributes", [])
                    }
                    self.spans.append(
                        ReceivedSpan(
                            span.name,
                            service,
                            span.trace_id.hex(),
                            attributes,
                            str(as_dict) + str(resource),
                        )
                    )

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
