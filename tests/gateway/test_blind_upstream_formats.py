"""Blind by construction when the checkpoint speaks Anthropic Messages or OpenAI Responses.

Leaky checkpoints of those formats (tests/support/leaky_formats.py) plant the slot's secrets
in ids, model, signatures, citations, encrypted reasoning, event names, comments, unknown
members and error texts. A client of every API must find none of them, and still get the
model output (text, reasoning, the tool call) and the token counts intact.
"""

from __future__ import annotations

import json

import pytest

from tests.support import leaky_answers as la
from tests.support.blind_rig import blind_rig
from tests.support.experiments import PREVIEW_ID
from tests.support.format_scan import read_answer
from tests.support.leak_scan import (
    Capture,
    assemble,
    blind_doc_problems,
    find_leaks,
    json_docs,
    parse_sse,
)
from tests.support.servers import GatewayServer

PREFIX = {"anthropic-messages": "anthropic", "openai-responses": "responses"}
ARGS = json.loads(la.TOOL_ARGS)


def _chat_read(cap: Capture, stream: bool) -> tuple[list[str], tuple[str, str, list[object]]]:
    docs = json_docs(parse_sse(cap.body))[0] if stream else [json.loads(cap.body)]
    problems = [p for d in docs for p in blind_doc_problems(d, PREVIEW_ID, stream)]
    answer = assemble(docs, stream)
    calls = [(c.get("name"), json.loads(c["arguments"])) for c in answer.tool_calls.values()]
    return problems, (answer.content, answer.reasoning, calls)


@pytest.mark.parametrize("api_format", list(PREFIX))
def test_leaky_checkpoints_of_other_formats(api_format: str, gateway: GatewayServer) -> None:
    prefix = PREFIX[api_format]
    problems: list[str] = []
    with blind_rig(gateway, api_formats=[api_format, api_format]) as rig:
        needles = rig.needles()
        for slot in range(2):
            for client in ("chat", "responses", "messages"):
                for stream, eol in ((False, "lf"), (True, "lf"), (True, "crlf"), (True, "cr")):
                    scenario = f"{prefix}_stream" if stream else f"{prefix}_ok"
                    cap = rig.ask(
                        scenario, slot, stream=stream, eol=eol, client=client, logprobs=False
                    )
                    where = f"{client} {scenario} eol={eol} slot={slot}"
                    found = [f"leaked {x}"] if (x := find_leaks(needles, cap.all_bytes())) else []
                    if cap.status != 200:
                        problems.append(f"{where}: status {cap.status} {cap.body[:300]!r}")
                        continue
                    if client == "chat":
                        shape, output = _chat_read(cap, stream)
                    else:
                        read = read_answer(client, cap, PREVIEW_ID, stream)
                        shape = read.problems
                        output = (read.text, read.reasoning, read.calls)
                        if read.input_tokens != la.USAGE["prompt_tokens"]:
                            found.append(f"input tokens {read.input_tokens}")
                    found += shape
                    if output != (la.CONTENT, la.REASONING, [(la.TOOL_NAME, ARGS)]):
                        found.append(f"output {output!r}")
                    problems += [f"{where}: {p}" for p in found]
                for scenario, stream in (
                    (f"{prefix}_error", False),
                    (f"{prefix}_stream_error", True),
                ):
                    cap = rig.ask(scenario, slot, stream=stream, client=client, logprobs=False)
                    where = f"{client} {scenario} slot={slot}"
                    if x := find_leaks(needles, cap.all_bytes()):
                        problems.append(f"{where}: leaked {x}")
                    if cap.status == 200 and b"error" not in cap.body:
                        problems.append(f"{where}: no error told: {cap.body[-300:]!r}")
        served = {(s.path, s.scenario) for u in rig.upstreams for s in u.seen}
        assert {p for p, _ in served} == {
            "/v1/messages" if prefix == "anthropic" else "/v1/responses"
        }
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:40])
