"""What an adversarial partner checkpoint answers (issue 11): every scenario's bytes.

Each answer plants the calling slot's secrets (internal id, key, masked key, base URL,
host:port), plain, upper-cased and JSON-escaped (``\\uXXXX``, ``\\/``), into every field,
header and SSE line that is not model output. Model output (content, refusal, reasoning,
tool-call names and arguments, logprob tokens) is clean and fixed, so tests can check it
arrives intact. ``BUILDERS`` maps a scenario name to its :class:`Reply`; the server that
sends them is tests/support/leaky_upstream.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

PROBE = "leakprobe"  # in every planted text: upstream prose that must never reach a client
EOLS = {"lf": "\n", "cr": "\r", "crlf": "\r\n"}

# Model output: passes as generated, never planted with secrets.
CONTENT = 'Hello from a checkpoint: "ünï" ✓ \\ / done'
CONTENT_PIECES = ["Hello from", " a checkpoint: ", '"ünï" ✓', " \\ / done"]
REASONING = "Thinking about the weather first."
TOOL_NAME = "get_weather"
TOOL_ARGS = '{"city": "Paris", "unit": "celsius"}'
TOOL_ARGS_PIECES = ['{"city": ', '"Paris", "unit": ', '"celsius"}']
LOGPROBS = [("Hello", -0.25), (" from", -1.5)]
TOP = [("Hi", -2.0)]
USAGE = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
CACHED, REASONING_TOKENS = 3, 2

SUCCESS = ("ok", "ok_escaped", "stream", "stream_escaped")
# 2xx answers that are errors in disguise, and answers the gateway cannot rebuild.
INBAND = ("inband", "stream_inband_json", "stream_error_first", "stream_error_mid")
MALFORMED = ("malformed", "html_200", "stream_malformed")
HTTP_ERRORS = (
    "http_openai",
    "http_openai_escaped",
    "http_detail",
    "http_detail_list",
    "http_text",
    "http_html",
    "http_429",
    "http_503_retry_text",
    "http_empty",
    "http_sse",
    "redirect_302",
    "redirect_307",
)
ODD = ("neginf", "stream_neginf")  # -Infinity before "model": rebuilt or refused, never leaked
BAD_STATUS = ("status_600", "status_999")
SCENARIOS = SUCCESS + INBAND + MALFORMED + HTTP_ERRORS + ODD + BAD_STATUS + ("huge",)


@dataclass(frozen=True)
class Secrets:
    """What one slot's checkpoint must never reveal to a client."""

    internal_id: str
    api_key: str
    base_url: str
    host_port: str

    @property
    def masked_key(self) -> str:
        return f"{self.api_key[:8]}****{self.api_key[-4:]}"

    def needles(self) -> tuple[str, ...]:
        return (self.internal_id, self.api_key, self.masked_key, self.base_url, self.host_port)

    def text(self) -> str:
        """A planted text: every secret, plain and upper-cased, and the probe word."""
        plain = self.needles()
        return " ".join((*plain, *(p.upper() for p in plain), f"key={self.api_key}", PROBE))

    def mixed(self) -> str:
        """:meth:`text` plain, ``\\uXXXX``-escaped and ``\\/``-escaped: valid inside a JSON
        string (decoding to the secrets) and literal escapes inside plain text or HTML."""
        text = self.text()
        return f"{text} {escape_u(text)} {escape_slash(text)}"


# -- JSON written by hand, so escapes and odd tokens are exactly as planned --------------------


class Raw(str):
    """Text written into the JSON document verbatim."""


def escape_u(text: str) -> str:
    """Every character as ``\\uXXXX`` (UTF-16 units), except ``/`` written as ``\\/``."""
    out = []
    for ch in text:
        if ch == "/":
            out.append("\\/")
            continue
        units = ch.encode("utf-16-be")
        for i in range(0, len(units), 2):
            out.append(f"\\u{units[i]:02x}{units[i + 1]:02x}")
    return "".join(out)


def escape_slash(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)[1:-1].replace("/", "\\/")


def u(text: str) -> Raw:
    return Raw(f'"{escape_u(text)}"')


def slashed(text: str) -> Raw:
    return Raw(f'"{escape_slash(text)}"')


def dumps(value: Any, *, escape: bool = False) -> str:
    """JSON text; ``Raw`` goes in as is; ``escape`` writes every string fully escaped."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, dict):
        members = (f"{dumps(k, escape=escape)}:{dumps(v, escape=escape)}" for k, v in value.items())
        return "{" + ",".join(members) + "}"
    if isinstance(value, list):
        return "[" + ",".join(dumps(v, escape=escape) for v in value) + "]"
    if isinstance(value, str) and escape:
        return str(u(value))
    return json.dumps(value, ensure_ascii=False)


def leaks(s: Secrets) -> dict[str, Any]:
    """Unknown members carrying the secrets in each encoding."""
    text = s.text()
    return {"x_leak": text, "x_leak_u": u(text), "x_leak_slash": slashed(text)}


# -- bodies -------------------------------------------------------------------------------------


def _logprobs(s: Secrets) -> dict[str, Any]:
    def entry(token: str, logprob: float) -> dict[str, Any]:
        return {"token": token, "logprob": logprob, "bytes": list(token.encode())}

    content = [
        {
            **entry(token, lp),
            "top_logprobs": [{**entry(t, tl), **leaks(s)} for t, tl in TOP],
            **leaks(s),
        }
        for token, lp in LOGPROBS
    ]
    return {"content": content, "refusal": None, **leaks(s)}


def _usage(s: Secrets) -> dict[str, Any]:
    return {
        **USAGE,
        "prompt_tokens_details": {"cached_tokens": CACHED, "audio_tokens": 0, **leaks(s)},
        "completion_tokens_details": {"reasoning_tokens": REASONING_TOKENS, **leaks(s)},
        "cost": 0.25,
        "provider": s.text(),
        **leaks(s),
    }


def tool_call_id(s: Secrets) -> str:
    return f"call_{s.internal_id}_{PROBE}"


def completion(s: Secrets, *, neginf: bool = False) -> dict[str, Any]:
    """A chat.completion with nested members (and maybe ``-Infinity``) before ``model``."""
    message = {
        "role": "assistant",
        "content": CONTENT,
        "refusal": None,
        "reasoning": REASONING,
        "tool_calls": [
            {
                "id": tool_call_id(s),
                "type": "function",
                "function": {"name": TOOL_NAME, "arguments": TOOL_ARGS, **leaks(s)},
                **leaks(s),
            }
        ],
        "annotations": [{"type": "url_citation", "url": s.base_url}],
        "model": s.internal_id,
        **leaks(s),
    }
    logprobs = _logprobs(s)
    if neginf:
        logprobs["content"][1]["logprob"] = Raw("-Infinity")
    return {
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": logprobs,
                "finish_reason": "tool_calls",
                "native_finish_reason": s.text(),
                **leaks(s),
            }
        ],
        "id": f"chatcmpl-{s.internal_id}-{s.api_key}",
        "object": "chat.completion",
        "created": 1718000000,
        "created_by": s.text(),
        "model": s.internal_id,
        "system_fingerprint": f"fp_{s.internal_id}",
        "service_tier": s.text(),
        "provider": slashed(s.base_url),
        "usage": _usage(s),
        **leaks(s),
    }


def error_object(s: Secrets) -> dict[str, Any]:
    return {
        "error": {
            "message": f"model {s.internal_id} at {s.base_url} refused key={s.api_key} {PROBE}",
            "type": f"{s.internal_id}_error",
            "code": f"quota_{s.masked_key}",
            "param": u(s.text()),
            "metadata": {"raw": s.text(), "provider_name": s.internal_id},
        },
        "id": f"gen-{s.internal_id}",
        "model": s.internal_id,
        **leaks(s),
    }


def _chunk(s: Secrets, delta: dict[str, Any], **choice: Any) -> dict[str, Any]:
    return {
        "choices": [{"index": 0, "delta": {**delta, **leaks(s)}, **choice, **leaks(s)}],
        "id": f"chatcmpl-{s.internal_id}",
        "object": "chat.completion.chunk",
        "created": 1718000000,
        "model": s.internal_id,
        "system_fingerprint": f"fp_{s.internal_id}",
        **leaks(s),
    }


def chunks(s: Secrets, *, neginf: bool = False) -> list[dict[str, Any]]:
    """The data documents of a successful stream (without ``[DONE]``)."""
    out = [_chunk(s, {"role": "assistant", "content": ""}), _chunk(s, {"reasoning": REASONING})]
    logprobs = _logprobs(s)
    for n, piece in enumerate(CONTENT_PIECES):
        extra = {"logprobs": {"content": [logprobs["content"][n]]}} if n < len(LOGPROBS) else {}
        out.append(_chunk(s, {"content": piece}, **extra))
    if neginf:
        out[2]["choices"][0]["logprobs"]["content"][0]["logprob"] = Raw("-Infinity")
    for n, piece in enumerate(TOOL_ARGS_PIECES):
        call: dict[str, Any] = {"index": 0, "function": {"arguments": piece, **leaks(s)}}
        if n == 0:
            call.update(id=tool_call_id(s), type="function")
            call["function"]["name"] = TOOL_NAME
        out.append(_chunk(s, {"tool_calls": [{**call, **leaks(s)}]}))
    out.append(_chunk(s, {}, finish_reason="tool_calls", native_finish_reason=s.text()))
    out.append({**_chunk(s, {}), "choices": [], "usage": _usage(s)})
    return out


# -- SSE framing --------------------------------------------------------------------------------


def sse(events: list[list[str]], eol: str) -> bytes:
    """Events (each a list of field lines) joined with ``eol``, each ended by a blank line."""
    return "".join(eol.join(lines) + eol + eol for lines in events).encode()


def data_lines(doc: str) -> list[str]:
    """One data document as several ``data:`` lines, cut where JSON allows whitespace."""
    parts = doc.split(',"')
    if len(parts) < 3:
        return [f"data: {doc}"]
    cut = len(parts) // 2
    first, second = ',"'.join(parts[:cut]) + ",", '"' + ',"'.join(parts[cut:])
    return [f"data: {first}", f"data:{second}"]


def stream_events(s: Secrets, docs: list[str], *, done: bool = True) -> list[list[str]]:
    text = s.text()
    events: list[list[str]] = [
        [f": keep-alive {text}", ":" + escape_u(text), f"retry: {text}", "retry: 1000"],
        [f"id: {text}", f"event: {s.internal_id}", f"data: {docs[0]}"],
    ]
    for n, doc in enumerate(docs[1:]):
        lines = data_lines(doc) if n % 2 == 0 else [f"data: {doc}"]
        if n % 3 == 0:
            lines = [f": {escape_slash(s.base_url)}", f"id: {s.api_key}", *lines]
        events.append(lines)
    if done:
        events.append(["data: [DONE]"])
        events.append([f": after done {text}", f'data: {{"model": "{s.internal_id}"}}'])
    return events


@dataclass
class Reply:
    """One scripted answer: raw status line, headers, body pieces (each a separate write)."""

    status_line: bytes = b"HTTP/1.1 200 OK"
    headers: list[tuple[str, str]] = field(default_factory=list)
    pieces: list[bytes] = field(default_factory=list)
    framing: str = "length"  # length | chunked | close
    repeat: tuple[bytes, int] | None = None  # (block, times) written after the pieces


def leak_headers(s: Secrets, content_type: str) -> list[tuple[str, str]]:
    text = s.text()
    return [
        ("content-type", f'{content_type}; model="{s.internal_id}"; charset=utf-8'),
        ("x-request-id", f"req-{s.internal_id}"),
        ("openai-model", s.internal_id),
        ("openai-organization", text),
        ("openai-processing-ms", "17"),
        ("x-ratelimit-limit-requests", "1000"),
        ("x-ratelimit-remaining-requests", f"999 {s.internal_id}"),
        ("x-ratelimit-reset-tokens", f"6m0s {s.api_key}"),
        ("x-leaky-probe", text),
        ("x-leaky-escaped", escape_u(text)),
        ("set-cookie", f"session={s.api_key}; Path=/"),
        ("server", f"leaky/{s.internal_id}"),
        ("via", f"1.1 {s.host_port}"),
        ("retry-after", text),
    ]


# Header names only the upstream uses: none may reach a client of an experimented id.
UPSTREAM_ONLY_HEADERS = frozenset(
    {
        "openai-model",
        "openai-organization",
        "openai-processing-ms",
        "x-leaky-probe",
        "x-leaky-escaped",
        "set-cookie",
        "via",
        "location",
    }
)


# -- scenarios ----------------------------------------------------------------------------------

Builder = Callable[[Secrets, str, dict[str, str]], Reply]


def _json(s: Secrets, status: str, doc: str, ctype: str = "application/json") -> Reply:
    return Reply(f"HTTP/1.1 {status}".encode(), leak_headers(s, ctype), [doc.encode()])


def _stream(s: Secrets, events: list[list[str]], eol: str) -> Reply:
    return Reply(
        b"HTTP/1.1 200 OK", leak_headers(s, "text/event-stream"), [sse(events, eol)], "chunked"
    )


def _docs(s: Secrets, escape: bool = False, neginf: bool = False) -> list[str]:
    return [dumps(c, escape=escape) for c in chunks(s, neginf=neginf)]


def _mid_error(s: Secrets, eol: str, _: dict[str, str]) -> Reply:
    docs = _docs(s)
    events = stream_events(s, [*docs[:3], dumps(error_object(s)), *docs[3:]])
    events[4] = ["event: error", f"id: {s.internal_id}", *events[4]]
    return _stream(s, events, eol)


def _malformed_stream(s: Secrets, eol: str, _: dict[str, str]) -> Reply:
    docs = _docs(s)
    broken = f'{{"id": "{s.internal_id}", "model": "{s.internal_id}", "x": {dumps(s.text())}, oops'
    return _stream(s, stream_events(s, [*docs[:3], broken, *docs[3:]]), eol)


def _http(status: str, ctype: str, doc: Callable[[Secrets], str]) -> Builder:
    return lambda s, eol, o: _json(s, status, doc(s), ctype)


def _with(reply: Reply, status_line: str = "", **headers: str) -> Reply:
    reply.headers = [h for h in reply.headers if h[0] not in headers] + list(headers.items())
    reply.status_line = status_line.encode() or reply.status_line
    return reply


def _redirect(status: str) -> Builder:
    def build(s: Secrets, eol: str, o: dict[str, str]) -> Reply:
        reply = _json(s, status, f"Moved to {s.base_url}/elsewhere {s.mixed()}", "text/plain")
        return _with(reply, location=f"{s.base_url}/elsewhere?key={s.api_key}")

    return build


def _bad_status(code: str) -> Builder:
    def build(s: Secrets, eol: str, o: dict[str, str]) -> Reply:
        return _json(s, f"{code} {s.internal_id}", dumps(completion(s)))

    return build


def _huge(s: Secrets, eol: str, options: dict[str, str]) -> Reply:
    """One SSE line of ``size`` bytes that never ends; close-delimited, so nothing else."""
    head = f'data: {{"id": "{s.internal_id}", "model": "{s.internal_id}", "choices": [{{"index": '
    head += '0, "delta": {"content": "'
    block = b"x" * (1 << 20)
    reply = Reply(b"HTTP/1.1 200 OK", leak_headers(s, "text/event-stream"), [head.encode()])
    reply.framing = "close"
    reply.repeat = (block, int(options.get("size", str(300 * 10**6))) // len(block))
    return reply


def _detail_list(s: Secrets) -> str:
    return dumps(
        {"detail": [{"loc": ["body", s.internal_id], "msg": Raw(f'"{s.mixed()}"'), "type": "x"}]}
    )


def _html(s: Secrets) -> str:
    return f"<html><body><h1>502 Bad Gateway</h1><p>{s.mixed()}</p></body></html>"


BUILDERS: dict[str, Builder] = {
    "ok": lambda s, eol, o: _json(s, "200 OK", dumps(completion(s))),
    "ok_escaped": lambda s, eol, o: _json(s, "200 OK", dumps(completion(s), escape=True)),
    "neginf": lambda s, eol, o: _json(s, "200 OK", dumps(completion(s, neginf=True))),
    "stream": lambda s, eol, o: _stream(s, stream_events(s, _docs(s)), eol),
    "stream_escaped": lambda s, eol, o: _stream(s, stream_events(s, _docs(s, escape=True)), eol),
    "stream_neginf": lambda s, eol, o: _stream(s, stream_events(s, _docs(s, neginf=True)), eol),
    "inband": lambda s, eol, o: _json(s, "200 OK", dumps(error_object(s))),
    "stream_inband_json": lambda s, eol, o: _json(s, "200 OK", dumps(error_object(s))),
    "stream_error_first": lambda s, eol, o: _stream(
        s, stream_events(s, [dumps(error_object(s))]), eol
    ),
    "stream_error_mid": _mid_error,
    "malformed": lambda s, eol, o: _json(
        s, "200 OK", f'{{"id": "{s.internal_id}", "model": "{s.internal_id}", "choices": ['
    ),
    "stream_malformed": _malformed_stream,
    "http_openai": _http("400 Bad Request", "application/json", lambda s: dumps(error_object(s))),
    "http_openai_escaped": _http(
        "404 Not Found", "application/json", lambda s: dumps(error_object(s), escape=True)
    ),
    "http_detail": _http(
        "422 Unprocessable", "application/json", lambda s: dumps({"detail": Raw(f'"{s.mixed()}"')})
    ),
    "http_detail_list": _http("500 Internal Server Error", "application/json", _detail_list),
    "http_text": _http("503 Unavailable", "text/plain", lambda s: s.mixed()),
    "http_html": _http("502 Bad Gateway", "text/html", _html),
    "http_429": lambda s, eol, o: _with(
        _json(s, "429 Too Many Requests", dumps(error_object(s))), **{"retry-after": "7"}
    ),
    "http_503_retry_text": lambda s, eol, o: _json(s, "503 Slow Down", dumps(error_object(s))),
    "http_empty": lambda s, eol, o: _json(s, "500 Internal Server Error", ""),
    "http_sse": lambda s, eol, o: _with(
        _stream(s, stream_events(s, [dumps(error_object(s))]), eol),
        status_line="HTTP/1.1 500 Internal Server Error",
    ),
    "html_200": _http("200 OK", "text/html", _html),
    "redirect_302": _redirect("302 Found"),
    "redirect_307": _redirect("307 Temporary Redirect"),
    "status_600": _bad_status("600"),
    "status_999": _bad_status("999"),
    "huge": _huge,
}
assert set(BUILDERS) == set(SCENARIOS)
