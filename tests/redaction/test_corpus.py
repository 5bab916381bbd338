"""The labelled corpus: each case's secrets are gone and typed, its hard negatives survive,
and the figures published in the README hold."""

from __future__ import annotations

import pytest

from previewgate.redaction import redact
from tests.redaction.corpus import HASH_KEY, Case, evaluate, load

CASES = load()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case: Case) -> None:
    text, findings = redact(case.text, hash_key=HASH_KEY)
    for label in case.positives:
        if label.known_miss:
            continue
        value = case.text[label.start : label.end]
        covering = [f for f in findings if f.start <= label.start and label.end <= f.end]
        overlapping = [f for f in findings if f.start < label.end and label.start < f.end]
        assert covering or _covered(label.start, label.end, findings), f"left in place: {value!r}"
        assert label.category in {f.category for f in overlapping}, (
            f"{value!r} redacted as {sorted({f.category for f in overlapping})}, "
            f"expected {label.category}"
        )
        if len(value) >= 8:
            assert value not in text
    for label in case.negatives:
        value = case.text[label.start : label.end]
        hit = [f.category for f in findings if f.start < label.end and label.start < f.end]
        assert not hit, f"hard negative {label.category} {value!r} redacted as {hit}"
        assert value in text


def _covered(start: int, end: int, findings: list) -> bool:
    position = start
    for f in sorted(findings, key=lambda f: f.start):
        if f.start <= position < f.end:
            position = f.end
    return position >= end


def test_corpus_size() -> None:
    positives = sum(len(c.positives) for c in CASES)
    negatives = sum(len(c.negatives) for c in CASES)
    assert positives >= 150 and negatives >= 150
    assert len({label.category for c in CASES for label in c.positives}) >= 30


def test_figures() -> None:
    score = evaluate(CASES)
    assert score.recall() >= 0.97, score.misses + score.known_misses
    assert score.keep_rate() >= 0.98, score.lost
    assert score.unlabelled == 0, score.extra
    for category in score.positives:
        assert score.recall(category) >= 0.9, (category, score.misses + score.known_misses)
