"""The upstream side of one request: its body in the upstream's format, and how to call it.

The client's body is translated (`formats.translate`) when the upstream speaks another API
format, else passed through; then the route's rewrites apply to what the upstream receives:
``model``, ``extra_body``, ``remove_from_body``, cache breakpoints.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from previewgate.formats import UPSTREAMS, translate
from previewgate.formats.codec import ClientFormat, UpstreamFormat
from previewgate.gateway.resolve import RouteDecision

# Request fields only OpenRouter-style gateways understand; direct upstreams may reject them.
OPENROUTER_ONLY_FIELDS = ("usage", "provider", "transforms", "route", "models")
CACHE_CONTROL = {"type": "ephemeral"}
BEARER = b"\r\nauthorization: Bearer "
# anthropic-beta values a Messages client may pass on to an Anthropic checkpoint.
_BETA = re.compile(r"[a-z0-9][a-z0-9,_. -]{0,199}")


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    """What is sent upstream: its format, the body (the evidence's source) and the call."""

    format: UpstreamFormat
    body: dict[str, Any]
    url: str
    key_header: bytes
    headers: bytes


def _merge(target: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            merged = dict(target[key])
            _merge(merged, value)
            target[key] = merged
        else:
            target[key] = copy.deepcopy(value)


def _mark_cache_breakpoint(message: dict[str, Any], field: str = "content") -> dict[str, Any]:
    content = message.get(field)
    if isinstance(content, str):
        parts: list[Any] = [{"type": "text", "text": content, "cache_control": CACHE_CONTROL}]
    elif isinstance(content, list) and content and isinstance(content[-1], dict):
        parts = [*content[:-1], {**content[-1], "cache_control": CACHE_CONTROL}]
    else:
        return message
    return {**message, field: parts}


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


def _add_anthropic_breakpoints(body: dict[str, Any]) -> None:
    """The same for an Anthropic body: its top-level system and the last user message."""
    if body.get("system"):
        body["system"] = _mark_cache_breakpoint(body, "system")["system"]
    if isinstance(body.get("messages"), list):
        messages = body["messages"] = list(body["messages"])
        users = [
            i for i, m in enumerate(messages) if isinstance(m, dict) and m.get("role") == "user"
        ]
        if users:
            messages[users[-1]] = _mark_cache_breakpoint(messages[users[-1]])


def _rewrite(out: dict[str, Any], decision: RouteDecision) -> None:
    spec = decision.upstream
    if spec is None:
        out["model"] = decision.public_id
        return
    for name in OPENROUTER_ONLY_FIELDS:
        out.pop(name, None)
    for name in spec.remove_from_body:
        out.pop(name, None)
    _merge(out, spec.extra_body)
    out["model"] = spec.internal_id
    if spec.add_cache_breakpoints:
        if spec.api_format == "openai-chat" and isinstance(out.get("messages"), list):
            out["messages"] = _add_cache_breakpoints(out["messages"])
        elif spec.api_format == "anthropic-messages":
            _add_anthropic_breakpoints(out)


def _beta(client: ClientFormat, upstream: UpstreamFormat, headers: dict[str, str]) -> bytes:
    if client.kind != "messages" or upstream.api_format != "anthropic-messages":
        return b""
    value = headers.get("anthropic-beta", "").strip().lower()
    return b"\r\nanthropic-beta: " + value.encode() if value and _BETA.fullmatch(value) else b""


def build_upstream_request(
    body: dict[str, Any],
    client: ClientFormat,
    decision: RouteDecision,
    stream: bool,
    headers: dict[str, str],
) -> UpstreamRequest:
    """The request for the route's upstream; the client's dict is left untouched.

    Raises `UnsupportedForThisModel` when the client's body cannot be said in the
    upstream's format.
    """
    upstream = UPSTREAMS[decision.api_format or client.api_format]
    out = translate(client, upstream, body)
    _rewrite(out, decision)
    upstream.prepare(out, stream)
    key_header, extra = upstream.auth_headers(decision.api_key, _beta(client, upstream, headers))
    if decision.upstream is None:
        key_header = BEARER  # OpenRouter-style gateways take their key so in every format
    return UpstreamRequest(upstream, out, decision.base_url + upstream.path, key_header, extra)
