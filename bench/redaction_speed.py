"""Redactor speed in milliseconds per 10 kB of text, on three kinds of input.

- typical: 10 kB windows of this repository's own code, tests and docs (what a coding tool
  reads and writes), each with one labelled corpus case spliced in at a random line.
- corpus: 10 kB documents made only of corpus cases: every few lines a secret or a look-alike,
  far denser than real traffic (a worst case).
- clean: the same windows without a corpus case (the cost of finding nothing).

The redactor's own sources and tests are left out of the filler. Each document is timed
five times after a warm-up and the median taken. Run:
``PYTHONPATH=src python bench/redaction_speed.py``.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.redaction.corpus import HASH_KEY, load  # noqa: E402

from previewgate.redaction import redact  # noqa: E402

TEN_KB = 10 * 1024
DOCS = 200


def _filler() -> list[str]:
    files = [*ROOT.glob("src/**/*.py"), *ROOT.glob("tests/**/*.py"), *ROOT.glob("docs/**/*.md")]
    files.append(ROOT / "README.md")
    skip = ("redaction",)
    return [
        p.read_text(encoding="utf-8") for p in sorted(files) if not any(s in p.parts for s in skip)
    ]


def _window(rng: random.Random, sources: list[str]) -> str:
    text = rng.choice([s for s in sources if len(s) > TEN_KB] or sources)
    start = rng.randrange(0, max(1, len(text) - TEN_KB))
    return text[start : start + TEN_KB]


def _splice(rng: random.Random, window: str, case: str) -> str:
    lines = window.splitlines(keepends=True)
    at = rng.randrange(0, len(lines) + 1)
    doc = "".join(lines[:at]) + case + "\n" + "".join(lines[at:])
    return doc[: max(TEN_KB, len(case) + 1)]


def _ms_per_10kb(text: str, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        redact(text, hash_key=HASH_KEY)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3 * TEN_KB / len(text.encode())


def _report(name: str, docs: list[str]) -> None:
    for doc in docs[:20]:
        redact(doc)  # warm up RE2's lazily built automata
    values = sorted(_ms_per_10kb(d) for d in docs)
    p90 = values[int(0.9 * (len(values) - 1))]
    print(
        f"{name:<8} n={len(values):<4} median {statistics.median(values):.3f} ms/10 kB   "
        f"p90 {p90:.3f}   max {values[-1]:.3f}"
    )


def main() -> None:
    rng = random.Random(20261201)
    cases = [c.text for c in load()]
    sources = _filler()
    windows = [_window(rng, sources) for _ in range(DOCS)]
    _report("typical", [_splice(rng, w, rng.choice(cases)) for w in windows])
    corpus_docs = []
    for _ in range(DOCS):
        parts: list[str] = []
        while sum(len(p) + 1 for p in parts) < TEN_KB:
            parts.append(rng.choice(cases))
        corpus_docs.append("\n".join(parts)[:TEN_KB])
    _report("corpus", corpus_docs)
    _report("clean", windows)


if __name__ == "__main__":
    main()
