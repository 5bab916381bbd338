"""The guards behind the rules: racing activations, the database constraints, version order."""

from __future__ import annotations

import asyncio
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from previewgate.experiments import queries, service
from previewgate.experiments.models import Experiment, Variant, VariantVersion
from previewgate.store.base import utcnow
from tests.experiments.helpers import (
    API,
    act,
    add_variant,
    draft,
    expect,
    in_status,
    refused,
    upstream,
)
from tests.support.servers import GatewayServer


def _race(gateway: GatewayServer, admin: httpx.Client, ids: list[str]) -> list[httpx.Response]:
    """POST activate for every id at once, from separate threads and connections."""
    barrier = threading.Barrier(len(ids))

    def activate(exp_id: str) -> httpx.Response:
        with httpx.Client(base_url=gateway.base_url, headers=admin.headers, timeout=30) as c:
            barrier.wait()
            return c.post(f"{API}/{exp_id}/activate")

    with ThreadPoolExecutor(len(ids)) as pool:
        return list(pool.map(activate, ids))


def _racers(admin: httpx.Client) -> list[str]:
    drafts = [draft(admin, name=f"racer {i}") for i in range(2)]
    for exp in drafts:
        add_variant(admin, exp["id"])
    return [exp["id"] for exp in drafts]


def _one_winner(admin: httpx.Client, ids: list[str], responses: list[httpx.Response]) -> str:
    assert sorted(r.status_code for r in responses) == [200, 409], [r.text for r in responses]
    [loser] = [r for r in responses if r.status_code == 409]
    statuses = [expect(admin.get(f"{API}/{exp_id}"), 200)["status"] for exp_id in ids]
    assert sorted(statuses) == ["active", "draft"]
    return refused(loser, 409, "only one active or paused experiment may exist per public")


def test_concurrent_activations_on_one_public_id_exactly_one_wins(
    gateway: GatewayServer, admin: httpx.Client
) -> None:
    ids = _racers(admin)
    _one_winner(admin, ids, _race(gateway, admin, ids))


def test_when_both_pass_the_pre_check_the_database_picks_one(
    gateway: GatewayServer, admin: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = _racers(admin)
    real = queries.routing_rival
    seen: list[object] = []
    both_checked: list[asyncio.Event] = []

    async def rendezvous(session: Any, experiment: Experiment) -> Experiment | None:
        # Hold each activation after its pre-check until both have checked: the worst
        # interleaving, where neither sees the other and only the index can decide.
        rival = await real(session, experiment)
        seen.append(rival)
        if not both_checked:
            both_checked.append(asyncio.Event())
        if len(seen) == 2:
            both_checked[0].set()
        await asyncio.wait_for(both_checked[0].wait(), 10)
        return rival

    monkeypatch.setattr(queries, "routing_rival", rendezvous)
    responses = _race(gateway, admin, ids)
    assert seen == [None, None]  # both pre-checks passed
    assert "became active or paused concurrently" in _one_winner(admin, ids, responses)


def test_the_database_refuses_a_second_routing_experiment(
    gateway: GatewayServer, admin: httpx.Client
) -> None:
    first, second = in_status(admin, "active"), draft(admin, name="second")

    async def force(rt: Any, status: str, **values: object) -> str:
        # Straight to the table, no service: only the constraints stand in the way.
        async with rt.sessions() as session:
            try:
                async with session.begin():
                    await session.execute(
                        update(Experiment)
                        .where(Experiment.id == uuid.UUID(second["id"]))
                        .values(status=status, **values)
                    )
            except IntegrityError:
                return "refused"
            return "committed"

    assert gateway.call(lambda rt: force(rt, "active")) == "refused"
    assert gateway.call(lambda rt: force(rt, "paused")) == "refused"
    expect(act(admin, first["id"], "complete"), 200)
    # Once the first leaves routing the same row is accepted, but never active and archived.
    assert gateway.call(lambda rt: force(rt, "active", is_archived=True)) == "refused"
    assert gateway.call(lambda rt: force(rt, "active")) == "committed"


def test_current_version_ties_go_to_the_greater_id(
    gateway: GatewayServer, admin: httpx.Client
) -> None:
    exp = draft(admin)
    variant_id = uuid.UUID(add_variant(admin, exp["id"])["id"])
    at = utcnow() - timedelta(seconds=5)
    low, high = sorted([uuid.uuid4(), uuid.uuid4()])

    async def insert_and_pick(rt: Any) -> list[uuid.UUID | None]:
        async with rt.sessions() as session, session.begin():
            # Inserted high first, so insertion order cannot be what decides.
            for version_id in (high, low):
                session.add(
                    VariantVersion(
                        id=version_id,
                        variant_id=variant_id,
                        upstream=upstream(f"tie-{version_id}"),
                        encrypted_api_key=rt.cipher.encrypt("sk-tie"),
                        effective_at=at,
                    )
                )
        picks = []
        async with rt.sessions() as session:
            for _ in range(3):
                current = await service.current_version(session, variant_id, at)
                picks.append(current.id if current else None)
            before = await service.current_version(session, variant_id, at - timedelta(seconds=1))
            picks.append(before.id if before else None)
        return picks

    picks = gateway.call(insert_and_pick)
    assert picks == [high, high, high, None]
    # The view and the gateway's snapshot apply the same order (the first version is newer).
    view = expect(admin.get(f"{API}/{exp['id']}"), 200)["variants"][0]
    tied = [v for v in view["versions"] if v["internal_id"].startswith("tie-")]
    assert [v["id"] for v in tied] == [str(low), str(high)]

    async def slot_pick(rt: Any) -> uuid.UUID | None:
        async with rt.sessions() as session:
            variant = await session.scalar(select(Variant).where(Variant.id == variant_id))
            versions = list(variant.versions) if variant else []
        current = queries.pick_current(versions, at)
        return current.id if current else None

    assert gateway.call(slot_pick) == high
