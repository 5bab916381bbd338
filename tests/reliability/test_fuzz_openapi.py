"""Schemathesis fuzzes every operation of the app's own OpenAPI document: never a 5xx.

Runs against the live ``gateway`` fixture over real HTTP with an admin key, in positive
(schema-valid) and negative (schema-violating) modes, with path parameters both random
and pointing at real objects so handlers get past their 404s. Afterwards the store is
sane and the gateway still serves a normal request.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.reliability.helpers import PROD_ID, URL, add_production_model, chat, row_counts
from tests.support.experiments import (
    PREVIEW_ID,
    admin_client,
    create_preview_model,
    start_experiment,
)
from tests.support.servers import GatewayServer, MockServer

EXAMPLES = 25
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,  # the same examples every run: a red run is reproducible
    suppress_health_check=list(HealthCheck),
)
MODEL_OPS = ("POST /admin/api/models", "PATCH /admin/api/models/{public_id}")


def _real_ids(admin: httpx.Client, mocks: list[MockServer]) -> dict[str, str]:
    create_preview_model(admin)
    exp = start_experiment(admin, mocks[:2], activate=False)
    user = admin.post("/admin/api/users", json={"email": "fuzzed@example.com"}).json()
    key = admin.post(f"/admin/api/users/{user['id']}/keys").json()
    return {
        "experiment_id": exp.id,
        "variant_id": exp.slots[0].variant_id,
        "public_id": PREVIEW_ID,
        "user_id": user["id"],
        "key_id": key["id"],
    }


def _fuzz(
    op: Any, base_url: str, auth: dict[str, str], path: dict[str, str] | None, backend: str
) -> tuple[list[str], list[str]]:
    """Every 5xx seen for one operation, as a reproducible curl command."""
    failures: list[str] = []
    names = {p.name for p in op.iter_parameters() if p.location == "path"}
    fixed = {k: v for k, v in (path or {}).items() if k in names} or None
    if path is not None and not fixed:
        return failures  # no path parameters: the random pass already covered it
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        try:
            strategy = op.as_strategy(generation_mode=mode, path_parameters=fixed)
        except Exception:
            continue  # e.g. no negative form exists for this operation

        def check(case: Any, tag: str = f"{op.label} [{mode.value}]") -> None:
            response = case.call(base_url=base_url, headers=auth, timeout=30)
            if response.status_code < 500:
                return
            failures.append(f"{tag} -> {response.status_code}: {case.as_curl_command()}")

        try:
            FUZZ(given(case=strategy)(_no_defaults(check)))()
        except Unsatisfiable:
            continue  # e.g. nothing to violate in an operation without inputs
    return failures


def _no_defaults(check: Any) -> Any:
    """@given refuses functions with defaults; bind them in a closure instead."""
    tag = check.__defaults__[0]

    def run(case: Any) -> None:
        check(case, tag)

    return run


def test_openapi_operations_never_5xx(
    backend: str, gateway: GatewayServer, mocks: list[MockServer]
) -> None:
    admin = admin_client(gateway)
    ids = _real_ids(admin, mocks)
    add_production_model(gateway, mocks[2].base_url)
    document = httpx.get(f"{gateway.base_url}/openapi.json").json()
    schema = schemathesis.openapi.from_dict(document)
    auth = {"authorization": admin.headers["authorization"]}
    failures: list[str] = []
    labels = []
    for result in schema.get_all_operations():
        op = result.ok()  # type: ignore[union-attr]  # an Err raises here: the document is ours
        labels.append(op.label)
        for path in (None, ids):
            failures += _fuzz(op, gateway.base_url, auth, path, backend)
    assert len(labels) >= 20, labels
    # The ASGI chat path is in the document (gateway/openapi.py) and fuzzed like the rest:
    # schema-valid bodies name unknown models (404) or the catalog's (the mock answers).
    assert "POST /v1/chat/completions" in labels
    assert not failures, "\n".join(sorted(set(failures))[:20])
    # The store is sane after the barrage: it answers, and a normal request still works.
    assert httpx.get(f"{gateway.base_url}/readyz").status_code == 200
    assert admin.get("/admin/api/experiments").status_code == 200
    gateway.refresh()
    r = httpx.post(f"{gateway.base_url}{URL}", json=chat(PROD_ID))
    assert r.status_code == 200, r.text
    gateway.flush()
    assert row_counts(gateway)[0] >= 1


def quiesce(gateway: GatewayServer) -> None:
    """Stop the gateway before asserting: its thread logs the 500's traceback, and CPython
    3.11 crashes (SystemError: AST constructor recursion depth mismatch) when two threads
    format tracebacks at once, as pytest does for the expected failure."""
    gateway.stop()


# Regressions: inputs that once answered 500 (catalog nulls and int range, NUL on PostgreSQL).
CATALOG_BUGS = {
    "null-description": ("PATCH", f"/admin/api/models/{PREVIEW_ID}", {"description": None}),
    "null-display-name": ("PATCH", f"/admin/api/models/{PREVIEW_ID}", {"display_name": None}),
    "huge-context-length": ("PATCH", f"/admin/api/models/{PREVIEW_ID}", {"context_length": 10**20}),
}
NUL_BUGS = {
    "experiment-name": (
        "POST",
        "/admin/api/experiments",
        {"public_model_id": PREVIEW_ID, "name": "a\0"},
    ),
    "feedback-comment": (
        "POST",
        "/v1/feedback",
        {"client_request_id": "r", "rating": "up", "comment": "\0"},
    ),
}


@pytest.mark.parametrize("name", list(CATALOG_BUGS))
def test_catalog_bad_values_are_4xx(gateway: GatewayServer, name: str) -> None:
    admin = admin_client(gateway)
    create_preview_model(admin)
    method, path, body = CATALOG_BUGS[name]
    status = admin.request(method, path, json=body).status_code
    quiesce(gateway)
    assert 400 <= status < 500


@pytest.mark.parametrize("name", list(NUL_BUGS))
def test_nul_in_text_is_4xx_on_postgresql(backend: str, gateway: GatewayServer, name: str) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite stores NUL in text")
    admin = admin_client(gateway)
    create_preview_model(admin)
    method, path, body = NUL_BUGS[name]
    status = admin.request(method, path, json=body).status_code
    quiesce(gateway)
    assert 400 <= status < 500
