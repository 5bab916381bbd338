"""Recall per category and keep-rate per kind of hard negative on the labelled corpus, as the
Markdown tables in the README. Run: ``PYTHONPATH=src python -m tests.redaction.figures``."""

from __future__ import annotations

import textwrap

from tests.redaction.corpus import Score, evaluate, load


def tables(score: Score) -> str:
    summary = (
        f"{sum(score.positives.values())} secrets in {len(score.positives)} categories: "
        f"recall {score.recall():.3f}. {sum(score.negatives.values())} hard negatives of "
        f"{len(score.negatives)} kinds: keep-rate {score.keep_rate():.3f}. Redactions of "
        f"unlabelled text: {score.unlabelled}."
    )
    lines = [
        *textwrap.wrap(summary, 95),
        "",
        "| category | n | recall | | category | n | recall |",
        "|---|---:|---:|---|---|---:|---:|",
    ]
    rows = [
        f"`{c}` | {score.positives[c]} | {score.recall(c):.2f}" for c in sorted(score.positives)
    ]
    half = (len(rows) + 1) // 2
    for left, right in zip(rows[:half], [*rows[half:], " | | "], strict=False):
        lines.append(f"| {left} | | {right} |")
    lines += [
        "",
        "| hard negative | n | kept | | hard negative | n | kept |",
        "|---|---:|---:|---|---|---:|---:|",
    ]
    rows = [
        f"{k} | {score.negatives[k]} | {score.keep_rate(k):.2f}" for k in sorted(score.negatives)
    ]
    half = (len(rows) + 1) // 2
    for left, right in zip(rows[:half], [*rows[half:], " | | "], strict=False):
        lines.append(f"| {left} | | {right} |")
    return "\n".join(lines)


def main() -> None:
    score = evaluate(load())
    print(tables(score))
    for title, items in (
        ("missed", score.misses),
        ("known limitations (missed)", score.known_misses),
        ("negatives lost", score.lost),
        ("unlabelled redactions", score.extra),
    ):
        if items:
            print(f"\n{title}:")
            print("\n".join(f"  {item}" for item in items))


if __name__ == "__main__":
    main()
