"""What a partner sees: its own checkpoints in full, every other slot only as a pooled
alias, the same figures and inference as the operator's report; its team; its files."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx

from tests.support.portal_world import World


def _partner_api(world: World, key: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{world.gateway.base_url}/partner/api",
        headers={"authorization": f"Bearer {key}"},
        timeout=30,
    )


def _sum(rows: list[dict[str, Any]], *path: str) -> int:
    total = 0
    for row in rows:
        value: Any = row
        for step in path:
            value = value[step]
        total += value
    return total


def test_results_show_own_checkpoints_and_pool_the_others(world: World) -> None:
    a = world.alpha
    full = world.admin.get(f"/admin/api/experiments/{world.exp.id}/stats").json()
    seen = _partner_api(world, a.viewer_key).get(f"/experiments/{world.exp.id}/results").json()

    # Own rows: every version of the own slot, with its internal id, and nothing else.
    own = [r for r in full["versions"] if r["variant_id"] in a.slot_ids]
    assert [r["variant_version_id"] for r in seen["versions"]] == [
        r["variant_version_id"] for r in own
    ]
    assert {r["internal_id"] for r in seen["versions"]} == set(a.internal_ids)
    for mine, theirs in zip(seen["versions"], own, strict=True):
        for key in ("requests", "errors", "error_rate_interval", "ttfb_ms", "total_ms", "feedback"):
            assert mine[key] == theirs[key], key

    # Every slot pooled, the others by alias only, figures equal to the sum of versions.
    assert [s["slot"] for s in seen["slots"]] == ["control", a.labels[0], "other slot 1"]
    assert [s["own"] for s in seen["slots"]] == [False, True, False]
    assert "variant_id" not in seen["slots"][0] and "variant_id" not in seen["slots"][2]
    for pooled, slot in zip(seen["slots"], world.exp.slots, strict=True):
        rows = [r for r in full["versions"] if r["variant_id"] == slot.variant_id]
        assert pooled["requests"] == _sum(rows, "requests") > 0
        assert pooled["errors"] == _sum(rows, "errors")
        assert pooled["feedback"]["up"] == _sum(rows, "feedback", "up")
    assert sum(s["requests"] for s in seen["slots"]) == 36

    # The same SRM verdict, by alias; comparisons only where one side is the partner's.
    assert seen["srm"]["p_value"] == full["srm"]["p_value"]
    assert [s["slot"] for s in seen["srm"]["slots"]] == ["control", a.labels[0], "other slot 1"]
    assert len(full["comparisons"]) == 2 and len(seen["comparisons"]) == 1
    compared = seen["comparisons"][0]
    assert compared["control"] == {"slot": "control", "own": False}
    assert compared["treatment"]["variant_id"] == a.slot_ids[0]
    assert compared["error_rate"] == full["comparisons"][0]["error_rate"]
    assert full["comparisons"][0]["treatment"]["variant_id"] == a.slot_ids[0]


def test_experiments_and_slots_as_each_partner_sees_them(world: World) -> None:
    a, b = world.alpha, world.bravo
    mine = _partner_api(world, a.viewer_key).get("/experiments").json()
    assert [e["id"] for e in mine] == [world.exp.id]
    [shared] = mine
    assert [s["label"] for s in shared["own_slots"]] == a.labels
    versions = shared["own_slots"][0]["versions"]
    assert [v["internal_id"] for v in versions] == a.internal_ids
    assert [v["current"] for v in versions] == [False, True]
    assert shared["other_slots"] == [
        {"name": "control", "weight": 1, "share": 1 / 3},
        {"name": "other slot 1", "weight": 1, "share": 1 / 3},
    ]
    theirs = _partner_api(world, b.viewer_key).get("/experiments").json()
    assert {e["id"] for e in theirs} == {world.exp.id, b.experiment_id}
    shared_b = next(e for e in theirs if e["id"] == world.exp.id)
    # Bravo owns the control: it is named by its label, flagged as the control.
    assert [s["is_control"] for s in shared_b["own_slots"]] == [True, False]
    assert shared_b["other_slots"] == [{"name": "other slot 1", "weight": 1, "share": 1 / 3}]


def test_checkpoint_feedback_counts_and_daily_trend(world: World) -> None:
    a = world.alpha
    full = world.admin.get(f"/admin/api/experiments/{world.exp.id}/stats").json()
    for version_id in a.version_ids:
        row = next(r for r in full["versions"] if r["variant_version_id"] == version_id)
        seen = _partner_api(world, a.viewer_key).get(f"/checkpoints/{version_id}/feedback").json()
        assert (seen["up"], seen["down"]) == (row["feedback"]["up"], row["feedback"]["down"])
        assert seen["requests"] == row["requests"]
        assert len(seen["days"]) == 30
        # Every rating of this world was given today: the last day holds them all.
        assert (seen["days"][-1]["up"], seen["days"][-1]["down"]) == (seen["up"], seen["down"])
        assert sum(d["up"] + d["down"] for d in seen["days"][:-1]) == 0
    rated = [
        _partner_api(world, a.viewer_key).get(f"/checkpoints/{v}/feedback").json()
        for v in a.version_ids
    ]
    assert sum(r["up"] + r["down"] for r in rated) > 0


def test_partner_admins_invite_and_remove_viewers(world: World) -> None:
    a = world.alpha
    admin, viewer = _partner_api(world, a.admin_key), _partner_api(world, a.viewer_key)
    r = admin.post("/members", json={"email": "New.Viewer@Alpha.example"})
    assert r.status_code == 201, r.text
    invited = r.json()
    assert invited["role"] == "viewer" and invited["email"] == "new.viewer@alpha.example"
    newcomer = _partner_api(world, invited["api_key"])
    assert newcomer.get("/me").json()["role"] == "viewer"
    assert newcomer.post("/members", json={"email": "x@alpha.example"}).status_code == 403
    listed = {m["email"]: m["role"] for m in viewer.get("/members").json()}
    assert listed["new.viewer@alpha.example"] == "viewer"
    assert "api_key" not in viewer.get("/members").text
    # An e-mail already registered is refused with a clear 409, nothing stored twice.
    assert admin.post("/members", json={"email": "new.viewer@alpha.example"}).status_code == 409
    # Admins are the operator's to remove; viewers the partner admins'.
    me = next(m for m in admin.get("/members").json() if m["role"] == "admin")
    assert admin.delete(f"/members/{me['user_id']}").status_code == 403
    assert viewer.delete(f"/members/{invited['user_id']}").status_code == 403
    assert admin.delete(f"/members/{invited['user_id']}").status_code == 204
    assert newcomer.get("/me").status_code == 404  # access ended at once
    assert admin.delete(f"/members/{invited['user_id']}").status_code == 404


def test_export_download_ranges(world: World) -> None:
    a = world.alpha
    api = _partner_api(world, a.viewer_key)
    listed = api.get(f"/exports/{a.export_id}").json()
    data = world.export_bytes
    assert listed["sha256"] == hashlib.sha256(data).hexdigest() and listed["bytes"] == len(data)
    url = f"/exports/{a.export_id}/download"
    whole = api.get(url)
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["etag"] == f'"{listed["sha256"]}"'
    assert whole.headers["content-type"] == "application/gzip"
    assert 'filename="2026-11-30-s1.jsonl.gz"' in whole.headers["content-disposition"]
    cases = {
        "bytes=0-99": (0, 100),
        "bytes=-100": (len(data) - 100, 100),
        f"bytes={len(data) - 10}-": (len(data) - 10, 10),
        "bytes=300000-300000": (300_000, 1),
        f"bytes=5-{len(data) * 2}": (5, len(data) - 5),
    }
    for header, (start, length) in cases.items():
        r = api.get(url, headers={"range": header})
        assert r.status_code == 206, header
        assert r.content == data[start : start + length], header
        assert r.headers["content-range"] == f"bytes {start}-{start + length - 1}/{len(data)}"
        assert r.headers["content-length"] == str(length)
    # A stale If-Range sends the whole file; a range past the end is unsatisfiable.
    stale = api.get(url, headers={"range": "bytes=0-9", "if-range": '"0000"'})
    assert stale.status_code == 200 and stale.content == data
    fresh = api.get(url, headers={"range": "bytes=0-9", "if-range": whole.headers["etag"]})
    assert fresh.status_code == 206 and fresh.content == data[:10]
    beyond = api.get(url, headers={"range": f"bytes={len(data)}-"})
    assert beyond.status_code == 416 and beyond.headers["content-range"] == f"bytes */{len(data)}"
