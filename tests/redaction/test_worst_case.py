"""Cost grows linearly with the text, also for text made to provoke the rules: ten times the
text takes about ten times as long (a quadratic rule would take a hundred)."""

from __future__ import annotations

import time

import pytest

from previewgate.redaction import redact

UNITS = {
    "assignments": "key=",
    "yaml passwords": "password: x ",
    "block scalars": "password: | ",
    "secret manifests": "kind: Secret\n",
    "dotted numbers": "1.",
    "colons": "a1::",
    "tokens": "token=abcdef1234567890",
    "url credentials": "https://u:p@h ",
    "pem headers": "-----BEGIN RSA PRIVATE KEY-----",
    "markers": "[REDACTED:password]",
}


def _seconds(text: str) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        redact(text)
        best = min(best, time.perf_counter() - start)
    return best


@pytest.mark.parametrize("unit", list(UNITS.values()), ids=list(UNITS))
def test_linear(unit: str) -> None:
    small = unit * (20_000 // len(unit))
    large = unit * (200_000 // len(unit))
    ratio = _seconds(large) / max(_seconds(small), 1e-4)
    assert ratio < 30, ratio
