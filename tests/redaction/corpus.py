"""The labelled corpus: loading it and scoring the redactor on it.

Each ``corpus/*.yaml`` file is a list of cases: ``id``, ``kind`` (diff, log, config, shell,
trace, json, code, docs) and ``text``. Inside the text:

- ``⟦g NAME⟧`` / ``⟦g NAME#label⟧``: a generated fake value (``fakes.GENERATORS``); the same
  label in one case gives the same value, so a secret can appear twice.
- ``⟦s CATEGORY|value⟧``: ``value`` must be redacted, as a ``CATEGORY`` marker.
- ``⟦k KIND|value⟧``: ``value`` must survive (a hard negative of the given kind).
- ``⟦x CATEGORY|value⟧``: should be redacted but is a known limitation (a UK number in
  national format, user names listed without a path). Counted in the figures as a positive;
  the per-case test does not insist on it.

The markers are removed; their spans in the plain text are the labels.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from previewgate.redaction import Finding, redact
from tests.redaction.fakes import generate

CORPUS = Path(__file__).parent / "corpus"
HASH_KEY = b"corpus-partner-key"
_GEN = re.compile(r"⟦g ([a-z0-9_]+)(?:#([\w-]+))?⟧")
_LABEL = re.compile(r"⟦([skx]) ([a-z0-9_]+)\|(.*?)⟧", re.DOTALL)


@dataclass(frozen=True)
class Label:
    start: int
    end: int
    category: str
    known_miss: bool = False


@dataclass(frozen=True)
class Case:
    id: str
    kind: str
    text: str
    positives: tuple[Label, ...]
    negatives: tuple[Label, ...]


def _expand(case_id: str, text: str) -> str:
    counter = Counter[str]()

    def value(m: re.Match[str]) -> str:
        name, label = m.group(1), m.group(2)
        if label is None:
            counter[name] += 1
            label = str(counter[name])
        return generate(name, f"{case_id}/{name}/{label}")

    return _GEN.sub(value, text)


def parse(case_id: str, kind: str, raw: str) -> Case:
    text = _expand(case_id, raw)
    plain: list[str] = []
    positives: list[Label] = []
    negatives: list[Label] = []
    position = 0
    length = 0
    for m in _LABEL.finditer(text):
        plain.append(text[position : m.start()])
        length += m.start() - position
        label = Label(length, length + len(m.group(3)), m.group(2), m.group(1) == "x")
        (negatives if m.group(1) == "k" else positives).append(label)
        plain.append(m.group(3))
        length += len(m.group(3))
        position = m.end()
    plain.append(text[position:])
    out = "".join(plain)
    if "⟦" in out or "⟧" in out:
        raise ValueError(f"{case_id}: unbalanced marker")
    return Case(case_id, kind, out, tuple(positives), tuple(negatives))


def load() -> list[Case]:
    cases = []
    for path in sorted(CORPUS.glob("*.yaml")):
        for item in yaml.safe_load(path.read_text(encoding="utf-8")):
            cases.append(parse(item["id"], item["kind"], item["text"]))
    ids = [c.id for c in cases]
    if len(ids) != len(set(ids)):
        raise ValueError("duplicate case ids")
    return cases


@dataclass
class Score:
    positives: Counter[str] = field(default_factory=Counter)
    found: Counter[str] = field(default_factory=Counter)  # gone and typed right
    gone_mistyped: Counter[str] = field(default_factory=Counter)
    negatives: Counter[str] = field(default_factory=Counter)
    kept: Counter[str] = field(default_factory=Counter)
    unlabelled: int = 0  # redactions that overlap no positive label
    misses: list[str] = field(default_factory=list)
    known_misses: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)

    def recall(self, category: str | None = None) -> float:
        if category is None:
            return sum(self.found.values()) / max(1, sum(self.positives.values()))
        return self.found[category] / max(1, self.positives[category])

    def keep_rate(self, kind: str | None = None) -> float:
        if kind is None:
            return sum(self.kept.values()) / max(1, sum(self.negatives.values()))
        return self.kept[kind] / max(1, self.negatives[kind])


def _covered(label: Label, spans: list[tuple[int, int]]) -> bool:
    position = label.start
    for start, end in spans:
        if start <= position < end:
            position = end
        if position >= label.end:
            return True
    return position >= label.end


def judge(case: Case, findings: list[Finding], score: Score) -> None:
    spans = sorted((f.start, f.end) for f in findings)
    by_category: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        by_category[f.category].append(f)
    for label in case.positives:
        score.positives[label.category] += 1
        gone = _covered(label, spans)
        typed = any(
            f.start < label.end and label.start < f.end for f in by_category[label.category]
        )
        if gone and typed:
            score.found[label.category] += 1
        else:
            if gone:
                score.gone_mistyped[label.category] += 1
            got = sorted(
                {f.category for f in findings if f.start < label.end and label.start < f.end}
            )
            line = (
                f"{case.id}: {label.category} {case.text[label.start : label.end][:60]!r} -> {got}"
            )
            (score.known_misses if label.known_miss else score.misses).append(line)
    for label in case.negatives:
        score.negatives[label.category] += 1
        hit = [f for f in findings if f.start < label.end and label.start < f.end]
        if hit:
            score.lost.append(
                f"{case.id}: {label.category} {case.text[label.start : label.end][:60]!r} "
                f"<- {sorted({f.category for f in hit})}"
            )
        else:
            score.kept[label.category] += 1
    for f in findings:
        if not any(f.start < p.end and p.start < f.end for p in case.positives):
            score.unlabelled += 1
            score.extra.append(f"{case.id}: {f.category} {case.text[f.start : f.end][:60]!r}")


def evaluate(cases: list[Case]) -> Score:
    score = Score()
    for case in cases:
        _, findings = redact(case.text, hash_key=HASH_KEY)
        judge(case, findings, score)
    return score
