"""Unit tests for previewgate.gateway.blind_errors: upstream failures as errors we write.

The upstream's status and fields only pick a row of the table in the module docstring; the
message, type and code come from us, so no upstream text can reach an experimented client.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from previewgate.errors import (
    BadRequest,
    ContentPolicyViolation,
    ContextLengthExceeded,
    PayloadTooLarge,
    PreviewGateError,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
)
from previewgate.gateway.blind_errors import (
    MAX_RETRY_AFTER_S,
    blind_error,
    embedded_status,
    retry_after,
)

OUR_MESSAGES = {
    "The request exceeds the model's context length.",
    "The request was refused by the model's content policy.",
    "The model is receiving too many requests; retry shortly.",
    "The model could not process this request.",
    "The request is too large for the model.",
    "The model took too long to answer.",
    "The model failed to answer; retry shortly.",
}
OUR_CODES = {
    "context_length_exceeded",
    "content_policy_violation",
    "invalid_request",
    "payload_too_large",
    "rate_limit_exceeded",
    "upstream_timeout",
    "upstream_error",
}
OUR_TYPES = {"invalid_request_error", "rate_limit_error", "server_error"}
OUR_STATUSES = {400, 413, 429, 500, 502, 503, 504}

INTERNAL = "ckpt-internal-2024-06-rc3"


def err(message: Any = None, code: Any = None, etype: Any = None, **more: Any) -> dict[str, Any]:
    inner = {"message": message, "code": code, "type": etype, **more}
    return {"error": {k: v for k, v in inner.items() if v is not None}}


def shape(error: PreviewGateError) -> tuple[int, str, str]:
    body = json.loads(error.render())
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "code"}
    assert body["error"]["message"] in OUR_MESSAGES
    return error.status, body["error"]["code"], body["error"]["type"]


CONTEXT = (400, "context_length_exceeded", "invalid_request_error")
POLICY = (400, "content_policy_violation", "invalid_request_error")
INVALID = (400, "invalid_request", "invalid_request_error")
TOO_LARGE = (413, "payload_too_large", "invalid_request_error")
RATE = (429, "rate_limit_exceeded", "rate_limit_error")
TIMEOUT = (504, "upstream_timeout", "server_error")


def upstream_error(status: int) -> tuple[int, str, str]:
    return (status, "upstream_error", "server_error")


# One group per row of the docstring table, several ways the upstream says it.
TABLE: list[tuple[tuple[int, str, str], list[tuple[int, Any]]]] = [
    (  # context window / length exceeded -> 400 context_length_exceeded
        CONTEXT,
        [
            (400, err("This model's maximum context length is 8192 tokens", "invalid_value")),
            (400, err("prompt is too long: 200000 tokens > 100000 maximum")),
            (400, err(code="context_length_exceeded")),
            (400, err("Input exceeds the context window")),
            (413, err("too many tokens in the request")),
            (422, err("Context length exceeded for " + INTERNAL)),
            (400, {"detail": "maximum context length exceeded"}),
            (200, err("maximum context length", 400)),  # in-band, with its status
        ],
    ),
    (  # content policy / moderation -> 400 content_policy_violation
        POLICY,
        [
            (400, err("Your request was flagged by our moderation system")),
            (400, err(code="content_policy_violation")),
            (403, err("Blocked by safety filters")),
            (422, err(etype="content_filter")),
            (400, err("Content management policy triggered")),
        ],
    ),
    (  # 400, 409, 422 (other) -> 400 invalid_request
        INVALID,
        [
            (400, err("Invalid 'messages[0].role'", "invalid_value", "invalid_request_error")),
            (409, err("conflict")),
            (422, {"detail": [{"loc": ["body", "x"], "msg": "field required"}]}),
            (400, None),
            (400, "<html>400 Bad Request</html>"),
            (200, err("x", 422)),
        ],
    ),
    (  # 413 -> 413 payload_too_large
        TOO_LARGE,
        [(413, err("Request Entity Too Large")), (413, None), (200, err("x", 413))],
    ),
    (  # 429 or a rate-limit code -> 429 rate_limit_exceeded
        RATE,
        [
            (429, err("slow down")),
            (429, None),
            (500, err(code="rate_limit_exceeded")),
            (503, err("Rate limit reached for requests")),
            (400, err(etype="ratelimit")),
            (200, err("too many", 429)),  # in-band, OpenRouter style
            (200, {"error": "rate limited"}),
        ],
    ),
    (  # 408, 504 -> 504 upstream_timeout
        TIMEOUT,
        [
            (408, err("Request Timeout")),
            (504, None),
            (504, "<html>504</html>"),
            (200, err("", 504)),
        ],
    ),
    # 500, 502, 503 -> same status, upstream_error
    (upstream_error(500), [(500, err("Internal error at gpu-pool-7")), (200, err("x", 500))]),
    (upstream_error(502), [(502, None)]),
    (upstream_error(503), [(503, err("overloaded", "overloaded", "server_error"))]),
    (  # anything else -> 502 upstream_error
        upstream_error(502),
        [
            (401, err("Incorrect API key provided: sk-live-...", "invalid_api_key")),
            (403, err("Forbidden")),
            (404, err(f"The model `{INTERNAL}` does not exist", "model_not_found")),
            (302, None),
            (100, None),
            (200, err("something broke")),  # in-band without a status: a 502
            (200, err("x", 404)),
            (200, err("x", "429")),  # a string code is not a status
            (200, err("x", True)),
            (600, None),
            (999, err("context length exceeded")),
            (-1, None),
            (401, err("content policy")),  # policy words only count with 400/403/422
            (404, err("maximum context length")),  # context words only with 400/413/422
        ],
    ),
]
CASES = [(status, detail, row) for row, cases in TABLE for status, detail in cases]


@pytest.mark.parametrize(("status", "detail", "expected"), CASES)
def test_blind_error_table(status: int, detail: Any, expected: tuple[int, str, str]) -> None:
    assert shape(blind_error(status, detail)) == expected


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequest),
        (413, PayloadTooLarge),
        (429, RateLimited),
        (408, UpstreamTimeout),
        (500, UpstreamError),
        (401, UpstreamError),
    ],
)
def test_blind_error_classes(status: int, cls: type[PreviewGateError]) -> None:
    assert type(blind_error(status, None)) is cls


def test_blind_error_classes_from_words() -> None:
    assert type(blind_error(400, err("context length"))) is ContextLengthExceeded
    assert type(blind_error(400, err("moderation"))) is ContentPolicyViolation


def test_upstream_text_never_rendered() -> None:
    detail = err(f"model {INTERNAL} at https://gpu-pool-7:8443 key sk-live-1", INTERNAL, INTERNAL)
    for status in (200, 400, 401, 404, 413, 429, 500, 503, 504, 600):
        body = blind_error(status, detail).render()
        for leak in (INTERNAL, "gpu-pool", "8443", "sk-live"):
            assert leak.encode() not in body


@pytest.mark.parametrize(
    ("detail", "status"),
    [
        (err("x", 429), 429),
        (err("x", 400), 400),
        (err("x", 599), 599),
        (err("x", 399), None),
        (err("x", 600), None),
        (err("x", "429"), None),
        (err("x", True), None),
        (err("x", 429.0), None),
        ({"error": "rate limited", "code": 429}, None),
        ({"code": 429}, None),
        ([{"error": {"code": 429}}], None),
        ("429", None),
        (None, None),
    ],
)
def test_embedded_status(detail: Any, status: int | None) -> None:
    assert embedded_status(detail) == status


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5", b"5"),
        ("0", b"0"),
        (" 30 ", b"30"),
        ("007", b"7"),
        ("86400", b"86400"),
        ("86401", b"86400"),
        ("999999", b"86400"),
        ("1234567", None),  # too many digits to be a real wait
        ("1.5", None),
        ("-1", None),
        ("+5", None),
        ("0x10", None),
        ("5s", None),
        ("5 6", None),
        ("", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", None),  # HTTP dates are not repeated
        ("٣", None),  # non-ASCII digits
        ("5\r\nx-leak: 1", None),
    ],
)
def test_retry_after(value: str, expected: bytes | None) -> None:
    assert retry_after([("content-type", "application/json"), ("retry-after", value)]) == expected


def test_retry_after_absent_or_first_only() -> None:
    assert retry_after([]) is None
    assert retry_after([("x-ratelimit-reset-requests", "5")]) is None
    assert retry_after([("retry-after", "x"), ("retry-after", "5")]) is None
    assert retry_after([("retry-after", "5"), ("retry-after", "x")]) == b"5"


@settings(max_examples=150, deadline=None, database=None)
@given(st.text(max_size=12))
def test_retry_after_property(value: str) -> None:
    out = retry_after([("retry-after", value)])
    if out is not None:
        assert out.isdigit() and 0 <= int(out) <= MAX_RETRY_AFTER_S
        assert int(out) == min(int(value.strip()), MAX_RETRY_AFTER_S)


# --- property: whatever the upstream says, only our words come out ---------------------

MARKER = "Zq9-LEAK-marker"
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=10,
)
WORDS = st.sampled_from(
    ["", "context length", "moderation", "rate limit", "flagged", "too many tokens", "safety"]
)


@st.composite
def marked(draw: st.DrawFn) -> str:
    """A string holding the marker, sometimes among words that pick a category."""
    return draw(WORDS) + " " + MARKER + " " + draw(WORDS)


@st.composite
def details(draw: st.DrawFn) -> Any:
    inner = draw(st.dictionaries(st.text(max_size=6), JSONISH, max_size=3))
    for field in ("message", "code", "type", "status", "param", MARKER):
        if draw(st.booleans()):
            inner[field] = draw(marked())
    if draw(st.booleans()):
        inner["code"] = draw(st.integers(100, 700) | st.booleans() | marked())
    kind = draw(st.integers(0, 4))
    if kind == 0:
        return {"error": inner, "detail": draw(marked()), MARKER: MARKER}
    if kind == 1:
        return inner  # the fields at the top level
    if kind == 2:
        return {"error": draw(marked())}
    if kind == 3:
        return draw(marked())
    return draw(JSONISH)


@settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.integers(-1, 1000) | st.sampled_from([200, 400, 413, 422, 429, 500, 503]), details())
def test_rendered_error_holds_only_our_words(status: int, detail: Any) -> None:
    error = blind_error(status, detail)
    body = error.render()
    assert MARKER.encode() not in body
    got = json.loads(body)["error"]
    assert got["message"] in OUR_MESSAGES
    assert got["code"] in OUR_CODES
    assert got["type"] in OUR_TYPES
    assert error.status in OUR_STATUSES
