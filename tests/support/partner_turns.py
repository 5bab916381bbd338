"""A partner with many recorded turns on one past day, written straight into the store and
the blob store (the rows the usage writer would have written), for export tests that need
volume: the request path itself is covered by ``tests/partners/test_export.py``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast

import orjson
from sqlalchemy import Table, insert, update

from previewgate.accounts import service as accounts
from previewgate.accounts.models import PreviewOptIn
from previewgate.catalog import service as catalog
from previewgate.catalog.schemas import ModelCreate
from previewgate.evidence.capture import canonical_json
from previewgate.evidence.models import ExperimentRequest
from previewgate.experiments import service as experiments
from previewgate.experiments.schemas import ExperimentCreate, VariantCreate
from previewgate.partners import service as partners
from previewgate.partners.schemas import PartnerCreate
from previewgate.runtime import Runtime
from previewgate.usage.models import Usage

PUBLIC_ID = "acme/preview-bulk"


@dataclass(frozen=True)
class SeededDay:
    partner_id: uuid.UUID
    day: date
    turns: int
    sessions: int


def _request(session: int, turn: int) -> dict[str, Any]:
    return {
        "model": PUBLIC_ID,
        "messages": [
            {"role": "system", "content": "You are a careful coding agent."},
            {"role": "user", "content": f"Session {session}, step {turn}: fix the failing test."},
        ],
    }


def _response(session: int, turn: int) -> dict[str, Any]:
    text = f"Step {turn} of session {session}: changed tests/test_app.py line {turn % 90 + 1}."
    return {
        "id": "gen-x",
        "object": "chat.completion",
        "model": PUBLIC_ID,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 42, "completion_tokens": 17, "total_tokens": 59},
    }


async def seed_partner_day(
    runtime: Runtime,
    day: date,
    sessions: int,
    turns_per_session: int,
    *,
    distinct_texts: int | None = None,
    days: int = 1,
    batch: int = 5_000,
) -> SeededDay:
    """``sessions`` x ``turns_per_session`` turns spread over ``day``. ``distinct_texts``
    bounds how many different prompts/answers there are (each turn still its own row), so a
    benchmark can seed a million turns without writing two million blobs. ``days`` spreads
    the turns over that many days from ``day`` on."""
    async with runtime.change() as session:
        await catalog.create_model(
            session,
            runtime.cipher,
            ModelCreate(public_id=PUBLIC_ID, kind="preview", disclosure_shares_with_partner=True),
        )
        partner = await partners.create_partner(
            session, runtime.cipher, PartnerCreate(slug="bulk", name="Bulk Labs")
        )
        experiment = await experiments.create_experiment(
            session, ExperimentCreate(public_model_id=PUBLIC_ID, name="bulk")
        )
        variant = await experiments.add_variant(
            session,
            runtime.cipher,
            experiment.id,
            VariantCreate(
                label="rc-1",
                weight=1,
                upstream={"internal_id": "bulk-rc-1", "base_url": "http://127.0.0.1:9/v1"},
                api_key="sk-bulk-partner-key-0001",
            ),
        )
        await experiments.activate(session, experiment.id)
        await partners.assign_slot(session, experiment.id, variant.id, partner.id)
        user = await accounts.create_user(session, f"{uuid.uuid4().hex}@bulk.example")
        version_id = variant.versions[0].id
        start = datetime.combine(day, time(), tzinfo=UTC)
        session.add(
            PreviewOptIn(
                user_id=user.id,
                public_model_id=PUBLIC_ID,
                disclosure_version=1,
                accepted_at=start - timedelta(days=1),
            )
        )
        # The version became effective before the day (it was created just now).
        await session.execute(
            update(cast(Table, type(variant.versions[0]).__table__))
            .where(type(variant.versions[0]).id == version_id)
            .values(effective_at=start - timedelta(days=1))
        )
    step = timedelta(seconds=86_000 * days / max(1, sessions * turns_per_session))
    usage_rows: list[dict[str, Any]] = []
    request_rows: list[dict[str, Any]] = []
    stored: dict[tuple[int, int], tuple[str, str]] = {}
    for s in range(sessions):
        for t in range(turns_per_session):
            usage_id = uuid.uuid4()
            at = start + step * (s * turns_per_session + t)
            n = s * turns_per_session + t
            texts = (s, t) if distinct_texts is None else divmod(n % distinct_texts, 1000)
            if texts not in stored:
                stored[texts] = (
                    await runtime.blobs.put_if_absent(canonical_json(_request(*texts))),
                    await runtime.blobs.put_if_absent(orjson.dumps(_response(*texts))),
                )
            request_sha, response_sha = stored[texts]
            usage_rows.append(
                {
                    "id": usage_id,
                    "created_at": at,
                    "user_id": user.id,
                    "public_model_id": PUBLIC_ID,
                    "status_code": 200,
                    "has_error": False,
                    "input_tokens": 42,
                    "output_tokens": 17,
                    "total_ms": 900,
                    "ttfb_ms": 300,
                    "session_id": f"session-{s:04d}",
                    "streamed": False,
                    "cost_microusd": 0,
                }
            )
            request_rows.append(
                {
                    "usage_id": usage_id,
                    "variant_version_id": version_id,
                    "allocation_subject": "user",
                    "client_request_id": None,
                    "system_prompt_sha256": request_sha,
                    "request_body_sha256": request_sha,
                    "response_sha256": response_sha,
                    "was_truncated": False,
                    "created_at": at,
                }
            )
            if len(usage_rows) >= batch:
                await _insert(runtime, usage_rows, request_rows)
    await _insert(runtime, usage_rows, request_rows)
    return SeededDay(partner.id, day, sessions * turns_per_session, sessions)


async def _insert(
    runtime: Runtime, usage_rows: list[dict[str, Any]], request_rows: list[dict[str, Any]]
) -> None:
    if usage_rows:
        async with runtime.sessions() as session, session.begin():
            await session.execute(insert(cast(Table, Usage.__table__)), usage_rows)
            await session.execute(insert(cast(Table, ExperimentRequest.__table__)), request_rows)
    usage_rows.clear()
    request_rows.clear()
