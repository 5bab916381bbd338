"""Blind by construction (issue 11, SPEC §2 rule 3), tested from outside.

Two leaky partner checkpoints (tests/support/leaky_upstream.py) plant their internal id,
key, masked key, base URL and host:port, plain, upper-cased and JSON-escaped, in every
field, header and SSE line that is not model output, in every framing and error shape.
A client of the experimented id must find none of them in any byte it receives, and must
still get the model output intact.
"""

from __future__ import annotations

import json

import httpx
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.support import leaky_answers as la
from tests.support.blind_rig import BlindRig, blind_rig
from tests.support.experiments import PREVIEW_ID
from tests.support.leak_scan import (
    Capture,
    answer_problems,
    assemble,
    blind_doc_problems,
    blind_header_problems,
    error_doc_problems,
    find_leaks,
    json_docs,
    parse_sse,
)
from tests.support.leaky_upstream import LeakyUpstream
from tests.support.servers import GatewayServer

EOLS = ("lf", "cr", "crlf")
SSE = "text/event-stream"
JSON = "application/json"


def _report(problems: list[str]) -> str:
    """Every failing case, with its first few findings (one case often has dozens)."""
    cases: dict[str, list[str]] = {}
    for problem in problems:
        where, _, what = problem.partition(": ")
        cases.setdefault(where, []).append(what[:160])
    lines = [f"{len(problems)} problems in {len(cases)} cases:"]
    for where, found in cases.items():
        lines.append(f"{where}: {len(found)} problems; " + " | ".join(found[:4]))
    return "\n".join(lines)


def leak_problems(rig: BlindRig, cap: Capture) -> list[str]:
    found = find_leaks(rig.needles(), cap.all_bytes())
    return [f"leaked {found}"] if found else []


def success_problems(cap: Capture, streamed: bool) -> list[str]:
    """A rebuilt answer: allowlisted shape, gateway id, model output intact."""
    if cap.status != 200:
        return [f"status {cap.status}: {cap.body[:300]!r}"]
    problems = blind_header_problems(cap, SSE if streamed else JSON)
    if streamed:
        sse = parse_sse(cap.body)
        if sse.fields - {"data"} or sse.comments:
            problems.append(f"SSE fields {sorted(sse.fields)}, {sse.comments} comment lines")
        if not sse.data or sse.data[-1] != "[DONE]":
            problems.append(f"stream does not end with [DONE]: {sse.data[-1:]!r:.80}")
        docs, bad = json_docs(sse)
        problems += bad
    else:
        docs = [json.loads(cap.body)]
    for doc in docs:
        problems += blind_doc_problems(doc, PREVIEW_ID, streamed)
    answer = assemble(docs, streamed)
    problems += answer_problems(answer)
    if not streamed and answer.top_tokens != [[t for t, _ in la.TOP]] * len(la.LOGPROBS):
        problems.append(f"top_logprobs {answer.top_tokens}")
    if answer.ids and cap.header("x-request-id") not in answer.ids:
        problems.append(f"x-request-id {cap.header('x-request-id')!r} is not the body id")
    return problems


def error_problems(cap: Capture, *, inband_ok: bool) -> list[str]:
    """A gateway-authored error: an HTTP error, or (``inband_ok``) an in-band SSE error event
    after which the stream ends."""
    if cap.status >= 400:
        problems = blind_header_problems(cap, JSON)
        try:
            doc = json.loads(cap.body)
        except ValueError:
            return [*problems, f"error body is not JSON: {cap.body[:200]!r}"]
        return problems + error_doc_problems(doc, PREVIEW_ID)
    if not inband_ok or cap.status != 200:
        return [f"status {cap.status} for an upstream error: {cap.body[:200]!r}"]
    return inband_error_problems(cap)


def inband_error_problems(cap: Capture) -> list[str]:
    problems = blind_header_problems(cap, SSE)
    sse = parse_sse(cap.body)
    if sse.fields - {"data"} or sse.comments:
        problems.append(f"SSE fields {sorted(sse.fields)}, {sse.comments} comment lines")
    errors = [n for n, d in enumerate(sse.data) if d.lstrip().startswith('{"error"')]
    if not errors:
        return [*problems, f"no in-band error event: {sse.data[-3:]!r:.300}"]
    after = sse.data[errors[0] + 1 :]
    if any(d != "[DONE]" for d in after):
        problems.append(f"the stream went on after its error event: {after[:2]!r:.200}")
    docs, bad = json_docs(sse)
    problems += bad
    for doc in docs:
        if isinstance(doc, dict) and "error" in doc:
            problems += error_doc_problems(doc, PREVIEW_ID)
        else:
            problems += blind_doc_problems(doc, PREVIEW_ID, streamed=True)
    before = assemble(docs, streamed=True)
    if not la.CONTENT.startswith(before.content):
        problems.append(f"content before the error was altered: {before.content!r}")
    return problems


def test_leaky_upstream_plants_every_variant() -> None:
    """The harness itself: the planted forms are really in the bytes, and the scanner sees them."""
    upstream = LeakyUpstream().start()
    key = "sk-harness-secret-00-1a2b3c"
    s = upstream.secrets("harness-internal-xq", key)
    needles = [*s.needles(), la.PROBE]
    try:
        with httpx.Client(base_url=upstream.base_url, timeout=10) as client:
            for marker in ("ok split=7,300", "stream eol=cr split=eol", "http_detail"):
                message = {"role": "user", "content": f"#leak:{marker}"}
                r = client.post(
                    "/chat/completions",
                    json={"model": s.internal_id, "messages": [message]},
                    headers={"authorization": f"Bearer {key}"},
                )
                cap = Capture.of(r)
                assert sorted(find_leaks(needles, cap.body)) == sorted(needles), marker
                forms = (key.upper(), s.masked_key, la.escape_u(key), la.escape_slash(s.base_url))
                assert all(form.encode() in cap.body for form in forms), marker
                assert any(key in value for _, value in cap.headers), marker
                if "eol=cr" in marker:
                    assert b"\r\r" in cap.body and b"\n" not in cap.body
        assert [seen.scenario for seen in upstream.seen] == ["ok", "stream", "http_detail"]
        assert s.masked_key == "sk-harne****2b3c"
        assert find_leaks([key], la.escape_u(key.upper()).encode()) == [key]
        assert find_leaks([key], b"sk-harness-secret-00-1a2b3") == []
    finally:
        upstream.stop()


def test_blind_answers_carry_only_rebuilt_bytes(gateway: GatewayServer) -> None:
    cases = [(sc, False, "lf", "") for sc in ("ok", "ok_escaped")]
    cases += [(sc, True, eol, "") for sc in ("stream", "stream_escaped") for eol in EOLS]
    cases += [("stream", True, "crlf", "eol"), ("stream", True, "cr", "eol")]
    problems: list[str] = []
    with blind_rig(gateway) as rig:
        for slot in range(len(rig.exp.slots)):
            for scenario, stream, eol, split in cases:
                cap = rig.ask(scenario, slot, stream=stream, eol=eol, split=split)
                where = f"{scenario} slot={slot} eol={eol} split={split or '-'}"
                found = leak_problems(rig, cap) + success_problems(cap, stream)
                problems += [f"{where}: {p}" for p in found]
        served = {(s.scenario, s.body.get("model")) for u in rig.upstreams for s in u.seen}
        assert len(served) == 2 * 4, served  # each slot's checkpoint really answered each kind
    assert not problems, _report(problems)


def test_blind_errors_are_the_gateways_own(gateway: GatewayServer) -> None:
    problems: list[str] = []
    with blind_rig(gateway) as rig:
        for slot in range(len(rig.exp.slots)):
            runs: list[tuple[str, bool, str, str]] = []  # scenario, stream, eol, expectation
            runs += [(sc, False, "lf", "http") for sc in ("inband", "malformed", "html_200")]
            runs += [(sc, False, "lf", "http") for sc in la.HTTP_ERRORS]
            runs += [(sc, False, "lf", "http") for sc in la.BAD_STATUS]
            runs += [(sc, True, "lf", "http") for sc in la.HTTP_ERRORS]
            runs += [(sc, True, "crlf", "http") for sc in la.BAD_STATUS]
            runs += [("stream_inband_json", True, "lf", "either")]
            runs += [("stream_error_first", True, eol, "either") for eol in EOLS]
            runs += [(sc, True, eol, "inband") for sc in ("stream_error_mid",) for eol in EOLS]
            runs += [("stream_malformed", True, eol, "inband") for eol in EOLS]
            runs += [("neginf", False, "lf", "any"), ("stream_neginf", True, "cr", "any")]
            for scenario, stream, eol, expect in runs:
                cap = rig.ask(scenario, slot, stream=stream, eol=eol)
                found = leak_problems(rig, cap)
                if expect == "inband":
                    found += [] if cap.status == 200 else [f"status {cap.status}"]
                    found += inband_error_problems(cap) if cap.status == 200 else []
                elif expect == "any" and cap.status == 200:
                    # -Infinity may be refused or rebuilt; if rebuilt, the rest must be intact.
                    found += [p for p in success_problems(cap, stream) if "logprobs" not in p]
                else:
                    found += error_problems(cap, inband_ok=expect in ("either", "any"))
                where = f"{scenario} stream={stream} slot={slot} eol={eol}"
                problems += [f"{where}: {p}" for p in found]
    assert not problems, _report(problems)


def test_tool_call_ids_are_reminted_the_same_way_every_time(gateway: GatewayServer) -> None:
    with blind_rig(gateway) as rig:
        for slot, secrets in enumerate(rig.secrets):
            minted = []
            for stream in (False, True, False):
                cap = rig.ask("stream" if stream else "ok", slot, stream=stream)
                docs = json_docs(parse_sse(cap.body))[0] if stream else [json.loads(cap.body)]
                calls = assemble(docs, stream).tool_calls
                assert len(calls) == 1, (cap.status, cap.body[:300])
                minted.append(calls[0].get("id"))
            assert minted[0] and minted[0].startswith("call_"), minted
            assert minted[0] != la.tool_call_id(secrets)
            assert len(set(minted)) == 1, f"the same upstream id was minted differently: {minted}"


def test_blind_streams_split_anywhere(gateway: GatewayServer) -> None:
    with blind_rig(gateway) as rig:

        @settings(
            max_examples=25,
            deadline=None,
            database=None,
            phases=[Phase.generate],  # the report names scenario, eol and cuts: no shrinking
            suppress_health_check=[HealthCheck.too_slow],
        )
        @given(
            scenario=st.sampled_from(["stream", "stream_escaped", "stream_error_mid"]),
            eol=st.sampled_from(EOLS),
            cuts=st.lists(st.integers(1, 60_000), min_size=1, max_size=10),
            slot=st.integers(0, len(rig.exp.slots) - 1),
        )
        def check(scenario: str, eol: str, cuts: list[int], slot: int) -> None:
            split = ",".join(map(str, cuts))
            cap = rig.ask(scenario, slot, stream=True, eol=eol, split=split)
            problems = leak_problems(rig, cap)
            if scenario == "stream_error_mid":
                problems += [] if cap.status == 200 else [f"status {cap.status}"]
                problems += inband_error_problems(cap) if cap.status == 200 else []
            else:
                problems += success_problems(cap, streamed=True)
            assert not problems, _report(
                [f"{scenario} eol={eol} split={split}: {p}" for p in problems]
            )

        check()
