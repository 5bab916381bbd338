"""A misbehaving upstream: each fault is a clean, blinded error and a usage row saying what.

Faults come from the real mock upstream (``#mock:`` behaviours), for an experimented
preview id and for a production model, through one gateway per backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest

from previewgate.gateway.relay import MAX_RESPONSE_BODY
from tests.reliability.helpers import PROD_ID, URL, add_production_model, chat, usage_rows
from tests.support.experiments import (
    PREVIEW_ID,
    admin_client,
    create_preview_model,
    start_experiment,
)
from tests.support.servers import MockServer

# Over the gateway's in-memory cap for a non-streaming body.
BIG = MAX_RESPONSE_BODY + 6 * 1024 * 1024


@dataclass(frozen=True)
class Case:
    name: str
    behaviour: str
    stream: bool
    status: int
    error_kind: str


CASES = (
    Case("slow-first-byte", "slow=3", False, 504, "timeout"),
    Case("slow-first-byte-stream", "slow=3", True, 504, "timeout"),
    Case("cut", "cut", True, 200, "stream_cut"),
    Case("invalid-json", "invalid_json", False, 502, "invalid_response"),
    Case("invalid-json-stream", "invalid_json", True, 502, "invalid_response"),
    Case("rate-limited", "429", False, 429, "upstream_429"),
    Case("server-error", "500", False, 500, "upstream_500"),
    Case("server-error-stream", "500", True, 500, "upstream_500"),
    Case("dropped", "drop", False, 502, "stream_cut"),
    Case("too-big", f"big={BIG}", False, 502, "response_too_large"),
)


def _check_stream_cut(r: httpx.Response) -> None:
    """Headers went out before the cut: the error arrives in-band and the stream ends."""
    events = [ln[6:] for ln in r.text.splitlines() if ln.startswith("data: ")]
    assert events, r.text
    last = orjson.loads(events[-1])
    assert set(last["error"]) >= {"message", "code"}, last
    assert "[DONE]" not in r.text


def _check_error_body(r: httpx.Response) -> None:
    err = r.json()["error"]
    assert set(err) >= {"message", "type", "code"}, err
    assert isinstance(err["message"], str) and err["message"]


def test_upstream_faults_are_clean_blinded_and_recorded(
    make_gateway: Any, settings: Any, mocks: list[MockServer], caplog: pytest.LogCaptureFixture
) -> None:
    gw = make_gateway(settings.replace(upstream_read_timeout_s=10))
    # Same store, short read timeout: only the slow-first-byte cases go through this one.
    impatient = make_gateway(settings.replace(upstream_read_timeout_s=0.5))
    admin = admin_client(gw)
    create_preview_model(admin)
    exp = start_experiment(admin, mocks[:1])
    add_production_model(gw, mocks[1].base_url, api_key="sk-prod-secret-e5e5")
    secrets = {
        PREVIEW_ID: [exp.slots[0].internal_id, exp.slots[0].api_key, f":{mocks[0].port}"],
        PROD_ID: ["internal-prod-xq", "sk-prod-secret-e5e5", f":{mocks[1].port}"],
    }
    mocks[0].upstream.reply = mocks[1].upstream.reply = " ".join(["word"] * 40)
    impatient.refresh()
    expected: dict[str, Case] = {}
    with httpx.Client(timeout=30) as c:
        for model in (PREVIEW_ID, PROD_ID):
            for case in CASES:
                who = f"{case.name}@{model}"
                expected[who] = case
                via = impatient if case.behaviour.startswith("slow") else gw
                r = c.post(
                    via.base_url + URL,
                    json=chat(model, f"#mock:{case.behaviour}", stream=case.stream),
                    headers={"x-kilocode-machineid": who},
                )
                assert r.status_code == case.status, (who, r.status_code, r.text[:300])
                if case.status == 200:
                    _check_stream_cut(r)
                else:
                    _check_error_body(r)
                seen = r.text + "".join(f"{k}:{v}" for k, v in r.headers.items())
                for secret in secrets[model]:
                    assert secret not in seen, (who, secret, seen[:500])
                # Only allowlisted upstream headers pass (uvicorn sets its own "server").
                assert r.headers["x-request-id"].startswith("gen-"), who  # ours, not "req-mock"
                for name in ("x-upstream-model", "openai-model"):
                    assert name not in r.headers, (who, name)
                assert r.headers.get("server") != "mock"
                if case.behaviour == "429":
                    assert r.headers["retry-after"] == "1"
    gw.flush()
    impatient.flush()
    # Every fault was an expected outcome: none may escape as an unhandled proxy error.
    crashes = [r for r in caplog.records if r.name.startswith("previewgate") and r.exc_info]
    assert not crashes, [r.getMessage() for r in crashes]
    rows = {u.machine_id: u for u in usage_rows(gw)}
    assert set(rows) == set(expected)
    for who, case in expected.items():
        row = rows[who]
        got = (row.status_code, row.error_kind, row.has_error, row.streamed)
        assert got == (case.status, case.error_kind, True, case.stream), (who, got)
