"""OpenAI Responses requests, to and from the canonical (chat-completion) request.

``to_canonical(strict=True)`` translates a client's body for a checkpoint of another format
and refuses what cannot map; ``strict=False`` reads an upstream body for capture and keeps
what does not map as it is. The mapping table is in docs/formats.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from previewgate.errors import BadRequest
from previewgate.formats.chat import check_common, load_object
from previewgate.formats.common import (
    Doc,
    count,
    dict_of,
    invalid,
    list_of,
    refuse,
    text_of,
)

TARGET = "the OpenAI Responses API"
SOURCE = "an API other than OpenAI Responses"
# Responses fields that need state or tools only the Responses API has.
_RESPONSES_ONLY = ("previous_response_id", "conversation", "prompt", "top_logprobs")
_REFUSED: dict[str, Callable[[Any], bool]] = {
    "n": lambda v: v not in (None, 1),
    "logprobs": lambda v: bool(v),
    "top_logprobs": lambda v: v is not None,
    "logit_bias": lambda v: bool(v),
    "stop": lambda v: bool(v),
    "modalities": lambda v: v not in (None, ["text"]),
    "audio": lambda v: v is not None,
    "prediction": lambda v: v is not None,
    "frequency_penalty": lambda v: v not in (None, 0, 0.0),
    "presence_penalty": lambda v: v not in (None, 0, 0.0),
    "functions": lambda v: v is not None,
    "function_call": lambda v: v is not None,
    "web_search_options": lambda v: v is not None,
    "top_k": lambda v: v is not None,
}


def parse_responses_body(raw: bytes) -> Doc:
    body = load_object(raw)
    check_common(body)
    items = body.get("input")
    if not (isinstance(items, str) or (isinstance(items, list) and items)):
        raise BadRequest("'input' is required: a string or a non-empty array of items")
    if isinstance(items, list) and not all(isinstance(i, dict) for i in items):
        raise BadRequest("each input item must be an object")
    if body.get("instructions") is not None and not isinstance(body["instructions"], str):
        raise BadRequest("'instructions' must be a string")
    return body


# -- Responses -> canonical -------------------------------------------------------------------


def _part(part: Doc, strict: bool) -> Doc:
    kind = part.get("type")
    text = part.get("refusal" if kind == "refusal" else "text")
    if kind in ("input_text", "output_text", "refusal"):
        if strict and not isinstance(text, str):
            raise invalid(f"an {kind} part's text must be a string")
        return {"type": "text", "text": text}
    if kind == "input_image" and isinstance(part.get("image_url"), str):
        image: Doc = {"url": part["image_url"]}
        if part.get("detail") in ("low", "high", "auto"):
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    if strict:
        raise refuse(f"an input part of type {kind!r}", SOURCE)
    return part


def _content(content: Any, strict: bool) -> Any:
    if isinstance(content, str):
        return content
    parts = [_part(dict_of(p), strict) for p in list_of(content)]
    if all(p.get("type") == "text" and set(p) == {"type", "text"} for p in parts):
        return "".join(str(p["text"]) for p in parts)
    return parts


def _call(item: Doc) -> Doc:
    function = {"name": item.get("name"), "arguments": item.get("arguments") or ""}
    return {"id": item.get("call_id"), "type": "function", "function": function}


def _messages(body: Doc, strict: bool) -> list[Doc]:
    messages: list[Doc] = []
    if isinstance(body.get("instructions"), str) and body["instructions"]:
        messages.append({"role": "system", "content": body["instructions"]})
    items = body.get("input")
    if isinstance(items, str):
        return [*messages, {"role": "user", "content": items}]
    for item in list_of(items):
        item = dict_of(item)
        kind = item.get("type") or ("message" if "role" in item else None)
        if kind == "message":
            role = item.get("role")
            content = _content(item.get("content"), strict)
            if role == "assistant" and not isinstance(content, str):
                content = text_of(content, "assistant content") if strict else content
            messages.append({"role": role, "content": content})
        elif kind == "function_call":
            last = messages[-1] if messages else None
            if last is not None and last.get("role") == "assistant":
                last.setdefault("tool_calls", []).append(_call(item))
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [_call(item)]})
        elif kind == "function_call_output":
            output = item.get("output")
            if strict and not isinstance(output, str):
                output = text_of([_part(dict_of(p), strict) for p in list_of(output)], "output")
            messages.append(
                {"role": "tool", "tool_call_id": item.get("call_id"), "content": output}
            )
        elif kind == "reasoning":
            continue  # earlier turns' reasoning: only a Responses model can take it back
        elif strict:
            raise refuse(f"an input item of type {kind!r}", SOURCE)
        else:
            messages.append(item)
    return messages


def _tool(tool: Doc, strict: bool) -> Doc:
    if tool.get("type") != "function":
        if strict:
            raise refuse(f"the built-in tool {tool.get('type')!r}", SOURCE)
        return tool
    function: Doc = {"name": tool.get("name"), "parameters": tool.get("parameters") or {}}
    for name in ("description", "strict"):
        if tool.get(name) is not None:
            function[name] = tool[name]
    return {"type": "function", "function": function}


def _tool_choice(choice: Any, strict: bool) -> Any:
    if isinstance(choice, str):
        return choice
    choice = dict_of(choice)
    if choice.get("type") == "function":
        return {"type": "function", "function": {"name": choice.get("name")}}
    if strict:
        raise refuse(f"tool_choice of type {choice.get('type')!r}", SOURCE)
    return choice


def _format(text: Any) -> Doc | None:
    fmt = dict_of(dict_of(text).get("format"))
    if fmt.get("type") == "json_schema":
        schema = {k: fmt[k] for k in ("name", "schema", "strict", "description") if k in fmt}
        return {"type": "json_schema", "json_schema": schema}
    if fmt.get("type") == "json_object":
        return {"type": "json_object"}
    return None


def to_canonical(body: Doc, strict: bool = True) -> Doc:
    """An OpenAI Responses body as a canonical chat request."""
    if strict:
        for name in _RESPONSES_ONLY:
            if body.get(name) is not None:
                raise refuse(f"'{name}'", SOURCE)
        if body.get("background") is True:
            raise refuse("'background'", SOURCE)
    out: Doc = {"model": body.get("model"), "messages": _messages(body, strict)}
    if isinstance(body.get("tools"), list) and body["tools"]:
        out["tools"] = [_tool(dict_of(t), strict) for t in body["tools"]]
    if body.get("tool_choice") is not None:
        out["tool_choice"] = _tool_choice(body["tool_choice"], strict)
    if body.get("max_output_tokens") is not None:
        out["max_tokens"] = body["max_output_tokens"]
    for name in ("temperature", "top_p", "parallel_tool_calls", "stream", "user", "metadata"):
        if body.get(name) is not None:
            out[name] = body[name]
    effort = dict_of(body.get("reasoning")).get("effort")
    if isinstance(effort, str):
        out["reasoning_effort"] = effort
    response_format = _format(body.get("text"))
    if response_format is not None:
        out["response_format"] = response_format
    if not strict:
        for name in _RESPONSES_ONLY:
            if name in body:
                out[name] = body[name]
    for name in ("provider", "usage"):  # OpenRouter-style preferences travel with the body
        if name in body:
            out[name] = body[name]
    return out


# -- canonical -> Responses -------------------------------------------------------------------


def _input_content(content: Any, role: str) -> Any:
    if content is None or isinstance(content, str):
        return content or ""
    if role != "user":
        return text_of(content, f"{role} content")
    parts: list[Doc] = []
    for part in list_of(content):
        part = dict_of(part)
        kind = part.get("type")
        if kind == "text":
            parts.append({"type": "input_text", "text": part.get("text", "")})
        elif kind == "image_url":
            image = dict_of(part.get("image_url"))
            if not isinstance(image.get("url"), str):
                raise invalid("image_url.url must be a string")
            parts.append(
                {"type": "input_image", "image_url": image["url"], "detail": image.get("detail")}
                if image.get("detail")
                else {"type": "input_image", "image_url": image["url"]}
            )
        else:
            raise refuse(f"a {kind!r} content part", TARGET)
    return parts


def _input(messages: list[Any]) -> list[Doc]:
    items: list[Doc] = []
    for message in messages:
        message = dict_of(message)
        role = message.get("role")
        if role in ("system", "developer", "user", "assistant"):
            content = _input_content(message.get("content"), str(role))
            if content or role != "assistant":
                items.append({"type": "message", "role": role, "content": content})
            for call in list_of(message.get("tool_calls")) if role == "assistant" else ():
                call = dict_of(call)
                function = dict_of(call.get("function"))
                items.append(
                    {
                        "type": "function_call",
                        "call_id": call.get("id"),
                        "name": function.get("name"),
                        "arguments": function.get("arguments") or "",
                    }
                )
        elif role == "tool":
            output = text_of(message.get("content"), "tool message content")
            items.append(
                {
                    "type": "function_call_output",
                    "call_id": message.get("tool_call_id"),
                    "output": output,
                }
            )
        else:
            raise refuse(f"a message with role {role!r}", TARGET)
    return items


def _responses_tool(tool: Doc) -> Doc:
    if tool.get("type") != "function":
        raise refuse(f"a tool of type {tool.get('type')!r}", TARGET)
    function = dict_of(tool.get("function"))
    out: Doc = {
        "type": "function",
        "name": function.get("name"),
        "parameters": function.get("parameters") or {"type": "object", "properties": {}},
    }
    for name in ("description", "strict"):
        if function.get(name) is not None:
            out[name] = function[name]
    return out


def _text_format(response_format: Any) -> Doc | None:
    fmt = dict_of(response_format)
    if fmt.get("type") == "json_schema":
        return {"format": {"type": "json_schema", **dict_of(fmt.get("json_schema"))}}
    if fmt.get("type") == "json_object":
        return {"format": {"type": "json_object"}}
    return None


def from_canonical(request: Doc) -> Doc:
    """A canonical chat request as an OpenAI Responses body (stateless: ``store`` false)."""
    for name, refused in _REFUSED.items():
        if refused(request.get(name)):
            raise refuse(f"'{name}'", TARGET)
    out: Doc = {
        "model": request.get("model"),
        "input": _input(list_of(request.get("messages"))),
        "store": False,
    }
    tools = [_responses_tool(dict_of(t)) for t in list_of(request.get("tools"))]
    if tools:
        out["tools"] = tools
    choice = request.get("tool_choice")
    if isinstance(choice, dict):
        out["tool_choice"] = {
            "type": "function",
            "name": dict_of(choice.get("function")).get("name"),
        }
    elif choice is not None:
        out["tool_choice"] = choice
    max_tokens = count(request.get("max_completion_tokens")) or count(request.get("max_tokens"))
    if max_tokens:
        out["max_output_tokens"] = max_tokens
    for name in ("temperature", "top_p", "parallel_tool_calls", "stream", "user", "metadata"):
        if request.get(name) is not None:
            out[name] = request[name]
    if isinstance(request.get("reasoning_effort"), str):
        out["reasoning"] = {"effort": request["reasoning_effort"]}
    text = _text_format(request.get("response_format"))
    if text is not None:
        out["text"] = text
    return out


# Item ids the gateway writes in rebuilt answers (msg_/rs_ + our id, fc_ + a minted call id).
_OUR_ITEM_ID = re.compile(r"(msg|rs)_[0-9a-f]{32}(_[0-9]+)?|fc_[0-9a-f]{24}")


def without_gateway_items(body: Doc) -> Doc:
    """A copy of ``body`` whose input no longer names items only the gateway knows: ids it
    wrote (the checkpoint never stored them) and reasoning it relayed without the
    checkpoint's encrypted content."""
    out = dict(body)
    items = body.get("input")
    if not isinstance(items, list):
        return out
    cleaned = []
    for item in items:
        if isinstance(item, dict):
            if item.get("type") == "reasoning" and not item.get("encrypted_content"):
                continue
            item_id = item.get("id")
            if isinstance(item_id, str) and _OUR_ITEM_ID.fullmatch(item_id):
                item = {k: v for k, v in item.items() if k != "id"}
        cleaned.append(item)
    out["input"] = cleaned
    return out
