"""In-band errors are errors (issue 11): a 200 whose body is an error object, an error event in
the middle of a stream, an error event first, an unparseable event: each is stored with
``has_error``, an ``error_kind`` and the status the client saw, and the per-checkpoint stats
count it, so the error rate of a checkpoint that errs this way is not understated.
"""

from __future__ import annotations

from collections import Counter

from tests.support.blind_rig import attributed_rows, blind_rig
from tests.support.servers import GatewayServer

# (scenario, streamed, is an error)
CASES = [
    ("ok", False, False),
    ("stream", True, False),
    ("inband", False, True),
    ("stream_inband_json", True, True),
    ("stream_error_first", True, True),
    ("stream_error_mid", True, True),
    ("stream_malformed", True, True),
    ("http_openai", False, True),  # the control: an HTTP error, counted today already
]


def _dashless(value: str) -> str:
    return value.replace("-", "")


def test_inband_errors_are_stored_and_counted_per_checkpoint(gateway: GatewayServer) -> None:
    with blind_rig(gateway) as rig:
        sent = []
        for slot in range(len(rig.exp.slots)):
            for scenario, stream, is_error in CASES:
                rid = f"rid-{slot}-{scenario}"
                cap = rig.ask(scenario, slot, stream=stream, request_id=rid)
                assert cap.status, cap.body  # the client got an answer (a status line at least)
                sent.append((rid, slot, scenario, is_error, cap.status))
        gateway.flush()
        rows = {row.client_request_id: row for row in gateway.call(attributed_rows)}
        stats = rig.exp.admin.get(f"/admin/api/experiments/{rig.exp.id}/stats")
        assert stats.status_code == 200, stats.text
        report = stats.json()

    problems = []
    version_slot = {
        _dashless(v["variant_version_id"]): [s.variant_id for s in rig.exp.slots].index(
            v["variant_id"]
        )
        for v in report["versions"]
    }
    for rid, slot, scenario, is_error, status in sent:
        row = rows.get(rid)
        if row is None:
            problems.append(f"{scenario} slot={slot}: no usage + attribution row")
            continue
        if version_slot.get(row.variant_version_id) != slot:
            problems.append(f"{scenario} slot={slot}: attributed to another slot")
        if row.has_error != is_error:
            problems.append(f"{scenario} slot={slot}: has_error={row.has_error}")
        if is_error != bool(row.error_kind):
            problems.append(f"{scenario} slot={slot}: error_kind={row.error_kind!r}")
        if row.status_code != status:
            problems.append(
                f"{scenario} slot={slot}: stored {row.status_code}, client saw {status}"
            )

    expected_errors = sum(is_error for _, _, is_error in CASES)
    errors: Counter[int] = Counter()
    requests: Counter[int] = Counter()
    for version in report["versions"]:
        slot = version_slot[_dashless(version["variant_version_id"])]
        errors[slot] += version["errors"]
        requests[slot] += version["requests"]
    for slot in range(len(rig.exp.slots)):
        if requests[slot] != len(CASES) or errors[slot] != expected_errors:
            problems.append(
                f"stats slot={slot}: {errors[slot]} errors in {requests[slot]} requests,"
                f" expected {expected_errors} in {len(CASES)}"
            )
    assert not problems, "\n".join(problems)
