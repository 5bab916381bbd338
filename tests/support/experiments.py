"""Build experiments through the admin HTTP API, as an operator would."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from previewgate.experiments.assignment import Subject, pick_slot
from tests.support.seed import create_user
from tests.support.servers import GatewayServer, MockServer

PREVIEW_ID = "acme/preview-experiment-foo"


@dataclass
class Slot:
    variant_id: str
    label: str
    internal_id: str
    api_key: str
    mock: MockServer


@dataclass
class LiveExperiment:
    id: str
    admin: httpx.Client
    slots: list[Slot] = field(default_factory=list)  # ordered by variant id

    def slot_for(self, kind: str, value: str) -> Slot:
        weights = [self.weights[s.variant_id] for s in self.slots]
        return self.slots[pick_slot(self.id, Subject(kind, value), weights)]  # type: ignore[arg-type]

    weights: dict[str, int] = field(default_factory=dict)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.admin.post(f"/admin/api/experiments/{self.id}{path}", **kwargs)


def admin_client(gateway: GatewayServer, email: str = "ops@example.com") -> httpx.Client:
    key = gateway.call(lambda rt: create_user(rt, email, admin=True))
    return httpx.Client(
        base_url=gateway.base_url, headers={"authorization": f"Bearer {key}"}, timeout=30
    )


def create_preview_model(
    admin: httpx.Client,
    public_id: str = PREVIEW_ID,
    disclosure: str = "Prompts are retained for 30 days.",
) -> None:
    r = admin.post(
        "/admin/api/models",
        json={"public_id": public_id, "kind": "preview", "disclosure_text": disclosure},
    )
    assert r.status_code == 201, r.text


def start_experiment(
    admin: httpx.Client,
    mocks: list[MockServer],
    *,
    public_id: str = PREVIEW_ID,
    weights: list[int] | None = None,
    require_opt_in: bool = False,
    allow_anonymous: bool = True,
    activate: bool = True,
    api_formats: list[str] | None = None,
    proxy: str | None = None,
) -> LiveExperiment:
    r = admin.post(
        "/admin/api/experiments",
        json={
            "public_model_id": public_id,
            "name": "rc bake-off",
            "require_opt_in": require_opt_in,
            "allow_anonymous": allow_anonymous,
        },
    )
    assert r.status_code == 201, r.text
    exp = LiveExperiment(id=r.json()["id"], admin=admin)
    weights = weights or [1] * len(mocks)
    for index, (mock, weight) in enumerate(zip(mocks, weights, strict=True)):
        label = f"label-{index}-zq"
        internal = f"acme-internal-rc{index}-xk"
        key = f"sk-partner-secret-{index}-7f3a9c"
        upstream = {"internal_id": internal, "base_url": mock.base_url}
        if api_formats:
            upstream["api_format"] = api_formats[index]
        if proxy:
            upstream["proxy"] = proxy
        r = exp.post(
            "/variants",
            json={"label": label, "weight": weight, "api_key": key, "upstream": upstream},
        )
        assert r.status_code == 201, r.text
        exp.slots.append(Slot(r.json()["id"], label, internal, key, mock))
        exp.weights[r.json()["id"]] = weight
    exp.slots.sort(key=lambda s: s.variant_id)
    if activate:
        r = exp.post("/activate")
        assert r.status_code == 200, r.text
    return exp
