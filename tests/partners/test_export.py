"""Trace export through the real path: requests through the gateway to two partners' slots
and a baseline, evidence written by the writer, then each partner's day exported.

Checks the done-when lines: exactly each partner's consented turns (sessions that touched
both partners split), byte-identical on re-run, nothing identifying or secret in any
exported byte, files loadable with pandas.
"""

from __future__ import annotations

import gzip
import io
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pandas as pd
import pytest

from previewgate.partners.export import Exporter
from previewgate.partners.export_worker import ExportWorker
from previewgate.runtime import Runtime
from tests.support.experiments import PREVIEW_ID, LiveExperiment, admin_client, start_experiment
from tests.support.servers import GatewayServer, MockServer, start_mock

CHAT = "/v1/chat/completions"
# Format-valid but fake secrets, planted where a coding agent's turn carries them.
AWS_KEY = "AKIAZ7Q3V5X2N4M6P8R1"
GITHUB_TOKEN = "ghp_" + "k3Jd9QmZ2xVb7Lp4Rt6Ws8Yc1Ue5Hn0Af2Gd"
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEowIBAAKCAQEAz8fakefakefakefakefakefakefakefakefakefakefakefakefak\n"
    "-----END RSA PRIVATE KEY-----"
)
EMAIL = "jane.doe@northwind-traders.co.uk"
ANSWER_SECRET = "sk-proj-" + "Zq8Xw3Vt5Rb7Nm2Lk4Jh6Gf9Dc1Sa0Pq8Wo3Ei5Ru7Ty2"
MACHINE = "machine-7f2e9c"


@pytest.fixture
def mocks() -> Iterator[list[MockServer]]:
    from previewgate.demo.mock_upstream import MockUpstream

    servers = [start_mock(MockUpstream(reply=f"Use {ANSWER_SECRET} for this.")) for _ in range(3)]
    yield servers
    for server in servers:
        server.stop()


def _messages(user_text: str) -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": f"You are a coding agent. AWS_ACCESS_KEY_ID={AWS_KEY}"},
        {"role": "user", "content": user_text},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {
                        "name": "write_file",
                        "arguments": orjson.dumps({"path": "id_rsa", "text": PEM}).decode(),
                    },
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": f"token={GITHUB_TOKEN} ok"},
        {"role": "user", "content": f"mail {EMAIL} the result"},
    ]


def _chat(gateway: GatewayServer, key: str, session: str, text: str) -> httpx.Response:
    return httpx.post(
        f"{gateway.base_url}{CHAT}",
        json={"model": PREVIEW_ID, "messages": _messages(text)},
        headers={
            "authorization": f"Bearer {key}",
            "x-session-id": session,
            "x-machine-id": MACHINE,
        },
        timeout=30,
    )


def _user(admin: httpx.Client) -> tuple[str, str]:
    user = admin.post("/admin/api/users", json={"email": f"{uuid.uuid4().hex}@x.test"}).json()
    key = admin.post(f"/admin/api/users/{user['id']}/keys").json()["key"]
    return user["id"], key


def _users_on(experiment: LiveExperiment, admin: httpx.Client, label: str) -> tuple[str, str]:
    """A user whose bucket is the slot labelled ``label``."""
    for _ in range(200):
        user_id, key = _user(admin)
        if experiment.slot_for("user", user_id).label == label:
            return user_id, key
    raise AssertionError(f"no user landed on {label}")


def _opt_in(gateway: GatewayServer, key: str) -> None:
    r = httpx.post(
        f"{gateway.base_url}/v1/preview-models/{PREVIEW_ID}/opt-in",
        headers={"authorization": f"Bearer {key}"},
    )
    assert r.status_code == 200, r.text


def _lines(blob: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in gzip.decompress(blob).splitlines()]


def test_each_partner_gets_exactly_its_consented_turns(
    gateway: GatewayServer, mocks: list[MockServer], tmp_path: Path
) -> None:
    admin = admin_client(gateway)
    r = admin.post(
        "/admin/api/models",
        json={
            "public_id": PREVIEW_ID,
            "kind": "preview",
            "disclosure_text": "Prompts are kept for 30 days.",
            "disclosure_shares_with_partner": False,
        },
    )
    assert r.status_code == 201, r.text
    experiment = start_experiment(admin, mocks, require_opt_in=True, allow_anonymous=False)
    acme = admin.post("/admin/api/partners", json={"slug": "acme", "name": "Acme"}).json()
    beta = admin.post("/admin/api/partners", json={"slug": "beta", "name": "Beta"}).json()
    owners = {experiment.slots[0].label: acme, experiment.slots[1].label: beta}
    for slot in experiment.slots[:2]:
        path = f"/admin/api/experiments/{experiment.id}/variants/{slot.variant_id}/partner"
        assert admin.put(path, json={"partner_id": owners[slot.label]["id"]}).status_code == 200
    label_a, label_b, label_c = (s.label for s in experiment.slots)

    # Under the first disclosure (not shared): this caller's turns never leave.
    _, silent_key = _users_on(experiment, admin, label_a)
    _opt_in(gateway, silent_key)
    assert _chat(gateway, silent_key, "s-silent", "#no-consent").status_code == 200

    r = admin.patch(
        f"/admin/api/models/{PREVIEW_ID}",
        json={
            "disclosure_text": "Prompts go to the checkpoint's provider.",
            "disclosure_shares_with_partner": True,
        },
    )
    assert r.status_code == 200 and r.json()["disclosure_version"] == 2, r.text
    user_a, key_a = _users_on(experiment, admin, label_a)
    user_b, key_b = _users_on(experiment, admin, label_b)
    user_c, key_c = _users_on(experiment, admin, label_c)
    for key in (key_a, key_b, key_c):
        _opt_in(gateway, key)
    sent = [
        (key_a, "s-only-a", "first"),
        (key_a, "s-only-a", "second"),
        (key_a, "s-shared", "third"),
        (key_b, "s-shared", "fourth"),
        (key_b, "s-only-b", "fifth"),
        (key_c, "s-shared", "baseline"),
    ]
    for key, session, text in sent:
        assert _chat(gateway, key, session, text).status_code == 200
    gateway.flush()

    day = datetime.now(UTC).date()
    exported = {}
    for partner in (acme, beta):
        first = gateway.call(lambda rt, p=partner: _export(rt, p["id"], day))
        again = gateway.call(lambda rt, p=partner: _export(rt, p["id"], day))
        assert first == again, "a re-export must write the same bytes"
        exported[partner["slug"]] = first

    acme_files, beta_files = exported["acme"], exported["beta"]
    acme_turns = [
        t
        for name, blob in acme_files.items()
        if "/traces/" in name and name.endswith(".gz")
        for t in _lines(blob)
    ]
    beta_turns = [
        t
        for name, blob in beta_files.items()
        if "/traces/" in name and name.endswith(".gz")
        for t in _lines(blob)
    ]
    assert sorted(_user_text(t) for t in acme_turns) == ["first", "second", "third"]
    assert sorted(_user_text(t) for t in beta_turns) == ["fifth", "fourth"]
    assert {t["metadata"]["previewgate.slot_label"] for t in acme_turns} == {label_a}
    # The shared session appears in both, under ids that do not join across partners.
    shared_a = {t["session_id"] for t in acme_turns if _user_text(t) == "third"}
    shared_b = {t["session_id"] for t in beta_turns if _user_text(t) == "fourth"}
    assert shared_a and shared_b and shared_a.isdisjoint(shared_b)
    assert len({t["session_id"] for t in acme_turns}) == 2  # s-only-a and s-shared

    # Index rows match the files.
    index = admin.get(f"/admin/api/partners/{acme['id']}/exports").json()
    assert {f["object_key"] for f in index} | {_manifest(acme["id"], day)} == set(acme_files)
    assert sum(f["records"] for f in index if f["kind"] == "traces") == 3

    # Nothing identifying or secret in any exported byte (decompressed).
    forbidden = [
        user_a,
        user_b,
        user_c,
        key_a,
        key_b,
        key_c,
        silent_key,
        MACHINE,
        "127.0.0.1",
        AWS_KEY,
        GITHUB_TOKEN,
        "MIIEowIBAAKCAQEA",
        EMAIL,
        ANSWER_SECRET,
        label_b,
        label_c,
        *(s.internal_id for s in experiment.slots[1:]),
        *(s.api_key for s in experiment.slots),
        *(s.mock.base_url for s in experiment.slots),
        "Beta",
    ]
    for name, blob in acme_files.items():
        text = (gzip.decompress(blob) if name.endswith(".gz") else blob).decode()
        for value in forbidden:
            assert value not in text, f"{value!r} in {name}"
    assert experiment.slots[0].internal_id in str(acme_turns[0]["metadata"])

    # Standard tools read them: pandas, one frame per file.
    for blob in _traces(acme_files).values():
        frame = pd.read_json(io.BytesIO(blob), lines=True, compression="gzip")
        assert {"messages", "metadata", "turn_id", "session_id", "time"} <= set(frame.columns)
        assert all(m[-1]["role"] == "assistant" for m in frame["messages"])


def _traces(files: dict[str, bytes]) -> dict[str, bytes]:
    return {k: v for k, v in files.items() if "/traces/" in k and k.endswith(".jsonl.gz")}


def _turns(files: dict[str, bytes]) -> list[dict[str, Any]]:
    return [turn for blob in _traces(files).values() for turn in _lines(blob)]


def _user_text(turn: dict[str, Any]) -> str:
    return next(m["content"] for m in turn["messages"] if m["role"] == "user")


def _manifest(partner_id: str, day: object) -> str:
    return f"partner/{partner_id}/traces/{day}/manifest.jsonl"


async def _export(runtime: Runtime, partner_id: str, day: Any) -> dict[str, bytes]:
    exporter = Exporter(runtime.sessions, runtime.blobs, runtime.cipher)
    result = await exporter.export_day(uuid.UUID(partner_id), day)
    keys = [f.object_key for f in result.files] + [_manifest(partner_id, day)]
    out = {}
    for key in keys:
        data = await runtime.blobs.get_named(key)
        assert data is not None, key
        out[key] = data
    return out


def _one_partner_slot(
    gateway: GatewayServer, mock: MockServer
) -> tuple[httpx.Client, dict[str, Any], str, str]:
    """A sharing preview model, a one-slot experiment whose slot is acme's, and an opted-in
    caller: (admin client, acme, the slot's partner path, the caller's key)."""
    admin = admin_client(gateway)
    r = admin.post(
        "/admin/api/models",
        json={"public_id": PREVIEW_ID, "kind": "preview", "disclosure_shares_with_partner": True},
    )
    assert r.status_code == 201, r.text
    experiment = start_experiment(admin, [mock], require_opt_in=True, allow_anonymous=False)
    acme = admin.post("/admin/api/partners", json={"slug": "acme", "name": "Acme"}).json()
    slot = experiment.slots[0]
    path = f"/admin/api/experiments/{experiment.id}/variants/{slot.variant_id}/partner"
    assert admin.put(path, json={"partner_id": acme["id"]}).status_code == 200
    _, key = _user(admin)
    _opt_in(gateway, key)
    return admin, acme, path, key


def test_the_worker_exports_ended_days_once_and_again_after_late_turns(
    gateway: GatewayServer, mocks: list[MockServer]
) -> None:
    admin, acme, _, key = _one_partner_slot(gateway, mocks[0])
    for n in range(3):
        assert _chat(gateway, key, "s-1", f"turn {n}").status_code == 200
    gateway.flush()
    today = datetime.now(UTC).date()
    tomorrow = datetime.combine(today, datetime.min.time(), tzinfo=UTC) + timedelta(days=1)

    def run(now: datetime) -> tuple[int, list[tuple[str, int]]]:
        async def work(runtime: Runtime) -> tuple[int, list[tuple[str, int]]]:
            exporter = Exporter(runtime.sessions, runtime.blobs, runtime.cipher)
            worker = ExportWorker(runtime.sessions, exporter, settle_s=60)
            followed = await worker.follow()
            done = await worker.export_pending(now)
            return followed, [(str(d.day), d.turns) for d in done]

        return gateway.call(work)

    # The day has not ended (and settled): followed, marked, not exported.
    assert run(datetime.now(UTC)) == (3, [])
    assert run(tomorrow) == (0, [])  # within the settle time after midnight
    assert run(tomorrow + timedelta(minutes=2)) == (0, [(str(today), 3)])
    assert run(tomorrow + timedelta(minutes=3)) == (0, [])  # exported once
    files = admin.get(f"/admin/api/partners/{acme['id']}/exports").json()
    assert [(f["kind"], f["records"]) for f in files] == [("traces", 3)]

    # A late turn of the same day: the day is exported again, whole, index replaced.
    assert _chat(gateway, key, "s-1", "late").status_code == 200
    gateway.flush()
    assert run(tomorrow + timedelta(minutes=4)) == (1, [(str(today), 4)])
    files = admin.get(f"/admin/api/partners/{acme['id']}/exports").json()
    assert [(f["kind"], f["records"]) for f in files] == [("traces", 4)]


def test_a_reexport_removes_files_of_sessions_that_are_gone(
    gateway: GatewayServer, mocks: list[MockServer]
) -> None:
    admin, acme, path, key = _one_partner_slot(gateway, mocks[0])
    for session in ("s-1", "s-2"):
        assert _chat(gateway, key, session, "hello").status_code == 200
    gateway.flush()
    day = datetime.now(UTC).date()
    first = gateway.call(lambda rt: _export(rt, acme["id"], day))
    assert len(_traces(first)) == 2

    # The slot is no longer acme's: its turns are not acme's to receive, and the files go.
    assert admin.put(path, json={"partner_id": None}).status_code == 200
    gateway.call(lambda rt: _export(rt, acme["id"], day))

    async def gone(runtime: Runtime) -> list[bool]:
        return [await runtime.blobs.get_named(k) is None for k in _traces(first)]

    assert gateway.call(gone) == [True, True]
    assert admin.get(f"/admin/api/partners/{acme['id']}/exports").json() == []
