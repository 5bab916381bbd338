"""Anthropic Messages (``POST /v1/messages``), as a client format and as an upstream format."""

from __future__ import annotations

from typing import Any

from previewgate.errors import PreviewGateError
from previewgate.formats.anthropic import answer, request
from previewgate.formats.anthropic.stream import AnthropicDecoder, AnthropicEncoder
from previewgate.formats.codec import (
    ClientFormat,
    Doc,
    ReplyContext,
    StreamDecoder,
    StreamEncoder,
    UpstreamFormat,
)

ANTHROPIC_VERSION = b"2023-06-01"


class MessagesClient(ClientFormat):
    kind = "messages"
    api_format = "anthropic-messages"
    path = "/messages"

    def parse(self, body: Any) -> Doc:
        return request.parse_messages_body(body)

    def to_canonical(self, body: Doc) -> Doc:
        return request.to_canonical(body, strict=True)

    def pass_through(self, body: Doc) -> Doc:
        return request.without_unsigned_thinking(body)

    def answer(self, completion: Doc, ctx: ReplyContext) -> Doc:
        return answer.answer_from_canonical(completion, ctx)

    def encoder(self, ctx: ReplyContext) -> StreamEncoder:
        return AnthropicEncoder(ctx)

    def error_doc(self, error: PreviewGateError) -> Doc:
        return answer.error_doc(error)


class AnthropicUpstream(UpstreamFormat):
    api_format = "anthropic-messages"
    path = "/messages"
    envelope = "message"

    def from_canonical(self, request_: Doc) -> Doc:
        return request.from_canonical(request_)

    def to_canonical(self, body: Doc) -> Doc:
        return request.to_canonical(body, strict=False)

    def answer(self, doc: Doc) -> Doc:
        return answer.answer_to_canonical(doc)

    def decoder(self) -> StreamDecoder:
        return AnthropicDecoder()

    def auth_headers(self, api_key: str | None, extra: bytes = b"") -> tuple[bytes, bytes]:
        return b"\r\nx-api-key: ", b"\r\nanthropic-version: " + ANTHROPIC_VERSION + extra
