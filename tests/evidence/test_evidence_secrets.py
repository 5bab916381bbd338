"""Evidence never holds a partner secret (issue 11): after every leaky scenario, streamed and
not, no blob and no stored row holds a slot's key, its masked form, its base URL or its
host:port, in any case or JSON escape; response blobs do not name the internal id either.

Request blobs legitimately carry the internal id (it is the upstream ``model``), and the
variant version's ``upstream`` column is the configured upstream itself (base URL included).
"""

from __future__ import annotations

from pathlib import Path

from previewgate.config import Settings
from tests.support import leaky_answers as la
from tests.support.blind_rig import attributed_rows, blind_rig, stored_values
from tests.support.leak_scan import find_leaks
from tests.support.servers import GatewayServer

SKIPPED_COLUMNS = frozenset({"encrypted_api_key", "upstream"})
SENTINELS = {"__absent__", "__failed__", "__deleted__"}


def _runs() -> list[tuple[str, bool, str]]:
    runs = [
        (sc, False, "lf")
        for sc in ("ok", "ok_escaped", "inband", "malformed", "html_200", "neginf")
    ]
    runs += [(sc, False, "lf") for sc in (*la.HTTP_ERRORS, *la.BAD_STATUS)]
    runs += [(sc, True, "lf") for sc in ("http_openai", "http_detail", "stream_inband_json")]
    streams = ("stream", "stream_escaped", "stream_error_first", "stream_error_mid")
    runs += [(sc, True, eol) for sc in (*streams, "stream_malformed") for eol in ("cr", "crlf")]
    return runs


def test_no_partner_secret_in_any_blob_or_row(gateway: GatewayServer, settings: Settings) -> None:
    with blind_rig(gateway) as rig:
        for slot in range(len(rig.exp.slots)):
            for scenario, stream, eol in _runs():
                rig.ask(scenario, slot, stream=stream, eol=eol)
        gateway.flush()
        secrets = rig.needles(internal_ids=False, probe=False)
        internal_ids = [s.internal_id for s in rig.secrets]
        attributed = gateway.call(attributed_rows)
        values = gateway.call(lambda rt: stored_values(rt, SKIPPED_COLUMNS))

    assert len(attributed) == len(rig.sent), "every experimented request has its rows"
    responses = {a.response_sha256 for a in attributed} - SENTINELS
    root = Path(settings.resolved_blob_url.removeprefix("file://"))
    blobs = {p.name: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    assert responses and responses <= set(blobs), "response blobs were written"
    assert any(b"Hello from" in blobs[key] for key in responses), "answers were captured"
    assert any(i.encode() in b for i in internal_ids for b in blobs.values()), "requests too"

    problems = []
    for name, data in blobs.items():
        kind = "response" if name in responses else "blob"
        found = find_leaks(secrets + (internal_ids if kind == "response" else []), data)
        if found:
            problems.append(f"{kind} {name[:12]}: {found} in {data[:200]!r}")
    assert any(column.startswith("usage.") for column, _ in values)
    for column, value in values:
        found = find_leaks(secrets, value.encode())
        if found:
            problems.append(f"row value {column}: {found} in {value[:200]!r}")
    assert not problems, f"{len(problems)} stored secrets:\n" + "\n".join(problems[:40])
