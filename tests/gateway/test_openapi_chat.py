"""``POST /v1/chat/completions`` in ``/openapi.json``, and real answers match its schemas."""

from __future__ import annotations

import json
import types
import typing
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from previewgate.gateway.schemas import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatErrorResponse,
)
from tests.support.experiments import PREVIEW_ID, admin_client, create_preview_model
from tests.support.experiments import start_experiment as start
from tests.support.seed import serve_model
from tests.support.servers import GatewayServer, MockServer

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "read_file",
            "parameters": {
                "type": "object",
                "properties": {"path": {"type": "string"}},
                "required": ["path"],
            },
        },
    }
]


def _models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is not None:
        return [m for arg in typing.get_args(annotation) for m in _models(arg)]
    return []


def undocumented(model: type[BaseModel], data: dict[str, Any], at: str = "") -> list[str]:
    """Every key of ``data`` (recursively) that ``model`` does not describe."""
    found = []
    for key, value in data.items():
        field = model.model_fields.get(key)
        if field is None:
            found.append(at + key)
            continue
        for sub in _models(field.annotation):
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, dict):
                    found += undocumented(sub, item, f"{at}{key}.")
    return found


def test_the_document_describes_the_chat_path(gateway: GatewayServer) -> None:
    document = httpx.get(f"{gateway.base_url}/openapi.json").json()
    operation = document["paths"]["/v1/chat/completions"]["post"]
    schemas = document["components"]["schemas"]

    def resolve(ref: dict[str, str]) -> dict[str, Any]:
        return schemas[ref["$ref"].rsplit("/", 1)[1]]  # type: ignore[no-any-return]

    request = resolve(operation["requestBody"]["content"]["application/json"]["schema"])
    assert request["title"] == "ChatCompletionRequest"
    assert set(request["required"]) == {"model", "messages"}
    assert {"stream", "tools", "usage", "provider"} <= set(request["properties"])
    answer = operation["responses"]["200"]["content"]
    assert resolve(answer["application/json"]["schema"])["title"] == "ChatCompletion"
    assert resolve(answer["text/event-stream"]["schema"])["title"] == "ChatCompletionChunk"
    assert "x-request-id" in operation["responses"]["200"]["headers"]
    for status in ("400", "401", "403", "404", "413", "503"):
        error = operation["responses"][status]["content"]["application/json"]["schema"]
        assert resolve(error)["title"] == "ChatErrorResponse"
    # Documented, not routed: FastAPI would answer a bad body with 422; the hot path says 400.
    r = httpx.post(f"{gateway.base_url}/v1/chat/completions", content=b"{")
    assert r.status_code == 400 and not undocumented(ChatErrorResponse, r.json())


def _answers(gateway: GatewayServer, model: str, **extra: Any) -> list[dict[str, Any]]:
    """The JSON answer and the streamed chunks of one request each."""
    body = {"model": model, "messages": [{"role": "user", "content": "Hi"}], **extra}
    assert not undocumented(ChatCompletionRequest, body)
    headers = {"x-machine-id": "doc-machine"}
    url = f"{gateway.base_url}/v1/chat/completions"
    answer = httpx.post(url, json=body, headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text
    streamed = httpx.post(url, json=body | {"stream": True}, headers=headers, timeout=30)
    assert streamed.status_code == 200, streamed.text
    chunks = [
        json.loads(line[6:]) for line in streamed.text.splitlines() if line.startswith("data: {")
    ]
    return [answer.json(), *chunks]


@pytest.mark.parametrize("tools", [False, True])
def test_real_answers_match_the_documented_schemas(
    backend: str, gateway: GatewayServer, mock: MockServer, tools: bool
) -> None:
    admin = admin_client(gateway)
    create_preview_model(admin)
    start(admin, [mock], allow_anonymous=True)
    serve_model(gateway, mock.base_url)
    extra: dict[str, Any] = {"usage": {"include": True}, "stream_options": {"include_usage": True}}
    if tools:
        extra["tools"] = TOOLS
    for model in (PREVIEW_ID, "demo/prod"):  # blind (rebuilt) and faithful (relayed)
        answer, *chunks = _answers(gateway, model, **extra)
        ChatCompletion.model_validate(answer)
        assert not undocumented(ChatCompletion, answer), model
        for chunk in chunks:
            ChatCompletionChunk.model_validate(chunk)
            assert not undocumented(ChatCompletionChunk, chunk), (model, chunk)
        choices = [choice for chunk in chunks for choice in chunk["choices"]]
        finish = {choice.get("finish_reason") for choice in choices} - {None}
        assert finish == {"tool_calls" if tools else "stop"}
        assert answer["choices"][0]["finish_reason"] == ("tool_calls" if tools else "stop")
        if tools:
            [call] = answer["choices"][0]["message"]["tool_calls"]
            assert call["function"] == {"name": "read_file", "arguments": '{"path":"demo"}'}
            streamed = "".join(
                tc["function"].get("arguments", "")
                for choice in choices
                for tc in choice["delta"].get("tool_calls") or []
            )
            assert streamed == '{"path":"demo"}'
