"""Unit tests for the faithful relay's pure helpers: header allowlist and error scrubbing.

Ported from the old tests/gateway/test_blinding.py (``blind_error_body`` is now
``scrub_error_body``), plus the new rules: string codes and types are scrubbed too, integer
codes must be JSON-safe, passwords in base URLs are secrets.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from previewgate.gateway.faithful_relay import (
    filter_response_headers,
    scrub_error_body,
)
from previewgate.redaction.route_secrets import redact

REDACTED = "[redacted]"

PUBLIC = "preview-a"
INTERNAL = "ckpt-internal-2024-06-rc3"
KEY = "sk-live-AbCdEf0123456789"
BASE = "https://GPU-Pool-7.internal.example.com:8443/v1/"
SECRETS = [INTERNAL, BASE, KEY, ""]


# --- headers ---------------------------------------------------------------------------


def test_filter_response_headers() -> None:
    headers = [
        ("Content-Type", "text/event-stream"),
        ("X-RateLimit-Remaining-Tokens", "999"),
        ("retry-after", "3"),
        ("x-ratelimit-reset-requests", "1s"),
        ("Server", "uvicorn"),
        ("x-request-id", "req_1"),
        ("openai-organization", "org"),
        ("OpenAI-Model", INTERNAL),
        ("Set-Cookie", "a=b"),
        ("via", "1.1 proxy"),
        ("cf-ray", "abc"),
        ("content-length", "10"),
        ("transfer-encoding", "chunked"),
        ("openai-processing-ms", "12"),
    ]
    assert filter_response_headers(headers) == [
        ("content-type", "text/event-stream"),
        ("x-ratelimit-remaining-tokens", "999"),
        ("retry-after", "3"),
        ("x-ratelimit-reset-requests", "1s"),
    ]
    assert filter_response_headers(iter([])) == []


def test_filter_response_headers_full_allowlist_and_repeats() -> None:
    allowed = [
        "content-type",
        "retry-after",
        "x-ratelimit-limit-requests",
        "x-ratelimit-limit-tokens",
        "x-ratelimit-remaining-requests",
        "x-ratelimit-remaining-tokens",
        "x-ratelimit-reset-requests",
        "x-ratelimit-reset-tokens",
    ]
    headers = [(name.upper(), str(i)) for i, name in enumerate(allowed)]
    headers += [("retry-after", "9"), ("x-ratelimit-reset", "1"), ("content-type ", "x")]
    assert filter_response_headers(headers) == [
        *[(name, str(i)) for i, name in enumerate(allowed)],
        ("retry-after", "9"),
    ]


# --- redact (previewgate.redaction) ---------------------------------------------------


def test_scrub_key_url_host_and_model() -> None:
    text = (
        f"model {INTERNAL} failed at https://gpu-pool-7.internal.example.com:8443/v1 "
        f"(host GPU-POOL-7.INTERNAL.EXAMPLE.COM, netloc gpu-pool-7.internal.example.com:8443) "
        f"with key {KEY}; full {BASE}chat/completions"
    )
    out = redact(text, SECRETS)
    for leak in ("gpu-pool", "internal.example", "8443", KEY, INTERNAL, "sk-live"):
        assert leak.lower() not in out.lower()
    assert "[redacted]chat/completions" in out
    assert out.count(REDACTED) == 6


def test_scrub_key_longest_first() -> None:
    assert redact("sk-abc sk-abcdef", ["sk-abc", "sk-abcdef"]) == (f"{REDACTED} {REDACTED}")
    assert redact("sk-abcdef", ["sk-abc", "sk-abcdef"]) == REDACTED  # not "...def"
    assert redact("nothing here", ["", ""]) == "nothing here"
    assert redact("nothing here", []) == "nothing here"
    assert redact("", SECRETS) == ""


def test_scrub_key_ignores_case() -> None:
    # Every form is matched without regard to case (src/previewgate/redaction.py).
    assert redact("SK-ABC and Sk-Abc", ["sk-abc"]) == f"{REDACTED} and {REDACTED}"
    assert redact(f"k={KEY.upper()}", SECRETS) == f"k={REDACTED}"


@pytest.mark.parametrize("masked", ["sk-live-****6789", "sk-live-...6789", "SK-LIVE-xxxx6789"])
def test_scrub_masked_key(masked: str) -> None:
    assert redact(f"Incorrect API key provided: {masked}.", SECRETS) == (
        f"Incorrect API key provided: {REDACTED}."
    )


def test_scrub_short_key_has_no_masked_form() -> None:
    assert redact("sk-a****wxyz", ["sk-abcdwxyz"]) == "sk-a****wxyz"


def test_scrub_url_password_is_a_secret() -> None:
    secrets = ["https://user:Pa55-w0rd@host.example:9000/v1"]
    out = redact("auth Pa55-w0rd failed; pa55-w0rd at HOST.EXAMPLE", secrets)
    assert out == f"auth {REDACTED} failed; {REDACTED} at {REDACTED}"


def test_scrub_host_port_of_a_url_with_credentials() -> None:
    secrets = ["https://user:Pa55-w0rd@host.example:9000/v1"]
    assert redact("at HOST.EXAMPLE:9000 now", secrets) == f"at {REDACTED} now"


def test_scrub_regex_characters_are_literal() -> None:
    secrets = ["https://a.b+c(d)*.example/v1", "k.y*+?"]
    out = redact("x A.B+C(D)*.EXAMPLE y k.y*+? z kXyyy", secrets)
    assert out == f"x {REDACTED} y {REDACTED} z kXyyy"


def test_scrub_broken_url_still_redacts_the_text() -> None:
    secret = "http://[::1/v1"  # urlsplit raises on the broken IPv6 literal
    assert redact(f"at {secret.upper()} now", [secret]) == f"at {REDACTED} now"


@settings(max_examples=150, deadline=None, database=None)
@given(st.text(max_size=30), st.text(max_size=30), st.sampled_from(SECRETS[:3]))
def test_scrub_property(before: str, after: str, secret: str) -> None:
    out = redact(before + secret + after, SECRETS)
    assert KEY not in out and INTERNAL not in out
    assert "gpu-pool-7.internal.example.com" not in out.lower()


# --- scrub_error_body ------------------------------------------------------------------


def test_scrub_error_body_openai_shape() -> None:
    upstream = orjson.dumps(
        {
            "error": {
                "message": f"The model `{INTERNAL}` at {BASE} is overloaded",
                "type": "server_error",
                "code": "overloaded",
                "param": None,
                "model": INTERNAL,
            },
            "model": INTERNAL,
        }
    )
    out = json.loads(scrub_error_body(upstream, 503, PUBLIC, SECRETS))
    assert out == {
        "error": {
            "message": f"The model `{REDACTED}` at {REDACTED} is overloaded",
            "type": "server_error",
            "code": "overloaded",
            "model": PUBLIC,
        },
        "model": PUBLIC,
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (f"upstream {KEY} exploded".encode(), f"upstream {REDACTED} exploded"),
        (b"<html><body>nginx/1.25 at gpu-pool-7</body></html>", "upstream error"),
        (b"  <!DOCTYPE html><p>cf</p>", "upstream error"),
        (b"", "upstream error"),
        (b"   \n", "upstream error"),
        (b"\xff\xfe broken", "\ufffd\ufffd broken"),
        (b'["not", "an", "object"]', '["not", "an", "object"]'),
        (b'{"detail": "no error member"}', '{"detail": "no error member"}'),
        (b'{"error": "a string"}', '{"error": "a string"}'),
    ],
)
def test_scrub_error_body_non_openai(body: bytes, message: str) -> None:
    out = json.loads(scrub_error_body(body, 502, PUBLIC, SECRETS))
    assert out == {"error": {"message": message, "type": "upstream_error", "code": 502}}


def test_scrub_error_body_non_json_text_is_capped() -> None:
    out = json.loads(scrub_error_body(b"x" * 5000, 500, PUBLIC, SECRETS))
    assert out["error"]["message"] == "x" * 500


def test_scrub_error_body_minimal_error_object() -> None:
    out = json.loads(scrub_error_body(b'{"error":{"code":429}}', 429, PUBLIC, SECRETS))
    assert out == {"error": {"message": "upstream error", "type": "upstream_error", "code": 429}}


def test_scrub_error_body_top_level_model_without_error_object() -> None:
    out = json.loads(scrub_error_body(b'{"model":"x","detail":"d"}', 400, PUBLIC, SECRETS))
    assert out["model"] == PUBLIC
    assert out["error"]["code"] == 400


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (f"bad_key_{KEY}", f"bad_key_{REDACTED}"),
        (400, 400),
        (-3, -3),
        (2**53 - 1, 2**53 - 1),
        (2**53, None),
        (10**30, None),  # a 30-digit integer would not survive JSON clients
        (True, None),
        (1.5, None),
        (None, None),
        (["x"], None),
        ({"k": INTERNAL}, None),
    ],
)
def test_scrub_error_body_code(code: Any, expected: Any) -> None:
    body = json.dumps({"error": {"message": "m", "code": code}}).encode()  # big ints exact
    out = json.loads(scrub_error_body(body, 400, PUBLIC, SECRETS))
    assert out["error"]["code"] == expected


@pytest.mark.parametrize(
    ("etype", "expected"),
    [
        ("invalid_request_error", "invalid_request_error"),
        (f"error_in_{INTERNAL}", f"error_in_{REDACTED}"),
        (None, "upstream_error"),
        (5, "upstream_error"),
        ({"x": KEY}, "upstream_error"),
    ],
)
def test_scrub_error_body_type(etype: Any, expected: str) -> None:
    body = orjson.dumps({"error": {"message": "m", "type": etype}})
    assert json.loads(scrub_error_body(body, 400, PUBLIC, SECRETS))["error"]["type"] == expected


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("", "upstream error"),
        (None, "upstream error"),
        (0, "upstream error"),
        (False, "upstream error"),
        (42, "42"),
        ([f"at {BASE}"], f"['at {REDACTED}']"),
        ({"detail": KEY}, f"{{'detail': '{REDACTED}'}}"),
    ],
)
def test_scrub_error_body_message_types(message: Any, expected: str) -> None:
    body = orjson.dumps({"error": {"message": message, "code": "c"}})
    assert json.loads(scrub_error_body(body, 400, PUBLIC, SECRETS))["error"]["message"] == expected


def test_scrub_error_body_drops_unknown_error_fields() -> None:
    body = orjson.dumps(
        {
            "error": {
                "message": "m",
                "param": "messages",
                "metadata": {"raw": f"{INTERNAL} {BASE}", "provider_name": "gpu"},
                "internal": KEY,
            },
            "provider": "gpu-pool-7",
            "user_id": "u1",
        }
    )
    out = scrub_error_body(body, 400, PUBLIC, SECRETS)
    assert json.loads(out) == {"error": {"message": "m", "type": "upstream_error", "code": None}}
    for leak in (INTERNAL, KEY, "gpu", "u1", "messages"):
        assert leak.encode() not in out


def test_scrub_error_body_escaped_secrets_in_json() -> None:
    # The secret spelled with JSON escapes is decoded first, then scrubbed.
    escaped = INTERNAL.replace("c", "\\u0063")
    body = b'{"error":{"message":"model ' + escaped.encode() + b' failed"}}'
    out = json.loads(scrub_error_body(body, 500, PUBLIC, SECRETS))
    assert out["error"]["message"] == f"model {REDACTED} failed"


def test_scrub_error_body_big_integers_elsewhere_do_not_break_parsing() -> None:
    body = b'{"error":{"message":"m ' + KEY.encode() + b'","n":123456789012345678901234567890}}'
    out = json.loads(scrub_error_body(body, 500, PUBLIC, SECRETS))
    assert out["error"]["message"] == f"m {REDACTED}"
