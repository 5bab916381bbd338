"""EvidenceRecorder on a batch: one row per attributed event, distinct blobs written once."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from previewgate.evidence import recorder
from previewgate.evidence.blobs import BlobStoreError, FolderBlobStore
from previewgate.evidence.capture import canonical_json
from previewgate.evidence.models import ABSENT, FAILED
from previewgate.evidence.recorder import BLOB_CONCURRENCY, EvidenceRecorder
from previewgate.evidence.sse_assembly import ResponseAssembler
from previewgate.usage.events import AttributionEvent, UsageEvent
from tests.support.events import usage_event

SYSTEM = {"role": "system", "content": "You are a careful coding agent. Never guess."}
LIMIT = 1 << 20
# Nested deeper than json.dumps recurses: capturing this raises RecursionError.
DEEP = b"[" * 1000 + b"]" * 1000


class CountingStore(FolderBlobStore):
    """The real folder store, counting put_if_absent calls per payload and writes in flight."""

    def __init__(self, root: Path, *, delay_s: float = 0.0) -> None:
        super().__init__(root, fsync=False)
        self.puts: Counter[bytes] = Counter()
        self.failing: set[bytes] = set()
        self.delay_s = delay_s
        self.in_flight = 0
        self.max_in_flight = 0

    async def put_if_absent(self, data: bytes) -> str:
        self.puts[data] += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            if data in self.failing:
                raise BlobStoreError("refused")
            return await super().put_if_absent(data)
        finally:
            self.in_flight -= 1


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[CountingStore]:
    store = CountingStore(tmp_path / "blobs")
    yield store
    await store.close()


def event(
    content: str,
    *,
    system: bool = True,
    reply: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> UsageEvent:
    messages: list[dict[str, Any]] = [SYSTEM] if system else []
    messages.append({"role": "user", "content": content})
    answer = ResponseAssembler()  # what the relay merges as it answers
    answer.add(reply or {"choices": [{"index": 0, "message": {"content": f"re: {content}"}}]})
    return usage_event(
        created_at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=len(content)),
        public_model_id="preview",
        machine_id="m",
        attribution=AttributionEvent(
            variant_version_id=uuid.uuid4(),
            allocation_subject="machine",
            client_request_id=content,
            upstream_body={"model": "rc", "messages": messages, **(extra or {})},
            upstream_bytes=len(content) + 200,  # an estimate is all the recorder needs
            response=answer,
            response_bytes=200,
        ),
    )


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def deep_list() -> list[Any]:
    """A parsed body as deep as DEEP."""
    root: list[Any] = []
    node = root
    for _ in range(1000):
        child: list[Any] = []
        node.append(child)
        node = child
    return root


def blob_failures() -> float:
    return REGISTRY.get_sample_value("previewgate_blob_failures_total") or 0.0


async def test_rows_follow_the_events_and_a_shared_system_prompt_is_written_once(
    store: CountingStore,
) -> None:
    events = [event(f"question {i}") for i in range(40)]
    events.insert(3, event("no system", system=False))
    unattributed = event("production")
    unattributed.attribution = None
    events.insert(7, unattributed)

    rows = await EvidenceRecorder(store, LIMIT).rows_for(events)

    attributed = [e for e in events if e.attribution is not None]
    assert [r["usage_id"] for r in rows] == [e.id for e in attributed]
    assert [r["created_at"] for r in rows] == [e.created_at for e in attributed]
    system = canonical_json(SYSTEM)
    assert store.puts[system] == 1
    assert set(store.puts.values()) == {1}  # every distinct payload written exactly once
    for row, e in zip(rows, attributed, strict=True):
        assert e.attribution is not None
        assert row["client_request_id"] == e.attribution.client_request_id
        assert row["variant_version_id"] == e.attribution.variant_version_id
        assert row["was_truncated"] is False
        for column in ("system_prompt_sha256", "request_body_sha256", "response_sha256"):
            if row[column] != ABSENT:
                assert await store.get(row[column]) is not None
    assert rows[3]["system_prompt_sha256"] == ABSENT
    assert {r["system_prompt_sha256"] for i, r in enumerate(rows) if i != 3} == {sha(system)}


async def test_a_capture_that_raises_fails_only_its_side(store: CountingStore) -> None:
    events = [
        event("before"),
        event("odd response", reply={"error": deep_list()}),
        event("odd prompt", extra={"nested": deep_list()}),
        event("after"),
    ]
    failures = blob_failures()

    rows = await EvidenceRecorder(store, LIMIT).rows_for(events)

    assert [r["usage_id"] for r in rows] == [e.id for e in events]
    odd_response, odd_prompt = rows[1], rows[2]
    assert odd_response["response_sha256"] == FAILED
    assert len(odd_response["system_prompt_sha256"]) == 64
    assert len(odd_response["request_body_sha256"]) == 64
    assert odd_prompt["system_prompt_sha256"] == odd_prompt["request_body_sha256"] == FAILED
    assert len(odd_prompt["response_sha256"]) == 64
    for row in (rows[0], rows[3]):
        assert FAILED not in row.values()
    assert blob_failures() == failures + 2  # one per failed capture


async def test_a_refused_payload_fails_every_side_that_carries_it(store: CountingStore) -> None:
    store.failing.add(canonical_json(SYSTEM))
    events = [event("one"), event("two"), event("none", system=False)]
    failures = blob_failures()

    rows = await EvidenceRecorder(store, LIMIT).rows_for(events)

    assert [r["system_prompt_sha256"] for r in rows] == [FAILED, FAILED, ABSENT]
    for row in rows:
        assert len(row["request_body_sha256"]) == len(row["response_sha256"]) == 64
    assert blob_failures() == failures + 1  # one write attempted, one failure


async def test_blob_writes_overlap_up_to_the_bound(tmp_path: Path) -> None:
    store = CountingStore(tmp_path / "blobs", delay_s=0.01)
    events = [event(f"question {i}") for i in range(3 * BLOB_CONCURRENCY)]

    rows = await EvidenceRecorder(store, LIMIT).rows_for(events)

    assert len(rows) == len(events)
    assert store.max_in_flight == BLOB_CONCURRENCY
    assert store.in_flight == 0


async def test_a_batch_bigger_than_a_slice_gives_the_same_rows(
    store: CountingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = [event(f"question {i}", system=i % 3 != 0) for i in range(10)]
    events[4] = event("odd", reply={"error": deep_list()})
    whole = await EvidenceRecorder(store, LIMIT).rows_for(events)  # small: on the loop
    monkeypatch.setattr(recorder, "INLINE_BYTES", 0)  # every capture goes to a thread...
    monkeypatch.setattr(recorder, "SLICE_BYTES", 300)  # ...a few events per slice

    sliced = await EvidenceRecorder(store, LIMIT).rows_for(events)

    assert sliced == whole
    assert store.puts[canonical_json(SYSTEM)] - 1 > 1  # deduped per slice: several slices


async def test_small_captures_run_on_the_loop_and_big_ones_in_a_thread(
    store: CountingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[int] = []
    capture = recorder._capture

    def spy(attribution: Any, limit: int) -> Any:
        threads.append(threading.get_ident())
        return capture(attribution, limit)

    monkeypatch.setattr(recorder, "_capture", spy)
    big = event("x" * (recorder.INLINE_BYTES + 1))
    big.attribution.upstream_bytes = recorder.INLINE_BYTES + 1  # type: ignore[union-attr]
    await EvidenceRecorder(store, LIMIT).rows_for([event("small"), big, event("small too")])
    loop_thread = threading.get_ident()
    assert [t == loop_thread for t in threads] == [True, False, True]


async def test_no_attributed_events_no_work(store: CountingStore) -> None:
    plain = event("production")
    plain.attribution = None
    assert await EvidenceRecorder(store, LIMIT).rows_for([plain]) == []
    assert not store.puts


async def test_behind_the_recorder_takes_longer_turns_on_the_loop(
    store: CountingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs: list[int] = []
    capture_run = recorder._capture_run

    def spy(*args: Any) -> Any:
        part = capture_run(*args)
        runs.append(len(part))
        return part

    monkeypatch.setattr(recorder, "_capture_run", spy)
    events = [event(f"question {i}") for i in range(200)]
    relaxed = await EvidenceRecorder(store, LIMIT).rows_for(events)
    turns_relaxed, runs[:] = len(runs), []
    hurried = await EvidenceRecorder(store, LIMIT).rows_for(events, behind=True)

    assert hurried == relaxed  # the same rows either way
    assert len(runs) == 1 < turns_relaxed  # one run instead of several yields
