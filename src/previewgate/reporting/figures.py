"""Plain figures the reporting queries return, and the percentile definition they share."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from typing import Literal

Subject = Literal["user", "machine", "ip"]
PERCENTILES = (0.5, 0.95)
PERCENTILE_METRICS = ("ttfb_ms", "total_ms")


@dataclass(frozen=True)
class StatsFilter:
    since: datetime | None = None
    until: datetime | None = None
    allocation_subject: Subject | None = None


@dataclass
class Moments:
    """Exact integer moments of one metric: count, sum and sum of squares."""

    n: int = 0
    total: int = 0
    squares: int = 0

    def __add__(self, other: Moments) -> Moments:
        return Moments(self.n + other.n, self.total + other.total, self.squares + other.squares)

    @property
    def mean(self) -> float | None:
        return self.total / self.n if self.n else None

    @property
    def variance(self) -> float | None:
        """Sample variance (ddof = 1): ``(n S2 - S1^2) / (n (n - 1))``, exact in integers."""
        if self.n < 2:
            return None
        return float(Fraction(self.n * self.squares - self.total**2, self.n * (self.n - 1)))


def _no_percentiles() -> dict[str, dict[float, float | None]]:
    return {name: dict.fromkeys(PERCENTILES) for name in PERCENTILE_METRICS}


@dataclass
class VersionStats:
    variant_version_id: uuid.UUID
    requests: int = 0
    errors: int = 0
    messages: int = 0
    subjects: int = 0
    ttfb_ms: Moments = field(default_factory=Moments)
    total_ms: Moments = field(default_factory=Moments)
    input_tokens: Moments = field(default_factory=Moments)
    output_tokens: Moments = field(default_factory=Moments)
    # {"ttfb_ms": {0.5: p50, 0.95: p95}, "total_ms": {...}}; None without values
    percentiles: dict[str, dict[float, float | None]] = field(default_factory=_no_percentiles)
    thumbs_up: int = 0
    thumbs_down: int = 0


def interpolate(sorted_values: Mapping[int, float] | Sequence[float], n: int, p: float) -> float:
    """percentile_cont from the values at ranks floor(h) and floor(h) + 1, h = p (n - 1)."""
    h = p * (n - 1)
    lower = int(h)
    low = sorted_values[lower]
    if h == lower:
        return low
    return low + (h - lower) * (sorted_values[lower + 1] - low)
