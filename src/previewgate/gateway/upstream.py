"""The upstream side: request body adapter and the pooled HTTP client.

Only the ``openai-chat`` format is spoken in this version; the schema already
accepts the others so stored upstreams need no migration when adapters land.
"""

from __future__ import annotations

import copy
from typing import Any

from previewgate.errors import ServiceUnavailable
from previewgate.gateway.resolve import RouteDecision

# Request fields only OpenRouter-style gateways understand; direct upstreams may reject them.
OPENROUTER_ONLY_FIELDS = ("usage", "provider", "transforms", "route", "models")
CACHE_CONTROL = {"type": "ephemeral"}


def client_wants_usage(body: dict[str, Any]) -> bool:
    usage = body.get("usage")
    options = body.get("stream_options")
    return (isinstance(usage, dict) and usage.get("include") is True) or (
        isinstance(options, dict) and options.get("include_usage") is True
    )


def _merge(target: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            merged = dict(target[key])
            _merge(merged, value)
            target[key] = merged
        else:
            target[key] = copy.deepcopy(value)


def _mark_cache_breakpoint(message: dict[str, Any]) -> dict[str, Any]:
    content = message.get("content")
    if isinstance(content, str):
        parts: list[Any] = [{"type": "text", "text": content, "cache_control": CACHE_CONTROL}]
    elif isinstance(content, list) and content and isinstance(content[-1], dict):
        parts = [*content[:-1], {**content[-1], "cache_control": CACHE_CONTROL}]
    else:
        return message
    return {**message, "content": parts}


def _add_cache_breakpoints(messages: list[Any]) -> list[Any]:
    """Anthropic-style prompt caching: mark the system prompt and the last user turn."""
    out = list(messages)
    targets = [i for i, m in enumerate(out) if isinstance(m, dict) and m.get("role") == "system"][
        :1
    ]
    users = [i for i, m in enumerate(out) if isinstance(m, dict) and m.get("role") == "user"]
    targets += users[-1:]
    for index in targets:
        out[index] = _mark_cache_breakpoint(out[index])
    return out


def build_upstream_body(
    body: dict[str, Any], decision: RouteDecision, stream: bool
) -> dict[str, Any]:
    """The canonical body sent upstream: every rewrite applied, the client's dict untouched."""
    out = dict(body)
    spec = decision.upstream
    if spec is None:
        out["model"] = decision.public_id
    else:
        if spec.api_format != "openai-chat":
            raise ServiceUnavailable(f"upstream format {spec.api_format!r} is not supported yet")
        for name in OPENROUTER_ONLY_FIELDS:
            out.pop(name, None)
        for name in spec.remove_from_body:
            out.pop(name, None)
        _merge(out, spec.extra_body)
        out["model"] = spec.internal_id
        if spec.add_cache_breakpoints and isinstance(out.get("messages"), list):
            out["messages"] = _add_cache_breakpoints(out["messages"])
    if stream:
        options = out.get("stream_options")
        options = dict(options) if isinstance(options, dict) else {}
        # Token counts for every streamed request come from the final usage chunk.
        options["include_usage"] = True
        out["stream_options"] = options
    return out
