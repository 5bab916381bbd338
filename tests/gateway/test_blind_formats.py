"""Blind by construction in every client API (issue 11's test, for Responses and Messages).

The same leaky partner checkpoints as tests/gateway/test_blind_relay.py plant their internal
id, key, masked key, base URL and host:port in every field, header and line that is not
model output. A client of the experimented id that speaks OpenAI Responses or Anthropic
Messages must find none of them in any byte it receives, get an answer whose every key is in
its format's allowlist, and still get the model output intact.
"""

from __future__ import annotations

import pytest

from tests.support import leaky_answers as la
from tests.support.blind_rig import blind_rig
from tests.support.experiments import PREVIEW_ID
from tests.support.format_scan import error_problems, read_answer
from tests.support.leak_scan import blind_header_problems, find_leaks
from tests.support.servers import GatewayServer

SUCCESS = [("ok", False, "lf"), ("ok_escaped", False, "lf")]
SUCCESS += [(sc, True, eol) for sc in ("stream", "stream_escaped") for eol in ("lf", "crlf", "cr")]
ERRORS = [(sc, False) for sc in ("inband", "malformed", "html_200", *la.HTTP_ERRORS)]
ERRORS += [(sc, True) for sc in ("http_openai", "http_429", "redirect_302", "status_999")]
INBAND = ["stream_error_mid", "stream_malformed"]


@pytest.mark.parametrize("client", ["responses", "messages"])
def test_blind_answers_in_every_client_format(client: str, gateway: GatewayServer) -> None:
    problems: list[str] = []
    with blind_rig(gateway) as rig:
        needles = rig.needles()
        for slot in range(len(rig.exp.slots)):
            for scenario, stream, eol in SUCCESS:
                cap = rig.ask(scenario, slot, stream=stream, eol=eol, client=client)
                where = f"{scenario} stream={stream} eol={eol} slot={slot}"
                found = (
                    [f"leaked {leaks}"] if (leaks := find_leaks(needles, cap.all_bytes())) else []
                )
                if cap.status != 200:
                    problems.append(f"{where}: status {cap.status} {cap.body[:200]!r}")
                    continue
                found += blind_header_problems(
                    cap, "text/event-stream" if stream else "application/json"
                )
                read = read_answer(client, cap, PREVIEW_ID, stream)
                found += read.problems
                if (read.text, read.reasoning) != (la.CONTENT, la.REASONING):
                    found.append(f"output {read.text!r} / {read.reasoning!r}")
                if read.calls != [(la.TOOL_NAME, {"city": "Paris", "unit": "celsius"})]:
                    found.append(f"calls {read.calls!r}")
                if read.input_tokens != la.USAGE["prompt_tokens"]:
                    found.append(f"input tokens {read.input_tokens}")
                problems += [f"{where}: {p}" for p in found]
            for scenario, stream in ERRORS:
                cap = rig.ask(scenario, slot, stream=stream, client=client)
                where = f"{scenario} stream={stream} slot={slot}"
                found = (
                    [f"leaked {leaks}"] if (leaks := find_leaks(needles, cap.all_bytes())) else []
                )
                if cap.status < 400:
                    found.append(f"status {cap.status}: {cap.body[:200]!r}")
                else:
                    found += blind_header_problems(cap, "application/json")
                    found += error_problems(client, cap)
                problems += [f"{where}: {p}" for p in found]
            for scenario in INBAND:
                cap = rig.ask(scenario, slot, stream=True, client=client)
                where = f"{scenario} slot={slot}"
                found = (
                    [f"leaked {leaks}"] if (leaks := find_leaks(needles, cap.all_bytes())) else []
                )
                read = read_answer(client, cap, PREVIEW_ID, True)
                found += read.problems
                if cap.status != 200 or not read.inband_error:
                    found.append(f"status {cap.status}, in-band error {read.inband_error}")
                problems += [f"{where}: {p}" for p in found]
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:40])
