"""The public API, JSON-escaped private keys, repository hashes, and what findings hold."""

from __future__ import annotations

import json
import re

import pytest

import previewgate.redaction as redaction
from previewgate.redaction import REDACTOR_VERSION, Finding, redact, redact_json
from tests.redaction.corpus import load
from tests.redaction.fakes import generate


def test_public_api() -> None:
    assert set(redaction.__all__) == {"REDACTOR_VERSION", "Finding", "redact", "redact_json"}
    for name in ("mentions", "survives_json", "REDACTED"):
        assert not hasattr(redaction, name)  # route_secrets stays its own module
    assert re.fullmatch(r"\d{4}\.\d{1,2}\.\d+", REDACTOR_VERSION)


def test_marker_format() -> None:
    key = generate("github", "api/marker")
    text, findings = redact(f"GITHUB_TOKEN={key}\n")
    assert text == "GITHUB_TOKEN=[REDACTED:github_token]\n"
    assert findings == [Finding("github_token", 13, 13 + len(key))]


def test_empty_and_clean() -> None:
    assert redact("") == ("", [])
    assert redact("def add(a, b):\n    return a + b\n") == (
        "def add(a, b):\n    return a + b\n",
        [],
    )


@pytest.mark.parametrize("generator", ["pem_rsa", "pem_pkcs8", "openssh", "pem_ec"])
def test_pem_json_escaped_in_raw_json_and_walker(generator: str) -> None:
    pem = generate(generator, f"api/{generator}")
    message = {"role": "tool", "content": f"$ cat key.pem\n{pem}\n$ echo done"}
    raw = json.dumps(message)
    assert "\\n" in raw and "BEGIN" in raw
    text, findings = redact(raw)
    assert "BEGIN" not in text and "PRIVATE KEY" not in text.replace("[REDACTED:private_key]", "")
    assert [f.category for f in findings] == ["private_key"]
    assert json.loads(text)["content"] == "$ cat key.pem\n[REDACTED:private_key]\n$ echo done"
    value, found = redact_json(message)
    assert value["content"] == "$ cat key.pem\n[REDACTED:private_key]\n$ echo done"
    assert found[0].path == ("content",)


def test_pem_in_tool_call_arguments_escaped_twice() -> None:
    pem = generate("pem_pkcs8", "api/args")
    arguments = json.dumps({"path": "deploy/key.pem", "content": pem})
    request = {"tool_calls": [{"function": {"name": "write_file", "arguments": arguments}}]}
    raw = json.dumps(request)
    assert "\\\\n" in raw
    text, _ = redact(raw)
    assert "BEGIN" not in text
    inner = json.loads(json.loads(text)["tool_calls"][0]["function"]["arguments"])
    assert inner == {"path": "deploy/key.pem", "content": "[REDACTED:private_key]"}
    value, _ = redact_json(request)
    inner = json.loads(value["tool_calls"][0]["function"]["arguments"])
    assert inner["content"] == "[REDACTED:private_key]"


REPO_FORMS = [
    "https://github.com/Acme/Secret-Repo",
    "https://github.com/acme/secret-repo.git",
    "git@github.com:acme/secret-repo.git",
    "ssh://git@github.com/acme/secret-repo.git",
    "https://x-access-token:abc@github.com/acme/secret-repo",
]


def _marker(text: str) -> str:
    found = re.findall(r"\[REDACTED:repo_url(?::[0-9a-f]{12})?\]", text)
    assert len(found) == 1, text
    return found[0]


def test_repo_url_hash_stable_per_key_and_not_joinable_across_keys() -> None:
    with_a = {_marker(redact(f"clone {u} now", hash_key=b"partner-a")[0]) for u in REPO_FORMS}
    with_b = {_marker(redact(f"clone {u} now", hash_key=b"partner-b")[0]) for u in REPO_FORMS}
    assert len(with_a) == 1 and len(with_b) == 1
    assert with_a != with_b
    other = _marker(redact("clone https://github.com/acme/other-repo", hash_key=b"partner-a")[0])
    assert {other} != with_a
    assert _marker(redact(f"see {REPO_FORMS[0]}")[0]) == "[REDACTED:repo_url]"
    text, _ = redact("https://github.com/acme/secret-repo/blob/main/app.py#L3", hash_key=b"k")
    assert text.endswith("/blob/main/app.py#L3") and "acme" not in text


def test_findings_never_hold_secret_text() -> None:
    for case in load():
        _, findings = redact(case.text, hash_key=b"k")
        shown = repr(findings)
        for label in case.positives:
            value = case.text[label.start : label.end]
            if len(value) >= 6:
                assert value not in shown
        for f in findings:
            assert set(f.__dataclass_fields__) == {"category", "start", "end", "path", "in_key"}


def test_offsets_are_characters() -> None:
    text = "naïve café — contact: zoe.okafor@acme-corp.io ✓ 🎉 /home/zoë/x"
    redacted, findings = redact(text)
    assert redacted == "naïve café — contact: [REDACTED:email] ✓ 🎉 /home/[REDACTED:home_user]/x"
    assert [text[f.start : f.end] for f in findings] == ["zoe.okafor@acme-corp.io", "zoë"]


def test_walker_keys_values_and_key_context() -> None:
    email = "dmitri.petrov@orbitware.net"
    value = {
        "env": {"DB_PASSWORD": "hunter2hunter", "MAX_TOKENS": 4096, "DEBUG": True},
        email: {"visits": 3},
        "files": {"/home/dmitri/app.py": "print(1)", "/home/runner/x": None},
        "tags": ["a", 1.5, None],
    }
    out, findings = redact_json(value)
    assert out["env"] == {"DB_PASSWORD": "[REDACTED:password]", "MAX_TOKENS": 4096, "DEBUG": True}
    assert "[REDACTED:email]" in out and email not in json.dumps(out)
    assert list(out["files"]) == ["/home/[REDACTED:home_user]/app.py", "/home/runner/x"]
    assert out["tags"] == ["a", 1.5, None]
    assert any(f.in_key and f.category == "email" for f in findings)
    assert Finding("password", 0, 13, ("env", "DB_PASSWORD")) in findings


def test_walker_key_collisions_keep_every_entry() -> None:
    out, _ = redact_json({"ana@acme-corp.io": 1, "bo@acme-corp.io": 2})
    assert out == {"[REDACTED:email]": 1, "[REDACTED:email]#2": 2}


def test_an_assignment_far_before_a_marker_is_found_in_the_same_pass() -> None:
    # Found by the walker's property test: the key sat more than 64 bytes before the
    # marker whose appearance made its value read as a secret, so only a second call
    # redacted it. The second look now takes in the marker's whole line.
    glued = "MWM0RkhaI0NJZFE0" + "sk-ant-api03-" + "tvyAeqy6k5UtVcamlpBUCk9wwgQs8ZSNhSCk_YaReTeNN"
    glued += "n6hG-RUyUxCqSYUHBOHqw4yX2hnabbsGgS8qHLjXWhH7h6YRAAclient"
    openai_key = "sk-" + "QmRxZpr4A0P4FmTmSy32T3BlbkFJZ8ViTAja3hqkXeDKWceD"
    text = f'  password: {glued} = OpenAI(api_key="{openai_key}")'
    once, _ = redact(text, hash_key=b"k")
    assert redact(once, hash_key=b"k")[0] == once
    assert glued not in once and openai_key not in once


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("datadog_app: " + "9f8e7d6c5b4a3928" + "1706f5e4d3c2b1a0f9e8d7c6", False),
        ("HEROKU_API=" + "4f9b2c8e-1d3a-4b5c-" + "9e8f-7a6b5c4d3e2f", False),
        ("github: octocat", True),
        ('slack: "#general"', True),
        ("sentry: 1.2.3", True),
        ("datadog: enabled", True),
    ],
)
def test_a_providers_name_alone_marks_a_strictly_random_value(text: str, kept: bool) -> None:
    # As gitleaks finds them by name; a value that is not random stays.
    out, findings = redact(text)
    assert (out == text) is kept
    assert kept or [f.category for f in findings] == ["api_token"]
