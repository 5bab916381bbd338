"""Relay limits (issue 11): one endless SSE line is cut with an error while the gateway's memory
stays bounded, and a status line outside HTTP's range becomes a 502 with a usage row.

The memory test measures a real ``previewgate serve`` child (the ``gateway`` fixture runs in
this process, whose memory the test itself uses): VmRSS before, and the peak (VmHWM, reset
through ``/proc/<pid>/clear_refs``) during the request.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from previewgate.config import Settings
from tests.support.blind_rig import URL, BlindRig, blind_rig
from tests.support.experiments import PREVIEW_ID
from tests.support.faults import GatewayProcess, gateway_env, wait_until
from tests.support.leak_scan import find_leaks
from tests.support.seed import serve_model
from tests.support.servers import GatewayServer

PROD = "demo/prod"
MiB = 1024 * 1024
HUGE = 300 * 10**6
ERROR_EVENT = re.compile(rb'data: ?\{\s*"error"')


def _chat(model: str, scenario: str, stream: bool) -> dict[str, Any]:
    return {
        "model": model,
        "stream": stream,
        "messages": [{"role": "user", "content": f"#leak:{scenario}"}],
    }


async def _usage_rows(rt: Any) -> list[tuple[str, int, bool, str | None]]:
    query = text(
        "select public_model_id, status_code, has_error, error_kind from usage order by created_at"
    )
    async with rt.engine.connect() as conn:
        return [(r[0], int(r[1]), bool(r[2]), r[3]) for r in (await conn.execute(query)).all()]


def _kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for pid {pid}")


def test_status_outside_http_range_is_a_502_with_a_usage_row(gateway: GatewayServer) -> None:
    with blind_rig(gateway) as rig:
        serve_model(gateway, rig.upstreams[0].base_url, PROD, "internal-prod-xq")
        headers = {"x-kilocode-machineid": rig.machines[0]}
        statuses: dict[str, list[int | str]] = {PREVIEW_ID: [], PROD: []}
        for model, seen in statuses.items():
            for scenario in ("status_600", "status_999"):
                for stream in (False, True):
                    body = _chat(model, scenario, stream)
                    try:
                        r = rig.client.post(URL, json=body, headers=headers)
                    except httpx.TransportError as exc:  # uvicorn dropped the connection
                        seen.append(f"connection dropped: {type(exc).__name__}")
                        continue
                    seen.append(r.status_code)
                    if model == PREVIEW_ID:
                        assert not find_leaks(rig.needles(), r.content), r.content
        gateway.flush()
        rows = gateway.call(_usage_rows)
    assert statuses == {PREVIEW_ID: [502] * 4, PROD: [502] * 4}
    for model in statuses:
        stored = [(status, has_error) for m, status, has_error, _ in rows if m == model]
        assert stored == [(502, True)] * 4, (model, rows)


def test_one_endless_sse_line_is_cut_with_bounded_memory(
    gateway: GatewayServer, settings: Settings, tmp_path: Path
) -> None:
    with blind_rig(gateway, slots=1) as rig:
        serve_model(gateway, rig.upstreams[0].base_url, PROD, "internal-prod-xq")
        child = GatewayProcess(gateway_env(settings), tmp_path / "serve.log")
        try:
            with httpx.Client(base_url=child.base_url, timeout=60) as client:
                runs = [_endless_line(rig, child, client, model) for model in (PREVIEW_ID, PROD)]
        finally:
            child.stop()
    problems = [
        f"{model}: {problem}"
        for model, run in zip((PREVIEW_ID, PROD), runs, strict=True)
        for problem in run
    ]
    assert not problems, "\n".join(problems)


def _endless_line(
    rig: BlindRig, child: GatewayProcess, client: httpx.Client, model: str
) -> list[str]:
    """Send the 300 MB line through ``child``; return what went wrong."""
    gateway = rig.gateway
    headers = {"x-kilocode-machineid": rig.machines[0]}
    rows_before = len(_rows(gateway, model)) + 1
    warm = client.post(URL, json=_chat(model, "stream", True), headers=headers)
    assert warm.status_code == 200, warm.text  # code paths and pools are warm
    wait_until(lambda: len(_rows(gateway, model)) == rows_before, what="the warm-up row")
    before = _kib(child.pid, "VmRSS")
    Path(f"/proc/{child.pid}/clear_refs").write_text("5")  # reset the peak
    body = _chat(model, f"huge size={HUGE}", True)
    received, head, tail, status = 0, b"", b"", 0
    try:
        with client.stream("POST", URL, json=body, headers=headers) as r:
            status = r.status_code
            for piece in r.iter_raw():
                received += len(piece)
                head = head or piece[:4096]
                tail = (tail + piece)[-65536:]
    except httpx.TransportError:
        pass  # judged below: no error event means the client never learned why
    growth_mib = (max(_kib(child.pid, "VmHWM"), _kib(child.pid, "VmRSS")) - before) / 1024
    rows = wait_until(lambda: _rows(gateway, model)[rows_before:], what="the cut request's row")
    print(f"{model}: RSS {before / 1024:.0f} MiB, peak +{growth_mib:.0f} MiB, {received} B sent")
    problems = []
    if growth_mib >= 64:
        problems.append(f"gateway memory grew by {growth_mib:.0f} MiB for one SSE line")
    if status == 200 and not ERROR_EVENT.search(tail):
        problems.append(f"no in-band error event at the end: {tail[-120:]!r}")
    elif status != 200 and status < 400:
        problems.append(f"status {status}")
    if model == PREVIEW_ID and received >= 4 * MiB:
        problems.append(f"{received} bytes of an unparsed event reached the client")
    if model == PREVIEW_ID and find_leaks(rig.needles(), head + tail):
        problems.append(f"leaked {find_leaks(rig.needles(), head + tail)}")
    if [(has_error, bool(kind)) for _, _, has_error, kind in rows] != [(True, True)]:
        problems.append(f"usage rows {rows}")
    return problems


def _rows(gateway: GatewayServer, model: str) -> list[tuple[str, int, bool, str | None]]:
    return [row for row in gateway.call(_usage_rows) if row[0] == model]
