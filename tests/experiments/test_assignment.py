"""Slot assignment: deterministic, weighted, and exactly the documented hash."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import chisquare

from previewgate.experiments.assignment import Subject, bucket_point, choose_subject, pick_slot

EXPERIMENT = "0b7f1c9e-4d1a-4f43-9a55-2f6a3c1d8e00"


def test_seed_and_hash_are_the_documented_ones() -> None:
    subject = Subject("machine", "laptop-7")
    digest = hashlib.sha256(f"model_exp_{EXPERIMENT}_machine_laptop-7".encode()).digest()
    assert bucket_point(EXPERIMENT, subject, 10) == int.from_bytes(digest[:8], "big") % 10


def test_subject_precedence() -> None:
    assert choose_subject("u1", "m1", "1.2.3.4") == Subject("user", "u1")
    assert choose_subject(None, "m1", "1.2.3.4") == Subject("machine", "m1")
    assert choose_subject(None, None, "1.2.3.4") == Subject("ip", "1.2.3.4")
    assert choose_subject(None, None, None) is None
    assert choose_subject("", "", "") is None


@given(
    value=st.text(min_size=1, max_size=64),
    kind=st.sampled_from(["user", "machine", "ip"]),
    weights=st.lists(st.integers(min_value=1, max_value=1000), min_size=1, max_size=8),
)
def test_slot_is_deterministic_and_in_range(value: str, kind: str, weights: list[int]) -> None:
    subject = Subject(kind, value)  # type: ignore[arg-type]
    slot = pick_slot(EXPERIMENT, subject, weights)
    assert 0 <= slot < len(weights)
    assert pick_slot(EXPERIMENT, subject, weights) == slot
    # The slot is the one whose cumulative range holds the subject's point.
    point = bucket_point(EXPERIMENT, subject, sum(weights))
    assert sum(weights[:slot]) <= point < sum(weights[: slot + 1])


def split(weights: list[int], n: int = 100_000) -> list[int]:
    counts = [0] * len(weights)
    for i in range(n):
        counts[pick_slot(EXPERIMENT, Subject("machine", f"machine-{i}"), weights)] += 1
    return counts


def test_split_over_100k_subjects_matches_weights() -> None:
    for weights in ([1, 1], [1, 3], [2, 3, 5]):
        counts = split(weights)
        total = sum(weights)
        expected = [100_000 * w / total for w in weights]
        assert chisquare(counts, expected).pvalue > 0.001, (weights, counts)


def test_a_planted_skew_is_detected_by_the_same_check() -> None:
    # The check above can fail: a 1:1 split judged against 45:55 weights is rejected.
    counts = split([1, 1])
    assert chisquare(counts, [45_000, 55_000]).pvalue < 0.001
