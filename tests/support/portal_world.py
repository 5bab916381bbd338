"""Two partners sharing one experiment, built through the operator's API as in production.

Slots in assignment order: slot 0 (the control) and slot 2 are Bravo's, slot 1 is Alpha's.
Both partners hot-swap a checkpoint; real traffic through the gateway lands in every slot
and some of it is rated; each partner has members, a webhook endpoint with a delivery and
an export file in the blob store. Tests look at it from Alpha's side.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass, field
from datetime import date

import httpx

from previewgate.partners.models import ExportFile
from previewgate.runtime import Runtime
from tests.support.experiments import (
    PREVIEW_ID,
    LiveExperiment,
    admin_client,
    create_preview_model,
    start_experiment,
)
from tests.support.servers import GatewayServer, MockServer

OWNERS = ("bravo", "alpha", "bravo")  # slot i belongs to OWNERS[i]
SWAPPED = {1: "alpha-internal-rc1-swap-xk", 2: "bravo-internal-rc2-swap-xk"}


@dataclass
class Side:
    """One partner and what belongs to it."""

    id: str
    slug: str
    name: str
    experiment_id: str = ""  # an experiment with a slot of this partner's only
    public_ids: list[str] = field(default_factory=list)  # of experiments of its own only
    admin_key: str = ""
    viewer_key: str = ""
    endpoint_id: str = ""
    endpoint_url: str = ""
    delivery_id: str = ""
    export_id: str = ""
    slot_ids: list[str] = field(default_factory=list)
    version_ids: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    internal_ids: list[str] = field(default_factory=list)
    base_urls: list[str] = field(default_factory=list)
    upstream_keys: list[str] = field(default_factory=list)

    def secrets(self) -> list[str]:
        """Everything of this partner that no other partner may ever see."""
        return [
            self.id,
            self.slug,
            self.name,
            self.admin_key,
            self.viewer_key,
            self.endpoint_id,
            self.endpoint_url,
            self.delivery_id,
            self.export_id,
            *self.public_ids,
            *self.slot_ids,
            *self.version_ids,
            *self.labels,
            *self.internal_ids,
            *self.base_urls,
            *self.upstream_keys,
        ]


@dataclass
class World:
    gateway: GatewayServer
    admin: httpx.Client
    exp: LiveExperiment
    alpha: Side
    bravo: Side
    revoked_key: str  # an Alpha admin's key, revoked after its session was opened
    revoked_user_id: str
    export_bytes: bytes  # Alpha's export file

    def member(self, side: Side, role: str) -> tuple[str, str]:
        """A new member of ``side``: (user id, API key)."""
        user = self.admin.post("/admin/api/users", json={"email": f"{uuid.uuid4().hex}@p.example"})
        key = self.admin.post(f"/admin/api/users/{user.json()['id']}/keys").json()["key"]
        r = self.admin.put(
            f"/admin/api/partners/{side.id}/members",
            json={"user_id": user.json()["id"], "role": role},
        )
        assert r.status_code == 200, r.text
        return user.json()["id"], key

    def revoke(self, user_id: str) -> None:
        for key in self.admin.get(f"/admin/api/users/{user_id}/keys").json():
            r = self.admin.delete(f"/admin/api/users/{user_id}/keys/{key['id']}")
            assert r.status_code == 200, r.text


def _partner(admin: httpx.Client, slug: str, name: str) -> Side:
    r = admin.post("/admin/api/partners", json={"slug": slug, "name": name})
    assert r.status_code == 201, r.text
    return Side(id=r.json()["id"], slug=slug, name=name)


def _traffic(gateway: GatewayServer, exp: LiveExperiment) -> None:
    """Subjects in every slot (enough for the SRM check); in each slot the first request is
    rated up and the second down."""
    rated: dict[str, int] = {}
    with httpx.Client(base_url=gateway.base_url, timeout=30) as client:
        for n in range(36):
            machine = {"x-machine-id": f"machine-{n}"}
            body = {"model": PREVIEW_ID, "messages": [{"role": "user", "content": f"q{n}"}]}
            r = client.post("/v1/chat/completions", json=body, headers=machine)
            assert r.status_code == 200, r.text
            slot = exp.slot_for("machine", f"machine-{n}").variant_id
            rated[slot] = rated.get(slot, 0) + 1
            if rated[slot] <= 2:
                rating = "up" if rated[slot] == 1 else "down"
                answer = {"response_id": r.headers["x-request-id"], "rating": rating}
                gateway.flush()
                assert client.post("/v1/feedback", json=answer, headers=machine).status_code < 300
    assert len(rated) == len(exp.slots) and min(rated.values()) >= 2
    gateway.flush()


def _export(side: Side, data: bytes, key: str) -> ExportFile:
    return ExportFile(
        partner_id=uuid.UUID(side.id),
        day=date(2026, 11, 30),
        kind="traces",
        session_hash=hashlib.sha256(key.encode()).hexdigest(),
        object_key=key,
        bytes=len(data),
        records=3,
        sha256=hashlib.sha256(data).hexdigest(),
        redactor_version="test",
    )


async def put_export(runtime: Runtime, side: Side, data: bytes, name: str) -> str:
    """An export file of ``side`` in the blob store and its row, as the exporter leaves them."""
    key = f"partner/{side.id}/traces/2026-11-30/{name}"
    await runtime.blobs.put_named(key, data)
    async with runtime.sessions() as session, session.begin():
        row = _export(side, data, key)
        session.add(row)
        await session.flush()
        return str(row.id)


SOLO_ID = "bravo/solo-preview"


def _solo_experiment(admin: httpx.Client, side: Side, mock: MockServer) -> str:
    """An experiment whose one slot is ``side``'s alone."""
    create_preview_model(admin, SOLO_ID)
    solo = start_experiment(admin, [mock], public_id=SOLO_ID, allow_anonymous=True)
    slot = solo.slots[0]
    r = admin.put(
        f"/admin/api/experiments/{solo.id}/variants/{slot.variant_id}/partner",
        json={"partner_id": side.id},
    )
    assert r.status_code == 200, r.text
    side.public_ids.append(SOLO_ID)
    side.slot_ids.append(slot.variant_id)
    return solo.id


def build_world(gateway: GatewayServer, mocks: list[MockServer]) -> World:
    admin = admin_client(gateway)
    create_preview_model(admin)
    exp = start_experiment(admin, mocks, allow_anonymous=True, require_opt_in=False)
    alpha = _partner(admin, "alpha", "Alpha Labs")
    bravo = _partner(admin, "bravo", "Bravo Research")
    sides = {"alpha": alpha, "bravo": bravo}
    for index, slot in enumerate(exp.slots):
        side = sides[OWNERS[index]]
        r = admin.put(
            f"/admin/api/experiments/{exp.id}/variants/{slot.variant_id}/partner",
            json={"partner_id": side.id},
        )
        assert r.status_code == 200, r.text
        side.slot_ids.append(slot.variant_id)
        side.labels.append(slot.label)
        side.internal_ids.append(slot.internal_id)
        side.base_urls.append(slot.mock.base_url)
        side.upstream_keys.append(slot.api_key)
    for index, internal in SWAPPED.items():
        slot, side = exp.slots[index], sides[OWNERS[index]]
        key = f"sk-partner-swap-{index}-e41d"
        upstream = {"internal_id": internal, "base_url": slot.mock.base_url}
        r = exp.post(
            f"/variants/{slot.variant_id}/versions", json={"upstream": upstream, "api_key": key}
        )
        assert r.status_code == 201, r.text
        side.internal_ids.append(internal)
        side.upstream_keys.append(key)
    alpha.experiment_id = exp.id
    bravo.experiment_id = _solo_experiment(admin, bravo, mocks[2])
    for experiment_id in (exp.id, bravo.experiment_id):
        view = admin.get(f"/admin/api/experiments/{experiment_id}").json()
        for variant in view["variants"]:
            side = alpha if variant["id"] in alpha.slot_ids else bravo
            side.version_ids += [v["id"] for v in variant["versions"]]
    _traffic(gateway, exp)
    world = World(gateway, admin, exp, alpha, bravo, "", "", os.urandom(700_000))
    for side in (alpha, bravo):
        _, side.admin_key = world.member(side, "admin")
        _, side.viewer_key = world.member(side, "viewer")
        side.endpoint_url = f"http://127.0.0.1:9/{side.slug}-hook"
        hook = admin.post(
            f"/admin/api/partners/{side.id}/webhooks",
            json={"url": side.endpoint_url, "event_types": ["export.ready"]},
        )
        assert hook.status_code == 201, hook.text
        side.endpoint_id = hook.json()["id"]
        assert admin.post(f"/admin/api/webhooks/{side.endpoint_id}/test").status_code == 202
        deliveries = admin.get(f"/admin/api/webhooks/{side.endpoint_id}/deliveries").json()
        side.delivery_id = deliveries[0]["id"]
        data = world.export_bytes if side is alpha else os.urandom(1000)
        side.export_id = gateway.call(
            lambda rt, s=side, d=data: put_export(rt, s, d, "s1.jsonl.gz")
        )
    world.revoked_user_id, world.revoked_key = world.member(alpha, "admin")
    return world
