"""What a client of an experimented id received, read as an outsider: leaks, shapes, fields.

``find_leaks`` looks for planted strings in raw bytes, case-insensitively, and again after
JSON-unescaping (``\\uXXXX``, ``\\/``). The ``*_problems`` functions return readable
findings instead of asserting, so one test can report every scenario that went wrong.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.support import leaky_answers as la

_U_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")

# Blind mode's allowlist of the chat-completion schema (issue 11, SPEC §2 rule 3).
TOP_KEYS = {"id", "object", "created", "model", "choices", "usage"}
CHOICE_KEYS = {"index", "message", "delta", "logprobs", "finish_reason"}
MESSAGE_KEYS = {"role", "content", "refusal", "reasoning", "reasoning_content", "tool_calls"}
TOOL_CALL_KEYS = {"index", "id", "type", "function"}
FUNCTION_KEYS = {"name", "arguments"}
LOGPROBS_KEYS = {"content", "refusal"}
LOGPROB_KEYS = {"token", "logprob", "bytes", "top_logprobs"}
TOP_LOGPROB_KEYS = {"token", "logprob", "bytes"}
USAGE_KEYS = {
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "prompt_tokens_details",
    "completion_tokens_details",
    "cost",
}
USAGE_DETAIL_KEYS = {  # gateway/blind_schema.py's documented allowlist
    "prompt_tokens_details": {"cached_tokens", "cache_write_tokens", "audio_tokens"},
    "completion_tokens_details": {
        "reasoning_tokens",
        "audio_tokens",
        "accepted_prediction_tokens",
        "rejected_prediction_tokens",
    },
}
FINISH_REASONS = {"stop", "length", "tool_calls", "content_filter", "function_call"}
ERROR_TYPES = {
    "invalid_request_error",
    "authentication_error",
    "permission_error",
    "not_found_error",
    "rate_limit_error",
    "insufficient_quota",
    "server_error",
    "api_error",
    "timeout_error",
    "overloaded_error",
    "upstream_error",
    "service_unavailable_error",
}
ERROR_TOP_KEYS = {"error", "id", "object", "created", "model"}
ERROR_KEYS = {"message", "type", "code", "param"}
_CODE = re.compile(r"[a-z][a-z0-9_]{0,47}")


def unescape_json(text: str) -> str:
    """Decode ``\\uXXXX`` and ``\\/`` wherever they appear (twice: escapes of escapes)."""
    for _ in range(2):
        text = _U_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text).replace("\\/", "/")
    return text


def find_leaks(needles: Iterable[str], data: bytes) -> list[str]:
    """Which needles occur in ``data``: raw bytes, decoded text or unescaped text, any case."""
    text = data.decode("utf-8", "replace")
    views = (data.lower(), text.lower(), unescape_json(text).lower())
    found = []
    for needle in needles:
        low = needle.lower()
        if low.encode() in views[0] or low in views[1] or low in views[2]:
            found.append(needle)
    return found


@dataclass
class Capture:
    """Everything a client received (the status line's reason phrase aside)."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    @classmethod
    def of(cls, r: httpx.Response) -> Capture:
        raw = [(n.decode("latin-1").lower(), v.decode("latin-1")) for n, v in r.headers.raw]
        return cls(r.status_code, raw, r.content)

    def header(self, name: str) -> str | None:
        return next((v for n, v in self.headers if n == name), None)

    def all_bytes(self) -> bytes:
        head = "".join(f"{n}: {v}\r\n" for n, v in self.headers).encode("latin-1")
        return head + b"\r\n" + self.body

    @property
    def media_type(self) -> str:
        return (self.header("content-type") or "").split(";")[0].strip().lower()


@dataclass
class Sse:
    """A client-side SSE read by the spec: any line end, multi-line data, comments."""

    data: list[str] = field(default_factory=list)  # one entry per dispatched event
    fields: set[str] = field(default_factory=set)
    comments: int = 0


def parse_sse(body: bytes) -> Sse:
    out = Sse()
    buffer: list[str] = []
    for line in re.split(r"\r\n|\r|\n", body.decode("utf-8", "replace")):
        if not line:
            if buffer:
                out.data.append("\n".join(buffer))
            buffer = []
            continue
        if line.startswith(":"):
            out.comments += 1
            continue
        name, _, value = line.partition(":")
        out.fields.add(name)
        if name == "data":
            buffer.append(value[1:] if value.startswith(" ") else value)
    if buffer:
        out.data.append("\n".join(buffer))
    return out


def json_docs(sse: Sse) -> tuple[list[Any], list[str]]:
    """(parsed data documents, problems); ``[DONE]`` is skipped."""
    docs, problems = [], []
    for data in sse.data:
        if data == "[DONE]":
            continue
        try:
            docs.append(json.loads(data))
        except ValueError:
            problems.append(f"data event is not JSON: {data[:120]!r}")
    return docs, problems


# -- blind-mode shape checks ------------------------------------------------------------------


def _extra(where: str, obj: Any, allowed: set[str]) -> list[str]:
    if not isinstance(obj, dict):
        return [f"{where} is not an object: {obj!r:.80}"]
    extra = sorted(set(obj) - allowed)
    return [f"{where} has keys outside the allowlist: {extra}"] if extra else []


def _logprobs_problems(where: str, logprobs: Any) -> list[str]:
    if logprobs is None:
        return []
    problems = _extra(where, logprobs, LOGPROBS_KEYS)
    for part in ("content", "refusal"):
        for n, entry in enumerate((logprobs or {}).get(part) or []):
            problems += _extra(f"{where}.{part}[{n}]", entry, LOGPROB_KEYS)
            for m, top in enumerate((entry or {}).get("top_logprobs") or []):
                problems += _extra(f"{where}.{part}[{n}].top_logprobs[{m}]", top, TOP_LOGPROB_KEYS)
    return problems


def _usage_problems(usage: Any) -> list[str]:
    if usage is None:
        return []
    problems = _extra("usage", usage, USAGE_KEYS)
    for name, value in (usage if isinstance(usage, dict) else {}).items():
        if name in USAGE_DETAIL_KEYS:
            problems += _extra(f"usage.{name}", value, USAGE_DETAIL_KEYS[name])
            allowed = USAGE_DETAIL_KEYS[name]
            values = (
                [v for k, v in value.items() if k in allowed] if isinstance(value, dict) else []
            )
        elif name in USAGE_KEYS:
            values = [value]
        else:
            values = []
        for v in values:
            if name != "cost" and not (isinstance(v, int) and not isinstance(v, bool)):
                problems.append(f"usage.{name} is not an integer: {v!r:.80}")
    return problems


def blind_doc_problems(doc: Any, public_id: str, streamed: bool) -> list[str]:
    """Allowlist and value checks for one rebuilt chat.completion(.chunk) document."""
    problems = _extra("response", doc, TOP_KEYS)
    if problems and not isinstance(doc, dict):
        return problems
    if not str(doc.get("id", "")).startswith("gen-"):
        problems.append(f"id is not the gateway's: {doc.get('id')!r:.80}")
    if doc.get("model") != public_id:
        problems.append(f"model is not the public id: {doc.get('model')!r:.80}")
    expected_object = "chat.completion.chunk" if streamed else "chat.completion"
    if doc.get("object") != expected_object:
        problems.append(f"object is {doc.get('object')!r:.80}")
    inner = "delta" if streamed else "message"
    for n, choice in enumerate(doc.get("choices") or []):
        problems += _extra(f"choices[{n}]", choice, CHOICE_KEYS)
        if not isinstance(choice, dict):
            continue
        reason = choice.get("finish_reason")
        if reason is not None and reason not in FINISH_REASONS:
            problems.append(f"finish_reason {reason!r:.80}")
        message = choice.get(inner) or {}
        problems += _extra(f"choices[{n}].{inner}", message, MESSAGE_KEYS)
        for m, call in enumerate(
            (message if isinstance(message, dict) else {}).get("tool_calls") or []
        ):
            where = f"choices[{n}].{inner}.tool_calls[{m}]"
            problems += _extra(where, call, TOOL_CALL_KEYS)
            problems += _extra(
                f"{where}.function", (call or {}).get("function") or {}, FUNCTION_KEYS
            )
            call_id = call.get("id") if isinstance(call, dict) else None
            if call_id is not None and not str(call_id).startswith("call_"):
                problems.append(f"{where}.id not re-minted: {call_id!r:.80}")
        problems += _logprobs_problems(f"choices[{n}].logprobs", choice.get("logprobs"))
    return problems + _usage_problems(doc.get("usage"))


def error_doc_problems(doc: Any, public_id: str) -> list[str]:
    """A gateway-authored OpenAI-style error: standard type, standard-looking code."""
    problems = _extra("error response", doc, ERROR_TOP_KEYS)
    err = doc.get("error") if isinstance(doc, dict) else None
    problems += _extra("error", err, ERROR_KEYS)
    if not isinstance(err, dict):
        return problems
    if not isinstance(err.get("message"), str) or not err["message"]:
        problems.append(f"error.message {err.get('message')!r:.80}")
    if err.get("type") not in ERROR_TYPES:
        problems.append(f"error.type is not standard: {err.get('type')!r:.80}")
    code = err.get("code")
    if code is not None and not (isinstance(code, str) and _CODE.fullmatch(code)):
        problems.append(f"error.code is not a standard code: {code!r:.80}")
    if "model" in doc and doc["model"] != public_id:
        problems.append(f"error model {doc['model']!r:.80}")
    return problems


def blind_header_problems(cap: Capture, media: str) -> list[str]:
    problems = []
    if cap.media_type != media:
        problems.append(f"content-type {cap.header('content-type')!r} (expected {media})")
    params = [p.strip().lower() for p in (cap.header("content-type") or "").split(";")[1:]]
    if any(p and p != "charset=utf-8" for p in params):
        problems.append(f"content-type parameters {params}")
    retry = cap.header("retry-after")
    if retry is not None and not retry.strip().isdigit():
        problems.append(f"retry-after {retry!r}")
    for name, _ in cap.headers:
        if name.startswith("x-ratelimit-") or name in la.UPSTREAM_ONLY_HEADERS:
            problems.append(f"upstream header {name!r} forwarded")
    return problems


# -- what the client assembled --------------------------------------------------------------


@dataclass
class Answer:
    content: str = ""
    reasoning: str = ""
    tool_calls: dict[int, dict[str, str]] = field(default_factory=dict)
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    logprobs: list[tuple[str, float]] = field(default_factory=list)
    top_tokens: list[list[str]] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)


def assemble(docs: list[Any], streamed: bool) -> Answer:
    out = Answer()
    for doc in docs:
        if not isinstance(doc, dict) or "error" in doc:
            continue
        out.ids.add(str(doc.get("id")))
        if doc.get("usage"):
            out.usage = doc["usage"]
        for choice in doc.get("choices") or []:
            message = choice.get("delta" if streamed else "message") or {}
            out.content += message.get("content") or ""
            out.reasoning += message.get("reasoning") or message.get("reasoning_content") or ""
            for n, call in enumerate(message.get("tool_calls") or []):
                slot = out.tool_calls.setdefault(call.get("index", n), {"arguments": ""})
                if call.get("id"):
                    slot["id"] = call["id"]
                function = call.get("function") or {}
                if function.get("name"):
                    slot["name"] = function["name"]
                slot["arguments"] += function.get("arguments") or ""
            if choice.get("finish_reason"):
                out.finish_reason = choice["finish_reason"]
            for entry in (choice.get("logprobs") or {}).get("content") or []:
                out.logprobs.append((entry.get("token"), entry.get("logprob")))
                out.top_tokens.append([t.get("token") for t in entry.get("top_logprobs") or []])
    return out


def answer_problems(answer: Answer, *, logprobs: bool = True) -> list[str]:
    """The allowlisted model output of the leaky upstream's success scenarios arrived intact."""
    problems = []
    expected: dict[str, Any] = {
        "content": la.CONTENT,
        "reasoning": la.REASONING,
        "finish_reason": "tool_calls",
    }
    for name, value in expected.items():
        if getattr(answer, name) != value:
            problems.append(f"{name} {getattr(answer, name)!r} != {value!r}")
    calls = list(answer.tool_calls.values())
    if [(c.get("name"), c.get("arguments")) for c in calls] != [(la.TOOL_NAME, la.TOOL_ARGS)]:
        problems.append(f"tool calls {calls!r}")
    usage = answer.usage or {}
    tokens = {k: usage.get(k) for k in la.USAGE}
    details = (
        (usage.get("prompt_tokens_details") or {}).get("cached_tokens"),
        (usage.get("completion_tokens_details") or {}).get("reasoning_tokens"),
    )
    if tokens != la.USAGE or details != (la.CACHED, la.REASONING_TOKENS):
        problems.append(f"usage {usage!r}")
    if logprobs and answer.logprobs != la.LOGPROBS:
        problems.append(f"logprobs {answer.logprobs!r} != {la.LOGPROBS!r}")
    if len(answer.ids) != 1:
        problems.append(f"ids differ between chunks: {sorted(answer.ids)}")
    return problems
