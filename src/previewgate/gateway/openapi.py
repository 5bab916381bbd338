"""``POST /v1/chat/completions``, ``/v1/responses`` and ``/v1/messages`` in the app's OpenAPI
document.

The chat endpoint is a plain ASGI handler in front of FastAPI (``app.PreviewGateApp``), so
FastAPI never sees it and cannot describe it. ``document_chat(api)`` wraps ``api.openapi``
to merge the operation in, built from the models in ``gateway/schemas.py``; no request is
ever routed through FastAPI for it. The OpenRouter-style aliases of the path serve the same
operation and are named in its description only.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from previewgate.gateway.schemas import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatErrorResponse,
)

PATH = "/v1/chat/completions"
REF = "#/components/schemas/{model}"
ERRORS = {
    "400": "bad input: not JSON, no model or messages, a preview model with data collection "
    "denied, or the upstream refused the request",
    "401": "an invalid API key, or an anonymous caller on a model that needs a key",
    "402": "insufficient credit for a priced model",
    "403": "the preview model's disclosure has not been accepted (opt-in)",
    "404": "unknown model, or a paused experiment",
    "413": "request body too large",
    "429": "rate limited upstream (retry-after kept)",
    "502": "the upstream failed or answered nonsense",
    "503": "temporarily unavailable: routing state unknowable (fails closed)",
    "504": "the upstream timed out",
}
DESCRIPTION = """\
OpenAI-compatible chat completions, streamed (`stream: true`, `text/event-stream` of \
`chat.completion.chunk` events ending with `data: [DONE]`) or not. Also served at \
`/api/openrouter/v1/chat/completions` and `/api/openrouter/chat/completions`.

Authorization: `Bearer <API key>`, none, or `Bearer <PREVIEWGATE_ANONYMOUS_KEY>` (default \
`anonymous`) for an anonymous call. Every answer carries the gateway's response id \
`gen-<32 hex>` (JSON `id`, every chunk's `id`, `x-request-id` header): rate the answer with \
`POST /v1/feedback {"response_id": ..., "rating": "up"}`. Unknown fields are tolerated and \
forwarded; errors use the OpenAI shape `{"error": {"message", "type", "code"}}`."""
HEADERS = (
    ("x-client-request-id", "your id for the message (alias x-kilo-request)"),
    ("x-machine-id", "a stable id of the calling machine (alias x-kilocode-machineid)"),
    ("x-session-id", "your id for the conversation (alias x-kilo-session)"),
)


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def chat_schemas() -> dict[str, Any]:
    """The component schemas the operation refers to, by name."""
    answers = (ChatCompletion, ChatCompletionChunk, ChatErrorResponse)
    pairs = [(ChatCompletionRequest, "validation")] + [(m, "serialization") for m in answers]
    _, top = models_json_schema(pairs, ref_template=REF)  # type: ignore[arg-type]
    schemas: dict[str, Any] = top.get("$defs", {})
    return schemas


def chat_operation() -> dict[str, Any]:
    error = {"application/json": {"schema": _ref(ChatErrorResponse)}}
    return {
        "tags": ["chat"],
        "summary": "Create a chat completion",
        "operationId": "create_chat_completion",
        "description": DESCRIPTION,
        "parameters": [
            {"name": name, "in": "header", "required": False, "description": text}
            | {"schema": {"type": "string", "maxLength": 200}}
            for name, text in HEADERS
        ],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _ref(ChatCompletionRequest)}},
        },
        "responses": {
            "200": {
                "description": "the answer (JSON), or its chunks (SSE) when `stream` is true",
                "headers": {
                    "x-request-id": {
                        "description": "the response id, gen-<32 hex>",
                        "schema": {"type": "string"},
                    }
                },
                "content": {
                    "application/json": {"schema": _ref(ChatCompletion)},
                    "text/event-stream": {"schema": _ref(ChatCompletionChunk)},
                },
            },
            **{status: {"description": text, "content": error} for status, text in ERRORS.items()},
        },
    }


OPEN_OBJECT: dict[str, Any] = {"type": "object", "additionalProperties": True}
MODEL = {"type": "string", "minLength": 1, "maxLength": 200}
OTHER_APIS: dict[str, dict[str, Any]] = {
    "/v1/responses": {
        "operationId": "create_response",
        "summary": "Create a response (OpenAI Responses API)",
        "required": ["model", "input"],
        "properties": {
            "model": MODEL,
            "input": {"anyOf": [{"type": "string"}, {"type": "array", "items": OPEN_OBJECT}]},
            "instructions": {"type": "string"},
            "stream": {"type": "boolean"},
            "tools": {"type": "array", "items": OPEN_OBJECT},
        },
        "headers": (),
        "error": _ref(ChatErrorResponse),
    },
    "/v1/messages": {
        "operationId": "create_message",
        "summary": "Create a message (Anthropic Messages API)",
        "required": ["model", "max_tokens", "messages"],
        "properties": {
            "model": MODEL,
            "max_tokens": {"type": "integer", "minimum": 1},
            "messages": {"type": "array", "minItems": 1, "items": OPEN_OBJECT},
            "system": {"anyOf": [{"type": "string"}, {"type": "array", "items": OPEN_OBJECT}]},
            "stream": {"type": "boolean"},
            "tools": {"type": "array", "items": OPEN_OBJECT},
        },
        "headers": (("anthropic-version", "required: Anthropic's API version"),),
        "error": {
            "type": "object",
            "properties": {"type": {"const": "error"}, "error": OPEN_OBJECT},
        },
    },
}
OTHER_DESCRIPTION = (
    "The same models as chat completions, asked in another API's shape: streamed (typed "
    "`text/event-stream` events) or not; also served under `/api/openrouter/v1/` and "
    "`/api/openrouter/`. A model whose checkpoint speaks another API is translated; what "
    "cannot be translated is refused with 400 `unsupported_for_this_model` (docs/formats.md)."
)


def other_operation(spec: dict[str, Any]) -> dict[str, Any]:
    """A Responses or Messages operation: the shape's core fields, the rest open."""
    body = {"type": "object", "required": spec["required"], "properties": spec["properties"]}
    headers = [
        {"name": name, "in": "header", "required": True, "description": text}
        | {"schema": {"type": "string", "enum": ["2023-06-01"]}}
        for name, text in spec["headers"]
    ]
    error = {"application/json": {"schema": spec["error"]}}
    return {
        "tags": ["chat"],
        "summary": spec["summary"],
        "operationId": spec["operationId"],
        "description": OTHER_DESCRIPTION,
        "parameters": headers,
        "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
        "responses": {
            "200": {
                "description": "the answer (JSON), or its events (SSE) when `stream` is true",
                "content": {
                    "application/json": {"schema": OPEN_OBJECT},
                    "text/event-stream": {"schema": OPEN_OBJECT},
                },
            },
            **{status: {"description": text, "content": error} for status, text in ERRORS.items()},
        },
    }


def merge_chat(document: dict[str, Any]) -> dict[str, Any]:
    """Add the model operations and their schemas to ``document`` (in place; returned too)."""
    components = document.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in chat_schemas().items():
        if components.setdefault(name, schema) != schema:
            raise RuntimeError(f"OpenAPI schema name {name!r} is taken by another model")
    paths = document.setdefault("paths", {})
    paths[PATH] = {"post": chat_operation()}
    for path, spec in OTHER_APIS.items():
        paths[path] = {"post": other_operation(spec)}
    return document


def document_chat(api: FastAPI) -> None:
    """Make ``api.openapi()`` (and so ``/openapi.json`` and ``/docs``) include the chat path."""
    build = api.openapi

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            api.openapi_schema = merge_chat(build())
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]
