"""Routing decisions on hand-built snapshots: the rules that need no server to show."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from previewgate.catalog.upstream import UpstreamSpec
from previewgate.config import Settings
from previewgate.errors import NotFound, ServiceUnavailable
from previewgate.gateway.resolve import resolve
from previewgate.identity import Identity
from previewgate.routing.snapshot import (
    ExperimentEntry,
    ModelEntry,
    SlotEntry,
    Snapshot,
    VersionEntry,
)

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
SPEC = UpstreamSpec(internal_id="rc", base_url="http://127.0.0.1:1/v1")  # type: ignore[arg-type]


def identity(machine: str | None = None, ip: str | None = None) -> Identity:
    return Identity(None, machine, None, None, ip, None, None, None, None)


def snapshot(versions: tuple[VersionEntry, ...]) -> Snapshot:
    exp_id = uuid.uuid4()
    slot = SlotEntry(uuid.uuid4(), "a", 1, versions)
    experiment = ExperimentEntry(
        exp_id, str(exp_id), "acme/p", "active", False, True, (slot,), (1,)
    )
    model = ModelEntry("acme/p", "preview", "", "", None, None, None, 0, 0, "text", 1)
    return Snapshot(0.0, models={"acme/p": model}, experiments={"acme/p": experiment})


def body(model: str = "acme/p") -> dict[str, object]:
    return {"model": model, "messages": [{"role": "user", "content": "x"}]}


def test_no_allocation_subject_is_503() -> None:
    snap = snapshot((VersionEntry(uuid.uuid4(), NOW, SPEC, "k"),))
    with pytest.raises(ServiceUnavailable):
        resolve(body(), identity(), snap, True, Settings(), NOW)
    assert resolve(body(), identity(ip="10.0.0.1"), snap, True, Settings(), NOW).experimented


def test_same_millisecond_versions_resolve_to_the_greater_id() -> None:
    low, high = sorted([uuid.uuid4(), uuid.uuid4()])
    versions = (VersionEntry(low, NOW, SPEC, "old"), VersionEntry(high, NOW, SPEC, "new"))
    decision = resolve(body(), identity(machine="m"), snapshot(versions), True, Settings(), NOW)
    assert decision.version_id == high and decision.api_key == "new"


def test_future_versions_are_not_current() -> None:
    first, later = uuid.uuid4(), uuid.uuid4()
    versions = (
        VersionEntry(first, NOW, SPEC, "now"),
        VersionEntry(later, NOW + timedelta(hours=1), SPEC, "later"),
    )
    decision = resolve(body(), identity(machine="m"), snapshot(versions), True, Settings(), NOW)
    assert decision.version_id == first


def test_stale_state_fails_closed_for_anything_possibly_experimented() -> None:
    snap = snapshot((VersionEntry(uuid.uuid4(), NOW, SPEC, "k"),))
    settings = Settings(default_upstream_url="http://127.0.0.1:9")
    for model in ("acme/p", "never/seen"):
        with pytest.raises(ServiceUnavailable):
            resolve(body(model), identity(machine="m"), snap, False, settings, NOW)
    with pytest.raises(NotFound):
        resolve(body("never/seen"), identity(machine="m"), snap, True, Settings(), NOW)
    assert resolve(body("never/seen"), identity(), snap, True, settings, NOW).upstream is None
