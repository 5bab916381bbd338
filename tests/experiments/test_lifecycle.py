"""SPEC §7 over real HTTP on each store: transitions, edit rules, one routing experiment per id."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from previewgate.experiments.models import VariantVersion
from previewgate.store.base import utcnow
from tests.experiments.helpers import (
    API,
    PREVIEW_ID,
    act,
    add_variant,
    draft,
    expect,
    in_status,
    preview_model,
    refused,
    ts,
    upstream,
)
from tests.support.servers import GatewayServer


def test_allowed_transitions_walk_the_state_machine(admin: httpx.Client) -> None:
    exp = draft(admin)
    assert exp["status"] == "draft" and exp["started_at"] is None and exp["mode"] is None
    add_variant(admin, exp["id"])
    active = expect(act(admin, exp["id"], "activate"), 200)
    assert active["status"] == "active" and active["started_at"] is not None
    assert active["mode"] == "sequential"  # one slot is allowed: a sequential experiment
    paused = expect(act(admin, exp["id"], "pause"), 200)
    assert paused["status"] == "paused" and ts(paused["updated_at"]) > ts(active["updated_at"])
    resumed = expect(act(admin, exp["id"], "activate"), 200)
    # Resuming keeps the first start.
    assert resumed["status"] == "active" and resumed["started_at"] == active["started_at"]
    done = expect(act(admin, exp["id"], "complete"), 200)
    assert done["status"] == "completed" and done["ended_at"] is not None
    paused_then_done = in_status(admin, "paused")
    done = expect(act(admin, paused_then_done["id"], "complete"), 200)
    assert done["status"] == "completed"
    gone = draft(admin, name="throwaway")
    assert admin.delete(f"{API}/{gone['id']}").status_code == 204
    refused(admin.get(f"{API}/{gone['id']}"), 404, gone["id"])


REFUSALS = [
    ("draft", "pause", "pause is allowed only from active"),
    ("draft", "complete", "complete is allowed only from active or paused"),
    ("active", "activate", "activate is allowed only from draft or paused"),
    ("active", "delete", "only draft experiments can be deleted"),
    ("paused", "pause", "pause is allowed only from active"),
    ("paused", "delete", "only draft experiments can be deleted"),
    ("completed", "activate", "completed is a terminal status"),
    ("completed", "pause", "completed is a terminal status"),
    ("completed", "complete", "completed is a terminal status"),
    ("completed", "delete", "only draft experiments can be deleted"),
]


def test_every_disallowed_transition_is_a_409_naming_the_rule(admin: httpx.Client) -> None:
    # One experiment per status; active and paused need their own public ids.
    ids = {"draft": PREVIEW_ID, "completed": PREVIEW_ID}
    ids["active"] = preview_model(admin, "acme/preview-active")
    ids["paused"] = preview_model(admin, "acme/preview-paused")
    exps = {status: in_status(admin, status, public_id) for status, public_id in ids.items()}
    for status, action, rule in REFUSALS:
        exp_id = exps[status]["id"]
        if action == "delete":
            response = admin.delete(f"{API}/{exp_id}")
        else:
            response = act(admin, exp_id, action)
        message = refused(response, 409, rule)
        assert f"experiment is {status}" in message
        assert response.json()["error"]["code"] == "conflict"
        assert expect(admin.get(f"{API}/{exp_id}"), 200)["status"] == status


@pytest.mark.parametrize("status", ["active", "paused"])
def test_structural_edits_are_draft_only_but_labels_and_swaps_are_not(
    admin: httpx.Client, status: str
) -> None:
    exp = in_status(admin, status)
    [variant] = exp["variants"]
    base = f"{API}/{exp['id']}/variants"
    rule = "structural edits (add/remove variant, change weight) are allowed only in draft"
    new = {"label": "B", "weight": 1, "upstream": upstream(), "api_key": "sk-x"}
    refused(admin.post(base, json=new), 409, rule, f"experiment is {status}")
    refused(admin.delete(f"{base}/{variant['id']}"), 409, rule)
    refused(admin.patch(f"{base}/{variant['id']}", json={"weight": 3}), 409, rule)
    # Label edits and hot-swaps stay open while the experiment runs.
    assert (
        expect(admin.patch(f"{base}/{variant['id']}", json={"label": "renamed"}), 200)["label"]
        == "renamed"
    )
    swapped = expect(
        admin.post(
            f"{base}/{variant['id']}/versions",
            json={"upstream": upstream("acme-rc-2"), "api_key": "sk-y"},
        ),
        201,
    )
    assert [v["internal_id"] for v in swapped["versions"]] == ["acme-rc-1", "acme-rc-2"]
    assert [v["current"] for v in swapped["versions"]] == [False, True]
    after = expect(admin.get(f"{API}/{exp['id']}"), 200)
    assert after["status"] == status and len(after["variants"]) == 1
    assert after["variants"][0]["weight"] == 1


def test_completed_experiments_take_no_edits_but_their_name(admin: httpx.Client) -> None:
    exp = in_status(admin, "completed")
    base = f"{API}/{exp['id']}/variants/{exp['variants'][0]['id']}"
    refused(admin.patch(base, json={"label": "x"}), 409, "labels can be edited only in")
    refused(
        admin.post(f"{base}/versions", json={"upstream": upstream(), "api_key": "sk-z"}),
        409,
        "hot-swap and key rotation",
        "experiment is completed",
    )
    refused(admin.post(f"{base}/rotate-key", json={"api_key": "sk-z"}), 409, "hot-swap")
    refused(
        admin.patch(f"{API}/{exp['id']}", json={"allow_anonymous": True}),
        409,
        "allow_anonymous cannot change once an experiment is completed",
    )
    renamed = expect(admin.patch(f"{API}/{exp['id']}", json={"name": "post-mortem"}), 200)
    assert renamed["name"] == "post-mortem" and ts(renamed["updated_at"]) > ts(exp["updated_at"])


def test_draft_edits(admin: httpx.Client) -> None:
    exp = draft(admin)
    a = add_variant(admin, exp["id"], "A", 1)
    b = add_variant(admin, exp["id"], "B", 3, internal_id="acme-rc-2")
    refused(
        admin.post(
            f"{API}/{exp['id']}/variants",
            json={"label": "A", "weight": 1, "upstream": upstream(), "api_key": "k"},
        ),
        409,
        "variant labels are unique within an experiment",
    )
    refused(
        admin.patch(f"{API}/{exp['id']}/variants/{b['id']}", json={"label": "A"}),
        409,
        "variant labels are unique",
    )
    view = expect(admin.get(f"{API}/{exp['id']}"), 200)
    assert [v["id"] for v in view["variants"]] == sorted([a["id"], b["id"]])
    assert {v["label"]: v["share"] for v in view["variants"]} == {"A": 0.25, "B": 0.75}
    assert view["mode"] == "parallel" and view["total_weight"] == 4
    patched = expect(admin.patch(f"{API}/{exp['id']}/variants/{b['id']}", json={"weight": 1}), 200)
    assert patched["share"] == 0.5
    after = expect(admin.delete(f"{API}/{exp['id']}/variants/{a['id']}"), 200)
    assert [v["label"] for v in after["variants"]] == ["B"]
    assert after["variants"][0]["share"] == 1.0


def test_archive_is_orthogonal_but_refused_while_active(admin: httpx.Client) -> None:
    active = in_status(admin, "active")
    rule = "an active experiment cannot be archived"
    refused(admin.post(f"{API}/{active['id']}/archive", json={"archived": True}), 409, rule)
    kept = draft(admin, name="kept")
    shelved = draft(admin, name="shelved")
    assert expect(admin.post(f"{API}/{shelved['id']}/archive", json={"archived": True}), 200)[
        "is_archived"
    ]
    refused(act(admin, shelved["id"], "activate"), 409, "archived experiment cannot be activated")
    listed = {e["id"] for e in expect(admin.get(API, params={"archived": "true"}), 200)}
    assert listed == {shelved["id"]}
    listed = {e["id"] for e in expect(admin.get(API, params={"archived": "false"}), 200)}
    assert listed == {active["id"], kept["id"]}
    assert len(expect(admin.get(API), 200)) == 3
    drafts = expect(admin.get(API, params={"status": "draft"}), 200)
    assert {e["id"] for e in drafts} == {kept["id"], shelved["id"]}
    # A paused experiment may be archived; it must be unarchived before it runs again.
    expect(act(admin, active["id"], "pause"), 200)
    expect(admin.post(f"{API}/{active['id']}/archive", json={"archived": True}), 200)
    refused(act(admin, active["id"], "activate"), 409, "unarchive it first")
    expect(admin.post(f"{API}/{active['id']}/archive", json={"archived": False}), 200)
    assert expect(act(admin, active["id"], "activate"), 200)["status"] == "active"


def test_one_routing_experiment_per_public_id(admin: httpx.Client) -> None:
    first = in_status(admin, "active")
    second = draft(admin, name="challenger")  # drafts may wait beside a running one
    add_variant(admin, second["id"])
    rule = "only one active or paused experiment may exist per public model id"
    message = refused(act(admin, second["id"], "activate"), 409, rule)
    assert first["id"] in message and "is active" in message
    expect(act(admin, first["id"], "pause"), 200)
    refused(act(admin, second["id"], "activate"), 409, rule, "is paused")
    # Completing the first frees the id.
    expect(act(admin, first["id"], "complete"), 200)
    assert expect(act(admin, second["id"], "activate"), 200)["status"] == "active"


def test_activation_requirements(admin: httpx.Client) -> None:
    empty = draft(admin)
    refused(act(admin, empty["id"], "activate"), 409, "activation requires at least one variant")
    refused(
        admin.post(API, json={"public_model_id": "nobody/none", "name": "x"}),
        422,
        "not in the catalog",
    )
    expect(
        admin.post("/admin/api/models", json={"public_id": "acme/prod", "kind": "production"}), 201
    )
    refused(
        admin.post(API, json={"public_model_id": "acme/prod", "name": "x"}),
        422,
        "experiments run only on preview models",
    )
    undisclosed = preview_model(admin, "acme/preview-undisclosed")
    exp = draft(admin, undisclosed)
    add_variant(admin, exp["id"])
    expect(admin.patch(f"/admin/api/models/{undisclosed}", json={"disclosure_text": " "}), 200)
    refused(act(admin, exp["id"], "activate"), 409, "to have a disclosure text")
    expect(admin.patch(f"/admin/api/models/{undisclosed}", json={"disclosure_text": "Kept."}), 200)
    assert expect(act(admin, exp["id"], "activate"), 200)["status"] == "active"


def test_a_variant_without_an_effective_version_blocks_activation(
    gateway: GatewayServer, admin: httpx.Client
) -> None:
    exp = draft(admin)
    variant = add_variant(admin, exp["id"])

    async def postdate(rt: Any) -> None:
        # Only possible by hand: the service always writes effective_at = now.
        async with rt.sessions() as session, session.begin():
            await session.execute(
                update(VariantVersion)
                .where(VariantVersion.variant_id == uuid.UUID(variant["id"]))
                .values(effective_at=utcnow() + timedelta(days=1))
            )

    gateway.call(postdate)
    refused(
        act(admin, exp["id"], "activate"),
        409,
        "every variant to have a version effective now",
        "missing for A",
    )


def test_a_completed_id_is_free_for_a_new_experiment(
    gateway: GatewayServer, admin: httpx.Client
) -> None:
    old = in_status(admin, "completed")
    new = in_status(admin, "active")
    assert new["public_model_id"] == old["public_model_id"] == PREVIEW_ID

    async def routing(rt: Any) -> tuple[str, str] | None:
        found = rt.routing.snapshot.experiments.get(PREVIEW_ID)
        return (found.id_str, found.status) if found else None

    # The routing state holds the new experiment, not the completed one.
    assert gateway.call(routing) == (new["id"], "active")
