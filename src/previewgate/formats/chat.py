"""OpenAI chat completions: the canonical format, so both directions are the identity."""

from __future__ import annotations

from typing import Any

import orjson

from previewgate.errors import BadRequest, InvalidJson, PreviewGateError
from previewgate.formats.codec import (
    ClientFormat,
    Doc,
    ReplyContext,
    StreamDecoder,
    StreamEncoder,
    UpstreamFormat,
)

MAX_MODEL_ID = 200  # the width of usage.public_model_id
_DONE = b"data: [DONE]\n\n"


def load_object(raw: bytes) -> Doc:
    """A request body that must be a JSON object."""
    if not raw:
        raise InvalidJson("request body is empty; expected a JSON object")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidJson(f"request body is not valid JSON: {exc.msg}") from exc
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object")
    return body


def check_common(body: Doc) -> None:
    """``model`` and ``stream``, which every format has."""
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise BadRequest("'model' is required and must be a non-empty string", code="missing_model")
    if len(model) > MAX_MODEL_ID or not model.isprintable():
        raise BadRequest(
            f"'model' must be at most {MAX_MODEL_ID} printable characters", code="invalid_model"
        )
    stream = body.get("stream", False)
    if stream is not None and not isinstance(stream, bool):
        raise BadRequest("'stream' must be a boolean")


def parse_chat_body(raw: bytes) -> Doc:
    body = load_object(raw)
    check_common(body)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest(
            "'messages' is required and must be a non-empty array", code="missing_messages"
        )
    if not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages):
        raise BadRequest("each message must be an object with a 'role'", code="invalid_messages")
    return body


def client_wants_usage(body: Doc) -> bool:
    usage = body.get("usage")
    options = body.get("stream_options")
    return (isinstance(usage, dict) and usage.get("include") is True) or (
        isinstance(options, dict) and options.get("include_usage") is True
    )


class ChatEncoder(StreamEncoder):
    __slots__ = ()

    def start(self) -> bytes:
        return b""

    def chunk(self, doc: Doc) -> bytes:
        return b"data: " + orjson.dumps(doc) + b"\n\n"

    def end(self) -> bytes:
        return _DONE

    def error(self, error: PreviewGateError) -> bytes:
        return b"data: " + error.render() + b"\n\n"


_ENCODER = ChatEncoder()


class ChatClient(ClientFormat):
    kind = "chat"
    api_format = "openai-chat"
    path = "/chat/completions"

    def parse(self, body: Any) -> Doc:
        return parse_chat_body(body)

    def to_canonical(self, body: Doc) -> Doc:
        return body

    def wants_usage(self, body: Doc) -> bool:
        return client_wants_usage(body)

    def answer(self, completion: Doc, ctx: ReplyContext) -> Doc:
        return completion

    def encoder(self, ctx: ReplyContext) -> StreamEncoder:
        return _ENCODER  # stateless

    def error_doc(self, error: PreviewGateError) -> Doc:
        return error.body()

    def error_body(self, error: PreviewGateError) -> bytes:
        return error.render()


class _Same(StreamDecoder):
    __slots__ = ()

    def feed(self, event: Doc) -> list[Doc]:
        return [event]


_SAME = _Same()


class ChatUpstream(UpstreamFormat):
    api_format = "openai-chat"
    path = "/chat/completions"

    def from_canonical(self, request: Doc) -> Doc:
        return request

    def to_canonical(self, body: Doc) -> Doc:
        return body

    def answer(self, doc: Doc) -> Doc:
        return doc

    def decoder(self) -> StreamDecoder:
        return _SAME

    def prepare(self, body: Doc, stream: bool) -> None:
        if stream:
            options = body.get("stream_options")
            options = dict(options) if isinstance(options, dict) else {}
            # Token counts for every streamed request come from the final usage chunk.
            options["include_usage"] = True
            body["stream_options"] = options
