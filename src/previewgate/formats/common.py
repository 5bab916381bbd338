"""Pieces every format shares: typed reads of untrusted values, refusals, images, usage."""

from __future__ import annotations

import json
import re
from typing import Any

from previewgate.errors import BadRequest, UnsupportedForThisModel

Doc = dict[str, Any]
MAX_COUNT = 1 << 53
_DATA_URL = re.compile(r"data:([a-zA-Z0-9.+/-]+);base64,(.*)", re.DOTALL)
# Anthropic's thinking budgets for OpenAI's reasoning efforts, and back (lower bounds).
EFFORT_BUDGETS = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 24576}
DEFAULT_MAX_TOKENS = 4096  # Anthropic requires max_tokens; OpenAI formats may omit it


def refuse(feature: str, target: str) -> UnsupportedForThisModel:
    """The 400 for a request feature the serving model's format cannot carry."""
    return UnsupportedForThisModel(
        f"{feature} is not supported for this model (it is served through {target}); "
        "see the gateway's API format mapping table"
    )


def invalid(message: str) -> BadRequest:
    return BadRequest(message, code="invalid_request")


def count(value: Any) -> int | None:
    """A token count, or None when it is not a plausible one."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < MAX_COUNT:
        return value
    return None


def string(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def dict_of(value: Any) -> Doc:
    return value if isinstance(value, dict) else {}


def list_of(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def text_of(content: Any, what: str = "content") -> str:
    """A chat content (string or parts) as plain text; non-text parts are refused."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    texts = []
    for part in list_of(content):
        part = dict_of(part)
        if part.get("type") in ("text", "input_text", "output_text") and isinstance(
            part.get("text"), str
        ):
            texts.append(part["text"])
        else:
            raise invalid(f"{what} may only hold text here")
    return "".join(texts)


def split_data_url(url: str) -> tuple[str, str] | None:
    """(media type, base64 data) of a ``data:`` URL, or None for any other URL."""
    match = _DATA_URL.fullmatch(url)
    return (match.group(1), match.group(2)) if match else None


def arguments_object(arguments: Any, target: str) -> Doc:
    """Tool-call arguments (JSON text) as the object a format that wants one needs."""
    if isinstance(arguments, dict):
        return arguments
    if not isinstance(arguments, str) or not arguments.strip():
        return {}
    try:
        value = json.loads(arguments)
    except ValueError as exc:
        raise refuse("tool-call arguments that are not a JSON object", target) from exc
    if not isinstance(value, dict):
        raise refuse("tool-call arguments that are not a JSON object", target)
    return value


def arguments_text(value: Any) -> str:
    """A format's tool input (an object) as OpenAI's arguments text."""
    if isinstance(value, str):
        return value
    return json.dumps(value if value is not None else {}, ensure_ascii=False)


def effort_for_budget(budget: int) -> str:
    effort = "minimal"
    for name, floor in EFFORT_BUDGETS.items():
        if budget >= floor:
            effort = name
    return effort


def usage_doc(prompt: int, completion: int, cached: int | None, **details: int | None) -> Doc:
    """Canonical usage: chat-completion counts and details."""
    out: Doc = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    prompt_details = {
        k: v
        for k, v in (("cached_tokens", cached), ("cache_write_tokens", details.get("write")))
        if v is not None
    }
    if prompt_details:
        out["prompt_tokens_details"] = prompt_details
    if details.get("reasoning") is not None:
        out["completion_tokens_details"] = {"reasoning_tokens": details["reasoning"]}
    return out


def canonical_counts(usage: Any) -> tuple[int, int, int, int, int | None]:
    """(prompt, completion, cached, cache writes, reasoning) of a canonical usage."""
    usage = dict_of(usage)
    prompt_details = dict_of(usage.get("prompt_tokens_details"))
    completion_details = dict_of(usage.get("completion_tokens_details"))
    return (
        count(usage.get("prompt_tokens")) or 0,
        count(usage.get("completion_tokens")) or 0,
        count(prompt_details.get("cached_tokens")) or 0,
        count(prompt_details.get("cache_write_tokens")) or 0,
        count(completion_details.get("reasoning_tokens")),
    )


def short_id(response_id: str) -> str:
    """The hex of the gateway's ``gen-...`` id, for ids a format wants per item."""
    return response_id.removeprefix("gen-")
