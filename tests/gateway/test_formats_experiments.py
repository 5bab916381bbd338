"""Experiments in every client API, on slots that speak different upstream formats.

One experiment, two slots: an Anthropic Messages checkpoint and an OpenAI Responses one.
Clients of all three APIs (official SDKs) are assigned, served and recorded the same way;
the evidence is captured in one canonical shape, so a Messages turn and a chat turn of the
same conversation on the same checkpoint store the very same blobs, and the stats count
them alike.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from sqlalchemy import text

from tests.support.experiments import (
    PREVIEW_ID,
    LiveExperiment,
    admin_client,
    create_preview_model,
    start_experiment,
)
from tests.support.formats_sdk import (
    CLIENTS,
    anthropic_sdk,
    conversation,
    openai_sdk,
    turn_problems,
)
from tests.support.servers import GatewayServer, MockServer

SLOT_FORMATS = ["anthropic-messages", "openai-responses"]
PATHS = {"anthropic-messages": "/v1/messages", "openai-responses": "/v1/responses"}


def _format_of(exp: LiveExperiment, slot: int) -> str:
    """Slots are ordered by id; their internal ids say the order they were created in."""
    created = int(exp.slots[slot].internal_id.split("-rc")[1].split("-")[0])
    return SLOT_FORMATS[created]


@pytest.fixture
def exp(backend: str, gateway: GatewayServer, mock: MockServer) -> LiveExperiment:
    admin = admin_client(gateway)
    create_preview_model(admin)
    return start_experiment(admin, [mock, mock], api_formats=SLOT_FORMATS)


def _machine_for(exp: LiveExperiment, slot: int) -> str:
    for n in range(10_000):
        if exp.slot_for("machine", f"m-{n}") is exp.slots[slot]:
            return f"m-{n}"
    raise AssertionError("no machine maps to that slot")


async def _rows(rt: Any) -> list[Any]:
    query = (
        "select r.request_kind, u.request_kind, r.variant_version_id, r.system_prompt_sha256,"
        " r.request_body_sha256, r.response_sha256, u.status_code, u.input_tokens,"
        " u.output_tokens, u.cost_microusd, u.id from model_experiment_request r"
        " join usage u on u.id = r.usage_id order by u.created_at"
    )
    async with rt.engine.connect() as conn:
        return list((await conn.execute(text(query))).all())


def test_every_client_api_on_slots_of_different_formats(
    gateway: GatewayServer, mock: MockServer, exp: LiveExperiment
) -> None:
    problems: list[str] = []
    for slot in range(2):
        machine = _machine_for(exp, slot)
        for client in CLIENTS:
            for stream in (False, True):
                before = len(mock.upstream.requests)
                turns = conversation(
                    gateway, client, "anonymous", PREVIEW_ID, stream, **{"x-machine-id": machine}
                )
                where = f"slot {slot} {client} stream={stream}"
                problems += [f"{where}: {p}" for p in turn_problems(client, PREVIEW_ID, turns)]
                problems += [f"{where}: cost {t.cost}" for t in turns if t.cost != 0]
                served = {r.path for r in mock.upstream.requests[before:]}
                wanted = PATHS[_format_of(exp, slot)]
                if served != {wanted}:
                    problems.append(f"{where}: served by {served}")
                for _, _, arguments in turns[1].calls:
                    if arguments != {"city": "demo"}:
                        problems.append(f"{where}: arguments {arguments}")
                for seen in turns:  # tool-call ids are ours, in every format
                    problems += [f"{where}: id {c[0]}" for c in seen.calls if "mock" in c[0]]
    assert not problems, "\n".join(problems)
    gateway.flush()
    rows = gateway.call(_rows)
    assert len(rows) == 2 * 3 * 2 * 3
    assert all(r[0] == r[1] for r in rows)  # attribution and usage agree on the kind
    assert {r[0] for r in rows} == set(CLIENTS)
    versions = {str(r[2]).replace("-", "") for r in rows}
    assert len(versions) == 2
    assert all(r[6] == 200 and r[7] > 0 and r[8] > 0 and r[9] == 0 for r in rows), rows
    assert all(len(r[4]) == 64 and len(r[5]) == 64 for r in rows)

    # The stats see every kind of turn: 18 requests per slot, tokens summed alike.
    stats = exp.admin.get(f"/admin/api/experiments/{exp.id}/stats").json()
    assert sorted(v["requests"] for v in stats["versions"]) == [18, 18]
    assert all(v["input_tokens"]["sum"] > 0 for v in stats["versions"])


def _captured(gateway: GatewayServer, sha: str) -> Any:
    async def get(rt: Any) -> bytes | None:
        return await rt.blobs.get(sha)  # type: ignore[no-any-return]

    data = gateway.call(get)
    assert data is not None, sha
    return json.loads(data)


@pytest.mark.parametrize("slot", [0, 1])
def test_a_messages_turn_and_a_chat_turn_are_stored_alike(
    gateway: GatewayServer, exp: LiveExperiment, slot: int
) -> None:
    headers = {"x-machine-id": _machine_for(exp, slot)}
    system, user = "You are a careful coding agent.", "Fix the failing test."
    chat = openai_sdk(gateway, "anonymous", **headers).chat.completions.create(
        model=PREVIEW_ID,
        max_tokens=200,
        messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
    )
    responses = openai_sdk(gateway, "anonymous", **headers).responses.create(
        model=PREVIEW_ID, max_output_tokens=200, instructions=system, input=user
    )
    message = anthropic_sdk(gateway, "anonymous", **headers).messages.create(
        model=PREVIEW_ID,
        max_tokens=200,
        system=system,
        messages=[{"role": "user", "content": user}],
    )
    gateway.flush()
    rows = {str(uuid.UUID(str(r[10]))).replace("-", ""): r for r in gateway.call(_rows)}
    by_kind = {
        kind: rows[answer_id[4:]]
        for kind, answer_id in (
            ("chat", chat.id),
            ("responses", responses.id),
            ("messages", message.id),
        )
    }
    # One system prompt, one rest of the request, one answer: the same blobs for every API.
    for column in (3, 4, 5):
        assert len({r[column] for r in by_kind.values()}) == 1, (column, by_kind)
    prompt = _captured(gateway, by_kind["messages"][3])
    assert prompt == {"role": "system", "content": system}
    rest = _captured(gateway, by_kind["messages"][4])
    assert rest["messages"] == [{"role": "user", "content": user}]
    answer = _captured(gateway, by_kind["messages"][5])
    assert answer["model"] == PREVIEW_ID
    assert answer["choices"][0]["message"]["content"] == message.content[0].text
    assert {r[7] for r in by_kind.values()} == {by_kind["chat"][7]}  # tokens alike
