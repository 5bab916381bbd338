"""An experiment whose every checkpoint is a leaky upstream, and a client that asks it."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import MetaData, select, text

from tests.support.experiments import (
    PREVIEW_ID,
    LiveExperiment,
    admin_client,
    create_preview_model,
    start_experiment,
)
from tests.support.leak_scan import Capture
from tests.support.leaky_answers import PROBE, Secrets
from tests.support.leaky_upstream import LeakyUpstream
from tests.support.servers import GatewayServer

URL = "/v1/chat/completions"
PATHS = {"chat": URL, "responses": "/v1/responses", "messages": "/v1/messages"}


def client_body(client: str, text: str, stream: bool, logprobs: bool = True) -> dict[str, Any]:
    """One user turn in a client API's own request shape."""
    if client == "responses":
        return {"model": PREVIEW_ID, "stream": stream, "input": text}
    if client == "messages":
        messages = [{"role": "user", "content": text}]
        return {"model": PREVIEW_ID, "stream": stream, "max_tokens": 64, "messages": messages}
    body: dict[str, Any] = {
        "model": PREVIEW_ID,
        "stream": stream,
        "messages": [{"role": "user", "content": text}],
    }
    if logprobs:
        body.update(logprobs=True, top_logprobs=1)
    if stream:
        body["stream_options"] = {"include_usage": True}
    return body


@dataclass
class BlindRig:
    gateway: GatewayServer
    upstreams: list[LeakyUpstream]
    exp: LiveExperiment
    machines: list[str]  # machines[i] is assigned to exp.slots[i]
    client: httpx.Client
    sent: list[dict[str, Any]] = field(default_factory=list)

    @property
    def secrets(self) -> list[Secrets]:
        return [
            s.mock.secrets(s.internal_id, s.api_key)  # type: ignore[attr-defined]
            for s in self.exp.slots
        ]

    def needles(self, *, internal_ids: bool = True, probe: bool = True) -> list[str]:
        """Every slot's planted strings (any slot's secret is a leak, whoever answered)."""
        found = {n for s in self.secrets for n in s.needles()}
        if not internal_ids:
            found -= {s.internal_id for s in self.secrets}
        return sorted(found | ({PROBE} if probe else set()))

    def ask(
        self,
        scenario: str,
        slot: int,
        *,
        stream: bool,
        eol: str = "lf",
        split: str = "",
        request_id: str | None = None,
        client: str = "chat",
        logprobs: bool = True,
    ) -> Capture:
        marker = f"#leak:{scenario} eol={eol}" + (f" split={split}" if split else "")
        body = client_body(client, marker, stream, logprobs)
        headers = {"x-kilocode-machineid": self.machines[slot]}
        if client == "messages":
            headers["anthropic-version"] = "2023-06-01"
        headers["x-kilo-request"] = request_id or f"req-{uuid.uuid4().hex}"
        self.sent.append({"scenario": scenario, "slot": slot, "stream": stream, **headers})
        try:
            r = self.client.post(PATHS[client], json=body, headers=headers)
        except httpx.TransportError as exc:  # a dropped connection is a failure to report
            return Capture(0, [], f"transport error: {type(exc).__name__}: {exc}".encode())
        return Capture.of(r)


def _machines_per_slot(exp: LiveExperiment) -> list[str]:
    found: dict[str, str] = {}
    for n in itertools.count():
        name = f"machine-{n}"
        found.setdefault(exp.slot_for("machine", name).variant_id, name)
        if len(found) == len(exp.slots):
            return [found[s.variant_id] for s in exp.slots]
        assert n < 10_000, "no machine id maps to some slot"
    raise AssertionError("unreachable")


@contextmanager
def blind_rig(
    gateway: GatewayServer, slots: int = 2, api_formats: list[str] | None = None
) -> Iterator[BlindRig]:
    """A running experiment with ``slots`` leaky checkpoints (one upstream each), speaking
    ``api_formats`` (default: chat)."""
    upstreams = [LeakyUpstream().start() for _ in range(slots)]
    try:
        admin = admin_client(gateway)
        create_preview_model(admin)
        exp = start_experiment(admin, upstreams, api_formats=api_formats)  # type: ignore[arg-type]
        with httpx.Client(base_url=gateway.base_url, timeout=30) as client:
            yield BlindRig(gateway, upstreams, exp, _machines_per_slot(exp), client)
    finally:
        for upstream in upstreams:
            upstream.stop()


@dataclass(frozen=True)
class Attributed:
    """An experimented request as stored: its attribution row joined to its usage row."""

    client_request_id: str | None
    variant_version_id: str
    response_sha256: str
    status_code: int
    has_error: bool
    error_kind: str | None


async def attributed_rows(rt: Any) -> list[Attributed]:
    query = text(
        "select r.client_request_id, r.variant_version_id, r.response_sha256, u.status_code,"
        " u.has_error, u.error_kind"
        " from model_experiment_request r join usage u on u.id = r.usage_id"
    )
    async with rt.engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [
        Attributed(r[0], str(r[1]).replace("-", ""), r[2], int(r[3]), bool(r[4]), r[5])
        for r in rows
    ]


async def stored_values(rt: Any, skip_columns: frozenset[str]) -> list[tuple[str, str]]:
    """(table.column, value as text) for every value of every row of every table."""
    out: list[tuple[str, str]] = []
    metadata = MetaData()
    async with rt.engine.connect() as conn:
        await conn.run_sync(metadata.reflect)
        for table in metadata.sorted_tables:
            for row in (await conn.execute(select(table))).mappings():
                for column, value in row.items():
                    if column not in skip_columns and value is not None:
                        out.append((f"{table.name}.{column}", str(value)))
    return out
