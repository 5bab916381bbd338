"""Anthropic Messages requests, to and from the canonical (chat-completion) request.

``to_canonical(strict=True)`` translates a client's body for a checkpoint of another format
and refuses what cannot map; ``strict=False`` reads an upstream body for capture and keeps
what does not map as it is. The mapping table is in docs/formats.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from previewgate.errors import BadRequest
from previewgate.formats.chat import check_common, load_object
from previewgate.formats.common import (
    DEFAULT_MAX_TOKENS,
    EFFORT_BUDGETS,
    Doc,
    arguments_object,
    arguments_text,
    count,
    dict_of,
    effort_for_budget,
    invalid,
    list_of,
    refuse,
    split_data_url,
    text_of,
)

TARGET = "the Anthropic Messages API"
SOURCE = "an OpenAI API"
ROLES = ("user", "assistant")
# Canonical fields with no Anthropic equivalent that change what the model writes: refused.
_REFUSED: dict[str, Callable[[Any], bool]] = {
    "n": lambda v: v not in (None, 1),
    "logprobs": lambda v: bool(v),
    "top_logprobs": lambda v: v is not None,
    "logit_bias": lambda v: bool(v),
    "response_format": lambda v: isinstance(v, dict) and v.get("type") not in (None, "text"),
    "modalities": lambda v: v not in (None, ["text"]),
    "audio": lambda v: v is not None,
    "prediction": lambda v: v is not None,
    "frequency_penalty": lambda v: v not in (None, 0, 0.0),
    "presence_penalty": lambda v: v not in (None, 0, 0.0),
    "functions": lambda v: v is not None,
    "function_call": lambda v: v is not None,
    "web_search_options": lambda v: v is not None,
}
# Anthropic request fields that change what the model does and have no OpenAI equivalent.
_ANTHROPIC_ONLY = ("top_k", "mcp_servers", "container", "context_management")


def parse_messages_body(raw: bytes) -> Doc:
    body = load_object(raw)
    check_common(body)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("messages: field required (a non-empty array)", code="missing_messages")
    for message in messages:
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise BadRequest(
                "each message must be an object with role 'user' or 'assistant'",
                code="invalid_messages",
            )
    max_tokens = count(body.get("max_tokens"))
    if max_tokens is None or max_tokens < 1:
        raise BadRequest("max_tokens: field required (a positive integer)")
    return body


# -- Anthropic -> canonical -------------------------------------------------------------------


def _text_part(block: Doc, strict: bool) -> Doc:
    if strict and not isinstance(block.get("text"), str):
        raise invalid("a text block's text must be a string")
    part: Doc = {"type": "text", "text": block.get("text", "")}
    if "cache_control" in block:
        part["cache_control"] = block["cache_control"]
    return part


def _image_part(block: Doc, strict: bool) -> Doc:
    source = dict_of(block.get("source"))
    if source.get("type") == "base64":
        url = f"data:{source.get('media_type')};base64,{source.get('data')}"
    elif source.get("type") == "url" and isinstance(source.get("url"), str):
        url = source["url"]
    elif strict:
        raise refuse(f"an image source of type {source.get('type')!r}", SOURCE)
    else:
        return block
    return {"type": "image_url", "image_url": {"url": url}}


def _parts(content: Any, strict: bool) -> str | list[Doc]:
    if isinstance(content, str):
        return content
    parts: list[Doc] = []
    for block in list_of(content):
        block = dict_of(block)
        kind = block.get("type")
        if kind == "text":
            parts.append(_text_part(block, strict))
        elif kind == "image":
            parts.append(_image_part(block, strict))
        elif strict:
            raise refuse(f"a {kind!r} content block", SOURCE)
        else:
            parts.append(block)
    if len(parts) == 1 and set(parts[0]) == {"type", "text"}:
        return str(parts[0]["text"])
    return parts


def _tool_result(block: Doc, strict: bool) -> Doc:
    content = block.get("content")
    if strict:
        if isinstance(content, list) and any(dict_of(b).get("type") != "text" for b in content):
            raise refuse("a tool result holding anything but text", SOURCE)
        text = text_of(content, "tool_result content")
        if block.get("is_error") is True:
            text = "Error: " + text  # chat has no error flag on tool results
        content = text
    return {"role": "tool", "tool_call_id": block.get("tool_use_id"), "content": content}


def _user(message: Doc, strict: bool) -> list[Doc]:
    content = message.get("content")
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    results = [b for b in list_of(content) if dict_of(b).get("type") == "tool_result"]
    others = [b for b in list_of(content) if dict_of(b).get("type") != "tool_result"]
    out = [_tool_result(b, strict) for b in results]
    if others or not results:
        out.append({"role": "user", "content": _parts(others, strict)})
    return out


def _assistant(message: Doc, strict: bool) -> Doc:
    content = message.get("content")
    out: Doc = {"role": "assistant"}
    if isinstance(content, str):
        out["content"] = content
        return out
    texts: list[str] = []
    calls: list[Doc] = []
    for block in list_of(content):
        block = dict_of(block)
        kind = block.get("type")
        if kind == "text":
            texts.append(str(block.get("text", "")))
        elif kind == "tool_use":
            calls.append(
                {
                    "id": block.get("id"),
                    "type": "function",
                    "function": {
                        "name": block.get("name"),
                        "arguments": arguments_text(block.get("input")),
                    },
                }
            )
        elif kind in ("thinking", "redacted_thinking"):
            continue  # earlier turns' thinking: only an Anthropic model can take it back
        elif strict:
            raise refuse(f"a {kind!r} content block", SOURCE)
    out["content"] = "".join(texts) if texts else None
    if calls:
        out["tool_calls"] = calls
    return out


def _tool(tool: Doc, strict: bool) -> Doc:
    if tool.get("type") not in (None, "custom"):
        if strict:
            raise refuse(f"the server tool {tool.get('type')!r}", SOURCE)
        return tool
    function: Doc = {"name": tool.get("name"), "parameters": tool.get("input_schema") or {}}
    if isinstance(tool.get("description"), str):
        function["description"] = tool["description"]
    return {"type": "function", "function": function}


def _tool_choice(choice: Doc) -> Any:
    kind = choice.get("type")
    if kind == "tool":
        return {"type": "function", "function": {"name": choice.get("name")}}
    return {"auto": "auto", "any": "required", "none": "none"}.get(str(kind), "auto")


def to_canonical(body: Doc, strict: bool = True) -> Doc:
    """An Anthropic Messages body as a canonical chat request."""
    if strict:
        for name in _ANTHROPIC_ONLY:
            if body.get(name) is not None:
                raise refuse(f"'{name}'", SOURCE)
    out: Doc = {"model": body.get("model")}
    messages: list[Doc] = []
    system = body.get("system")
    if system:
        messages.append({"role": "system", "content": _parts(system, strict)})
    for message in list_of(body.get("messages")):
        message = dict_of(message)
        if message.get("role") == "assistant":
            messages.append(_assistant(message, strict))
        else:
            messages.extend(_user(message, strict))
    out["messages"] = messages
    if isinstance(body.get("tools"), list):
        out["tools"] = [_tool(dict_of(t), strict) for t in body["tools"]]
    choice = dict_of(body.get("tool_choice"))
    if choice:
        out["tool_choice"] = _tool_choice(choice)
        if choice.get("disable_parallel_tool_use") is True:
            out["parallel_tool_calls"] = False
    for name in ("max_tokens", "temperature", "top_p", "stream"):
        if body.get(name) is not None:
            out[name] = body[name]
    if body.get("stop_sequences"):
        out["stop"] = body["stop_sequences"]
    user = dict_of(body.get("metadata")).get("user_id")
    if isinstance(user, str):
        out["user"] = user
    thinking = dict_of(body.get("thinking"))
    if thinking.get("type") == "enabled":
        out["reasoning_effort"] = effort_for_budget(count(thinking.get("budget_tokens")) or 0)
    if not strict:
        for name in _ANTHROPIC_ONLY:
            if name in body:
                out[name] = body[name]
    for name in ("provider", "usage"):  # OpenRouter-style preferences travel with the body
        if name in body:
            out[name] = body[name]
    return out


# -- canonical -> Anthropic -------------------------------------------------------------------


def _blocks(content: Any, role: str) -> list[Doc]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks: list[Doc] = []
    for part in list_of(content):
        part = dict_of(part)
        kind = part.get("type")
        if kind in ("text", "refusal") or (kind == "input_text" and role == "user"):
            text = part.get("text") if kind != "refusal" else part.get("refusal")
            if isinstance(text, str) and text:
                block: Doc = {"type": "text", "text": text}
                if "cache_control" in part:
                    block["cache_control"] = part["cache_control"]
                blocks.append(block)
        elif kind == "image_url" and role == "user":
            url = dict_of(part.get("image_url")).get("url")
            if not isinstance(url, str):
                raise invalid("image_url.url must be a string")
            data = split_data_url(url)
            source: Doc = (
                {"type": "base64", "media_type": data[0], "data": data[1]}
                if data
                else {"type": "url", "url": url}
            )
            blocks.append({"type": "image", "source": source})
        else:
            raise refuse(f"a {kind!r} content part in a {role} message", TARGET)
    return blocks


def _tool_use(call: Doc) -> Doc:
    function = dict_of(call.get("function"))
    return {
        "type": "tool_use",
        "id": call.get("id"),
        "name": function.get("name"),
        "input": arguments_object(function.get("arguments"), TARGET),
    }


def _append(messages: list[Doc], role: str, blocks: list[Doc]) -> None:
    """Consecutive messages of one role become one (Anthropic wants them alternating)."""
    if messages and messages[-1]["role"] == role:
        merged = messages[-1]["content"] + blocks
        # Tool results lead a user message.
        merged.sort(key=lambda b: b.get("type") != "tool_result")
        messages[-1]["content"] = merged
    elif blocks:
        messages.append({"role": role, "content": blocks})


def _system(messages: list[Any]) -> tuple[list[Doc], list[Any]]:
    system: list[Doc] = []
    rest = list(messages)
    while rest and dict_of(rest[0]).get("role") in ("system", "developer"):
        system += _blocks(dict_of(rest.pop(0)).get("content"), "system")
    return system, rest


def _thinking(request: Doc, max_tokens: int) -> tuple[Doc | None, int]:
    effort = request.get("reasoning_effort")
    if not isinstance(effort, str) or effort not in EFFORT_BUDGETS:
        return None, max_tokens
    budget = EFFORT_BUDGETS[effort]
    # Anthropic counts thinking inside max_tokens: keep the answer's own room.
    return {"type": "enabled", "budget_tokens": budget}, max(max_tokens, budget + 1024)


def from_canonical(request: Doc) -> Doc:
    """A canonical chat request as an Anthropic Messages body."""
    for name, refused in _REFUSED.items():
        if refused(request.get(name)):
            raise refuse(f"'{name}'", TARGET)
    system, rest = _system(list_of(request.get("messages")))
    messages: list[Doc] = []
    for message in rest:
        message = dict_of(message)
        role = message.get("role")
        if role == "user":
            _append(messages, "user", _blocks(message.get("content"), "user"))
        elif role == "assistant":
            blocks = _blocks(message.get("content"), "assistant")
            blocks += [_tool_use(dict_of(c)) for c in list_of(message.get("tool_calls"))]
            _append(messages, "assistant", blocks)
        elif role == "tool":
            result = {
                "type": "tool_result",
                "tool_use_id": message.get("tool_call_id"),
                "content": text_of(message.get("content"), "tool message content"),
            }
            _append(messages, "user", [result])
        elif role in ("system", "developer"):
            raise refuse("a system message after the conversation has started", TARGET)
        else:
            raise refuse(f"a message with role {role!r}", TARGET)
    max_tokens = count(request.get("max_completion_tokens")) or count(request.get("max_tokens"))
    out: Doc = {"model": request.get("model"), "messages": messages}
    thinking, out["max_tokens"] = _thinking(request, max_tokens or DEFAULT_MAX_TOKENS)
    if thinking is not None:
        out["thinking"] = thinking
    if system:
        plain = all(set(b) == {"type", "text"} for b in system)
        out["system"] = "\n\n".join(b["text"] for b in system) if plain else system
    tools = [_anthropic_tool(dict_of(t)) for t in list_of(request.get("tools"))]
    if tools:
        out["tools"] = tools
    choice = _anthropic_choice(request.get("tool_choice"), request.get("parallel_tool_calls"))
    if choice is not None:
        out["tool_choice"] = choice
    for name in ("temperature", "top_p", "top_k", "stream"):
        if request.get(name) is not None:
            out[name] = request[name]
    stop = request.get("stop")
    if stop:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else stop
    if isinstance(request.get("user"), str):
        out["metadata"] = {"user_id": request["user"]}
    return out


def _anthropic_tool(tool: Doc) -> Doc:
    if tool.get("type") != "function":
        raise refuse(f"a tool of type {tool.get('type')!r}", TARGET)
    function = dict_of(tool.get("function"))
    out: Doc = {
        "name": function.get("name"),
        "input_schema": function.get("parameters") or {"type": "object", "properties": {}},
    }
    if isinstance(function.get("description"), str):
        out["description"] = function["description"]
    return out


def _anthropic_choice(choice: Any, parallel: Any) -> Doc | None:
    out: Doc | None
    if choice is None:
        out = None
    elif isinstance(choice, dict):
        name = dict_of(choice.get("function")).get("name")
        out = {"type": "tool", "name": name}
    elif choice in ("auto", "required", "none"):
        out = {"type": {"auto": "auto", "required": "any", "none": "none"}[choice]}
    else:
        raise invalid("tool_choice must be 'auto', 'required', 'none' or a function")
    if parallel is False:
        out = out or {"type": "auto"}
        if out["type"] != "none":
            out["disable_parallel_tool_use"] = True
    return out


def without_unsigned_thinking(body: Doc) -> Doc:
    """A copy of ``body`` without thinking blocks that carry no signature: only the gateway
    writes those (experiments never relay one), and Anthropic refuses them back."""
    out = dict(body)
    messages = body.get("messages")
    if not isinstance(messages, list):
        return out
    cleaned = []
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list) and any(_unsigned(b) for b in content):
            message = {**message, "content": [b for b in content if not _unsigned(b)]}
        cleaned.append(message)
    out["messages"] = cleaned
    return out


def _unsigned(block: Any) -> bool:
    return (
        isinstance(block, dict) and block.get("type") == "thinking" and not block.get("signature")
    )
