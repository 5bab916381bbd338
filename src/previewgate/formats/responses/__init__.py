"""OpenAI Responses (``POST /v1/responses``), as a client format and as an upstream format."""

from __future__ import annotations

from typing import Any

from previewgate.errors import PreviewGateError
from previewgate.formats.codec import (
    ClientFormat,
    Doc,
    ReplyContext,
    StreamDecoder,
    StreamEncoder,
    UpstreamFormat,
)
from previewgate.formats.responses import answer, request
from previewgate.formats.responses.stream import ResponsesDecoder, ResponsesEncoder


class ResponsesClient(ClientFormat):
    kind = "responses"
    api_format = "openai-responses"
    path = "/responses"

    def parse(self, body: Any) -> Doc:
        return request.parse_responses_body(body)

    def to_canonical(self, body: Doc) -> Doc:
        return request.to_canonical(body, strict=True)

    def pass_through(self, body: Doc) -> Doc:
        return request.without_gateway_items(body)

    def answer(self, completion: Doc, ctx: ReplyContext) -> Doc:
        return answer.answer_from_canonical(completion, ctx)

    def encoder(self, ctx: ReplyContext) -> StreamEncoder:
        return ResponsesEncoder(ctx)

    def error_doc(self, error: PreviewGateError) -> Doc:
        return error.body()


class ResponsesUpstream(UpstreamFormat):
    api_format = "openai-responses"
    path = "/responses"
    envelope = "response"

    def from_canonical(self, request_: Doc) -> Doc:
        return request.from_canonical(request_)

    def to_canonical(self, body: Doc) -> Doc:
        return request.to_canonical(body, strict=False)

    def answer(self, doc: Doc) -> Doc:
        return answer.answer_to_canonical(doc)

    def decoder(self) -> StreamDecoder:
        return ResponsesDecoder()
