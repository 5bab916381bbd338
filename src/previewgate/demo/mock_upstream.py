"""A local OpenAI-compatible upstream for the demo, the tests and the benchmark.

Behaviour is chosen by the last user message when it starts with ``#mock:``:
``500``, ``429``, ``400``, ``drop`` (close the connection), ``slow=SECONDS``
(delay before the first byte), ``cut`` (stream stops mid-way), ``invalid_json``,
``big=BYTES`` (a large body). Every request received is recorded.

When the request offers ``tools`` (and ``tool_choice`` is not ``"none"``) and the last
message is not a tool result, the answer is a call of the chosen (else the first) tool, with
placeholder arguments for the tool's required parameters and ``finish_reason: "tool_calls"``,
in JSON or streamed in the OpenAI shape (the arguments arrive in pieces).

It also speaks Anthropic Messages (``/v1/messages``) and OpenAI Responses (``/v1/responses``),
in their own shapes (`mock_formats`), so a checkpoint of any ``api_format`` can be faked.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from previewgate.demo import mock_formats


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class MockUpstream:
    reply: str = "Hello! This is a reply from the demo upstream."
    # Error texts of real providers often echo the model id and the key prefix.
    leak_secrets_in_errors: bool = True
    requests: list[RecordedRequest] = field(default_factory=list)
    chunk_words: int = 1
    chunk_delay_s: float = 0.0  # pause between streamed chunks (a model that takes its time)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_post("/chat/completions", self.chat)
        app.router.add_post("/api/v1/chat/completions", self.chat)
        for path in ("/v1/messages", "/messages", "/v1/responses", "/responses"):
            app.router.add_post(path, self.other_format)
        return app

    async def other_format(self, request: web.Request) -> web.StreamResponse:
        body = orjson.loads(await request.read())
        self.requests.append(RecordedRequest(request.path, dict(request.headers), body))
        behaviour = _behaviour(body)
        if request.path.endswith("/messages"):
            handler = mock_formats.messages
            keyed = "x-api-key" in request.headers or "authorization" in request.headers
            if not keyed or not request.headers.get("anthropic-version"):
                error = {"type": "authentication_error", "message": "a key is required"}
                return web.json_response({"type": "error", "error": error}, status=401)
        else:
            handler = mock_formats.responses
        return await handler(request, body, self.reply, behaviour, len(self.requests))

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = orjson.loads(await request.read())
        self.requests.append(RecordedRequest(request.path, dict(request.headers), body))
        model = str(body.get("model", ""))
        behaviour = _behaviour(body)
        key = request.headers.get("Authorization", "")
        if behaviour.startswith("slow="):
            await asyncio.sleep(float(behaviour.split("=", 1)[1]))
        if behaviour == "drop":
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=500)
        if behaviour in ("500", "429", "400"):
            message = "upstream failure"
            if self.leak_secrets_in_errors:
                message = f"model {model} failed at {request.url} for key {key[7:]}"
            headers = {"retry-after": "1"} if behaviour == "429" else {}
            return web.json_response(
                {"error": {"message": message, "type": "server_error", "code": behaviour}},
                status=int(behaviour),
                headers={**headers, "x-upstream-model": model},
            )
        if behaviour == "invalid_json":
            return web.Response(body=b"{not json", content_type="application/json")
        text = self.reply
        if behaviour.startswith("big="):
            text = "x" * int(behaviour.split("=", 1)[1])
        call = tool_call(body, len(self.requests))
        usage = _usage(body, call["function"]["arguments"] if call else text)
        if body.get("stream"):
            if call is not None:
                return await self._stream_call(request, body, model, call, usage)
            return await self._stream(request, body, model, text, usage, behaviour == "cut")
        answer: dict[str, Any] = {"role": "assistant", "content": text}
        if call is not None:
            answer = {"role": "assistant", "content": None, "tool_calls": [call]}
        return web.json_response(
            {
                "id": "chatcmpl-mock",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": answer,
                        "finish_reason": "tool_calls" if call else "stop",
                    }
                ],
                "usage": usage,
            },
            headers={"x-request-id": "req-mock", "openai-model": model, "server": "mock"},
            dumps=lambda o: orjson.dumps(o).decode(),
        )

    async def _begin_stream(
        self, request: web.Request, model: str
    ) -> tuple[web.StreamResponse, Callable[[dict[str, Any]], Awaitable[None]]]:
        resp = web.StreamResponse(
            headers={
                "content-type": "text/event-stream",
                "x-request-id": "req-mock",
                "openai-model": model,
            }
        )
        await resp.prepare(request)
        base = {
            "id": "chatcmpl-mock",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
        }

        async def event(payload: dict[str, Any]) -> None:
            await resp.write(b"data: " + orjson.dumps({**base, **payload}) + b"\n\n")

        return resp, event

    async def _stream_call(
        self,
        request: web.Request,
        body: dict[str, Any],
        model: str,
        call: dict[str, Any],
        usage: dict[str, Any],
    ) -> web.StreamResponse:
        resp, event = await self._begin_stream(request, model)
        await event({"choices": [{"index": 0, "delta": {"role": "assistant", "content": None}}]})
        head = {"index": 0, "id": call["id"], "type": "function"}
        head["function"] = {"name": call["function"]["name"], "arguments": ""}
        await event({"choices": [{"index": 0, "delta": {"tool_calls": [head]}}]})
        arguments = call["function"]["arguments"]
        for i in range(0, len(arguments), 8):
            piece = {"index": 0, "function": {"arguments": arguments[i : i + 8]}}
            await event({"choices": [{"index": 0, "delta": {"tool_calls": [piece]}}]})
        await event({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})
        await self._end_stream(resp, event, body, usage)
        return resp

    async def _end_stream(
        self,
        resp: web.StreamResponse,
        event: Callable[[dict[str, Any]], Awaitable[None]],
        body: dict[str, Any],
        usage: dict[str, Any],
    ) -> None:
        options = body.get("stream_options") or {}
        if isinstance(options, dict) and options.get("include_usage"):
            await event({"choices": [], "usage": usage})
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()

    async def _stream(
        self,
        request: web.Request,
        body: dict[str, Any],
        model: str,
        text: str,
        usage: dict[str, Any],
        cut: bool,
    ) -> web.StreamResponse:
        resp, event = await self._begin_stream(request, model)
        await event({"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]})
        words = text.split(" ")
        for i in range(0, len(words), self.chunk_words):
            piece = " ".join(words[i : i + self.chunk_words])
            if i + self.chunk_words < len(words):
                piece += " "
            await event({"choices": [{"index": 0, "delta": {"content": piece}}]})
            if self.chunk_delay_s:
                await asyncio.sleep(self.chunk_delay_s)
            if cut and i >= len(words) // 2:
                assert request.transport is not None
                request.transport.close()
                return resp
        await event({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        await self._end_stream(resp, event, body, usage)
        return resp


def _behaviour(body: dict[str, Any]) -> str:
    """The ``#mock:`` word of the last user turn, in any of the three formats."""
    turns = body.get("messages") or body.get("input") or []
    if isinstance(turns, str):
        turns = [{"role": "user", "content": turns}]
    for message in reversed(turns):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list) and content and isinstance(content[-1], dict):
                content = content[-1].get("text")
            if isinstance(content, str) and content.startswith("#mock:"):
                return content[6:].split()[0]
            break
    return ""


# Placeholder argument values by JSON Schema type.
_PLACEHOLDERS: dict[str, Any] = {
    "string": "demo",
    "integer": 1,
    "number": 1,
    "boolean": True,
    "array": [],
    "object": {},
}


def tool_call(body: dict[str, Any], serial: int) -> dict[str, Any] | None:
    """The tool call a request gets, or None for a text answer (see the module docstring)."""
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict)]
    functions = [t["function"] for t in tools if isinstance(t.get("function"), dict)]
    functions = [f for f in functions if isinstance(f.get("name"), str) and f["name"]]
    choice = body.get("tool_choice")
    messages = body.get("messages") or []
    last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
    if not functions or choice == "none" or last.get("role") == "tool":
        return None
    chosen = functions[0]
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        wanted = choice["function"].get("name")
        chosen = next((f for f in functions if f["name"] == wanted), chosen)
    schema = chosen.get("parameters")
    schema = schema if isinstance(schema, dict) else {}
    properties = schema.get("properties")
    properties = properties if isinstance(properties, dict) else {}
    required = [r for r in schema.get("required") or [] if isinstance(r, str)]
    arguments = {}
    for name in required:
        spec = properties.get(name)
        kind = spec.get("type") if isinstance(spec, dict) else None
        arguments[name] = _PLACEHOLDERS.get(kind, "demo") if isinstance(kind, str) else "demo"
    return {
        "id": f"call_mock_{serial}",
        "type": "function",
        "function": {"name": chosen["name"], "arguments": orjson.dumps(arguments).decode()},
    }


def _usage(body: dict[str, Any], text: str) -> dict[str, Any]:
    prompt_words = sum(
        len(str(m.get("content", "")).split())
        for m in body.get("messages") or []
        if isinstance(m, dict)
    )
    completion = max(1, len(text.split()))
    return {
        "prompt_tokens": prompt_words + 3,
        "completion_tokens": completion,
        "total_tokens": prompt_words + 3 + completion,
        "prompt_tokens_details": {"cached_tokens": 0},
    }


async def serve_mock(
    upstream: MockUpstream, host: str, port: int, ssl_context: ssl.SSLContext | None = None
) -> web.AppRunner:
    """Serve ``upstream`` on ``host:port`` (https with ``ssl_context``)."""
    runner = web.AppRunner(upstream.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
    await site.start()
    return runner


def bound_port(runner: web.AppRunner) -> int:
    for address in runner.addresses:
        return int(address[1])
    raise RuntimeError("mock upstream is not listening")
