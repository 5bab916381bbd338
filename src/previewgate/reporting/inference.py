"""Statistics for live experiment reports: pure functions returning JSON-ready dataclasses.

Every comparison is ``treatment - control``.  Results carry ``mode``: "sequential" (default,
always valid under continuous monitoring, see ``sequential.py``) or "fixed_horizon" (valid
only if looked at once, at a sample size fixed in advance).

Formulas and sources (all distribution functions come from scipy.stats):

* Wilson score interval for one rate (Wilson, "Probable inference, the law of succession,
  and statistical inference", JASA 22, 1927; Brown, Cai & DasGupta, Stat. Sci. 16, 2001),
  with ``p = x / n`` and ``z = Phi^-1(1 - alpha / 2)``::

      (p + z^2 / 2n  +/-  z sqrt(p (1 - p) / n + z^2 / 4n^2)) / (1 + z^2 / n)

* Difference of two rates, fixed horizon: Wald z with the unpooled variance
  ``V = p1 (1 - p1) / n1 + p2 (1 - p2) / n2``; interval ``d +/- z sqrt(V)``, p-value
  ``2 (1 - Phi(|d| / sqrt(V)))`` (Agresti, Categorical Data Analysis, 3rd ed., 2013;
  Newcombe, Stat. Med. 17, 1998).  The same V serves test and interval, so the interval
  excludes 0 exactly when p < alpha.
* Difference of two means, fixed horizon: Welch's t (Welch, Biometrika 34, 1947) with the
  Welch-Satterthwaite df (Satterthwaite, Biometrics Bulletin 2, 1946)::

      V = s1^2 / n1 + s2^2 / n2,  df = V^2 / ((s1^2/n1)^2 / (n1-1) + (s2^2/n2)^2 / (n2-1))

* Sequential (default): the normal-mixture mSPRT of Johari, Pekelis & Walsh (2022) applied
  to the same ``d`` and ``V``; formulas in ``sequential.py``.  For means the normal
  approximation ignores the t-uncertainty of s^2 at tiny n, so the sequential p-value and
  half-width are each at least Welch's (never less conservative than a single look).
* Sample-ratio mismatch: Pearson's chi-square goodness of fit (Pearson 1900), df = k - 1,
  of unique subjects per slot against ``N w_i / sum(w)``; flag at p < 0.001 following
  Fabijan et al., "Diagnosing sample ratio mismatch in online controlled experiments",
  KDD 2019, and Kohavi, Tang & Xu, Trustworthy Online Controlled Experiments, 2020, ch. 21.

Per-arm intervals (Wilson for rates, Student t for means) are descriptive fixed-horizon
intervals in both modes.

Intervals are clipped to the range the quantity can take (a confidence interval intersected
with the parameter space keeps its coverage): a rate to [0, 1], a difference of two rates to
[-1, 1], a mean to the values' range (e.g. latencies and token counts >= 0, ``value_range``)
and a difference of means to [lo - hi, hi - lo] of that range.  A clipped bound says so
(``lower_clipped`` / ``upper_clipped``): the computed bound lay outside the range, so the
interval is really one-sided there.  Values that
cannot be computed (n = 0, zero variance) are None, never NaN, so ``dataclasses.asdict`` of
any result passes ``json.dumps(..., allow_nan=False)``.  Invalid arguments (negative counts,
successes > n, alpha outside (0, 1), unknown mode) raise ValueError.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import stats

from previewgate.reporting.sequential import DEFAULT_TAU2, FloatArray, msprt

Mode = Literal["sequential", "fixed_horizon"]
SrmStatus = Literal["ok", "mismatch", "insufficient_sample"]

MIN_MEAN_N = 30  # per arm, below which a mean comparison is labelled small_sample
MIN_RATE_EVENTS = 10  # successes and failures per arm for the normal approximation
SRM_MIN_SUBJECTS = 8  # per slot, below which SRM reports insufficient_sample


@dataclass(frozen=True)
class Interval:
    lower: float
    upper: float
    lower_clipped: bool = False  # the computed bound lay below the quantity's range
    upper_clipped: bool = False  # ... above it


NON_NEGATIVE = (0.0, math.inf)  # latencies, token counts
UNBOUNDED = (-math.inf, math.inf)


def clip(interval: Interval | None, low: float, high: float) -> Interval | None:
    """``interval`` limited to ``[low, high]``, its clipped bounds labelled as such."""
    if interval is None:
        return None
    return Interval(
        max(interval.lower, low),
        min(interval.upper, high),
        interval.lower_clipped or interval.lower < low,
        interval.upper_clipped or interval.upper > high,
    )


@dataclass(frozen=True)
class RateArm:
    successes: int
    n: int
    rate: float | None
    interval: Interval | None  # Wilson, fixed horizon, confidence 1 - alpha


@dataclass(frozen=True)
class RateComparison:
    mode: Mode
    alpha: float
    control: RateArm
    treatment: RateArm
    difference: float | None  # treatment rate - control rate
    interval: Interval | None
    p_value: float | None
    small_sample: bool
    significant: bool  # p <= alpha and not small_sample
    tau2: float | None  # standardised mixing variance (sequential mode only)


@dataclass(frozen=True)
class MeanArm:
    n: int
    mean: float | None
    variance: float | None  # sample variance (ddof=1)
    interval: Interval | None = None  # Student t, fixed horizon, clipped to the value range


@dataclass(frozen=True)
class MeanComparison:
    mode: Mode
    alpha: float
    control: MeanArm
    treatment: MeanArm
    difference: float | None  # treatment mean - control mean
    interval: Interval | None
    p_value: float | None
    df: float | None  # Welch-Satterthwaite df (fixed_horizon mode only)
    small_sample: bool
    significant: bool
    tau2: float | None


@dataclass(frozen=True)
class SrmResult:
    status: SrmStatus
    flagged: bool
    chi2: float | None
    p_value: float | None
    df: int
    threshold: float
    observed: tuple[int, ...]
    expected: tuple[float, ...]


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _interval(centre: float, half: float) -> Interval | None:
    if not (math.isfinite(centre) and math.isfinite(half)):
        return None
    return Interval(centre - half, centre + half)


def _check_common(mode: str, alpha: float, tau2: float) -> None:
    if mode not in ("sequential", "fixed_horizon"):
        raise ValueError(f"unknown mode {mode!r}")
    if not 0.0 < alpha < 1.0:
        raise ValueError("alpha must be in (0, 1)")
    if not tau2 > 0.0:
        raise ValueError("tau2 must be positive")


def _check_count(successes: int, n: int) -> None:
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got {successes}/{n}")


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> Interval | None:
    """Wilson score interval for ``successes / n``; None when n == 0."""
    _check_count(successes, n)
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be in (0, 1)")
    if n == 0:
        return None
    z = float(stats.norm.ppf(0.5 + confidence / 2.0))
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2.0 * n)) / denom
    half = z / denom * math.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n))
    # Exact bounds at the edges; clipping only removes floating-point overshoot.
    lower = 0.0 if successes == 0 else max(0.0, centre - half)
    upper = 1.0 if successes == n else min(1.0, centre + half)
    return Interval(lower, upper)


def _rate_core(
    x1: npt.ArrayLike,
    n1: npt.ArrayLike,
    x2: npt.ArrayLike,
    n2: npt.ArrayLike,
    mode: Mode,
    alpha: float,
    tau2: float,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Array-capable core of ``compare_rates``: ``(difference, p_value, half_width)``."""
    c_x, c_n = np.asarray(x1, np.float64), np.asarray(n1, np.float64)
    t_x, t_n = np.asarray(x2, np.float64), np.asarray(n2, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p2 = c_x / c_n, t_x / t_n
        diff = p2 - p1
        var = p1 * (1.0 - p1) / c_n + p2 * (1.0 - p2) / t_n
        if mode == "sequential":
            p, half = msprt(diff, var, c_n * t_n / (c_n + t_n), alpha, tau2)
        else:
            p = 2.0 * stats.norm.sf(np.abs(diff) / np.sqrt(var))
            half = float(stats.norm.ppf(1.0 - alpha / 2.0)) * np.sqrt(var)
    bad = ~(var > 0)  # 0/n vs 0/n (or all successes): no information about a difference
    return diff, np.where(bad, np.nan, p), np.where(bad, np.nan, half)


def compare_rates(
    control_successes: int,
    control_n: int,
    treatment_successes: int,
    treatment_n: int,
    *,
    mode: Mode = "sequential",
    alpha: float = 0.05,
    tau2: float = DEFAULT_TAU2,
) -> RateComparison:
    """Compare treatment's rate with control's (difference = treatment - control)."""
    _check_common(mode, alpha, tau2)
    _check_count(control_successes, control_n)
    _check_count(treatment_successes, treatment_n)
    diff, p, half = (
        float(a)
        for a in _rate_core(
            control_successes, control_n, treatment_successes, treatment_n, mode, alpha, tau2
        )
    )
    c_fail, t_fail = control_n - control_successes, treatment_n - treatment_successes
    small = min(control_successes, c_fail, treatment_successes, t_fail) < MIN_RATE_EVENTS
    p_value = _finite(min(p, 1.0))

    def arm(x: int, n: int) -> RateArm:
        return RateArm(x, n, x / n if n else None, wilson_interval(x, n, 1.0 - alpha))

    return RateComparison(
        mode=mode,
        alpha=alpha,
        control=arm(control_successes, control_n),
        treatment=arm(treatment_successes, treatment_n),
        difference=_finite(diff),
        interval=clip(_interval(diff, half), -1.0, 1.0),
        p_value=p_value,
        small_sample=small,
        significant=p_value is not None and p_value <= alpha and not small,
        tau2=tau2 if mode == "sequential" else None,
    )


def _mean_core(
    n1: npt.ArrayLike,
    mean1: npt.ArrayLike,
    var1: npt.ArrayLike,
    n2: npt.ArrayLike,
    mean2: npt.ArrayLike,
    var2: npt.ArrayLike,
    mode: Mode,
    alpha: float,
    tau2: float,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Array-capable core of the mean comparisons: ``(difference, p, half_width, df)``."""
    c_n, t_n = np.asarray(n1, np.float64), np.asarray(n2, np.float64)
    diff = np.asarray(mean2, np.float64) - np.asarray(mean1, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(c_n >= 2, np.asarray(var1, np.float64) / c_n, np.nan)
        b = np.where(t_n >= 2, np.asarray(var2, np.float64) / t_n, np.nan)
        var = a + b
        df = var * var / (a * a / (c_n - 1.0) + b * b / (t_n - 1.0))
        se = np.sqrt(var)
        p = 2.0 * stats.t.sf(np.abs(diff) / se, df)
        half = stats.t.ppf(1.0 - alpha / 2.0, df) * se
        if mode == "sequential":
            p_seq, half_seq = msprt(diff, var, c_n * t_n / (c_n + t_n), alpha, tau2)
            # np.maximum propagates NaN, so "not computable" stays not computable.
            p, half = np.maximum(p, p_seq), np.maximum(half, half_seq)
    bad = ~((var > 0) & np.isfinite(diff))
    return diff, np.where(bad, np.nan, p), np.where(bad, np.nan, half), np.where(bad, np.nan, df)


def compare_means_from_summary(
    n1: int,
    mean1: float | None,
    var1: float | None,
    n2: int,
    mean2: float | None,
    var2: float | None,
    *,
    mode: Mode = "sequential",
    alpha: float = 0.05,
    tau2: float = DEFAULT_TAU2,
    value_range: tuple[float, float] = UNBOUNDED,
) -> MeanComparison:
    """Compare means from per-arm (n, mean, sample variance with ddof=1); arm 1 is control.

    None (e.g. SQL NULL for n < 2) is accepted for a mean or variance.  ``value_range`` is
    the range individual values can take (``NON_NEGATIVE`` for latencies and counts): arm
    intervals are clipped to it, the difference's to ``[lo - hi, hi - lo]``.
    """
    _check_common(mode, alpha, tau2)
    if n1 < 0 or n2 < 0:
        raise ValueError("n must be >= 0")
    if (var1 is not None and var1 < 0) or (var2 is not None and var2 < 0):
        raise ValueError("variance must be >= 0")

    def f(x: float | None) -> float:
        return math.nan if x is None else float(x)

    diff, p, half, df = (
        float(a)
        for a in _mean_core(n1, f(mean1), f(var1), n2, f(mean2), f(var2), mode, alpha, tau2)
    )
    small = min(n1, n2) < MIN_MEAN_N
    p_value = _finite(min(p, 1.0))
    low, high = value_range

    def arm(n: int, mean: float | None, var: float | None) -> MeanArm:
        interval = clip(_mean_interval(n, f(mean), f(var), alpha), low, high)
        return MeanArm(n, _finite(f(mean)), _finite(f(var)) if n >= 2 else None, interval)

    return MeanComparison(
        mode=mode,
        alpha=alpha,
        control=arm(n1, mean1, var1),
        treatment=arm(n2, mean2, var2),
        difference=_finite(diff),
        interval=clip(_interval(diff, half), low - high, high - low),
        p_value=p_value,
        df=_finite(df) if mode == "fixed_horizon" else None,
        small_sample=small,
        significant=p_value is not None and p_value <= alpha and not small,
        tau2=tau2 if mode == "sequential" else None,
    )


def _mean_interval(n: int, mean: float, var: float, alpha: float) -> Interval | None:
    """Student t interval for one mean; None below two values or without a variance."""
    if n < 2 or not (math.isfinite(mean) and math.isfinite(var)):
        return None
    half = float(stats.t.ppf(1.0 - alpha / 2.0, n - 1)) * math.sqrt(var / n)
    return _interval(mean, half)


def compare_means(
    control: Sequence[float],
    treatment: Sequence[float],
    *,
    mode: Mode = "sequential",
    alpha: float = 0.05,
    tau2: float = DEFAULT_TAU2,
    value_range: tuple[float, float] = UNBOUNDED,
) -> MeanComparison:
    """Compare the mean of ``treatment`` with that of ``control`` (Welch / mSPRT)."""

    def summary(xs: Sequence[float]) -> tuple[int, float | None, float | None]:
        arr = np.asarray(xs, dtype=np.float64)
        n = int(arr.size)
        mean = float(arr.mean()) if n >= 1 else None
        return n, mean, float(arr.var(ddof=1)) if n >= 2 else None

    return compare_means_from_summary(
        *summary(control),
        *summary(treatment),
        mode=mode,
        alpha=alpha,
        tau2=tau2,
        value_range=value_range,
    )


def sample_ratio_mismatch(
    observed: Sequence[int], weights: Sequence[float], threshold: float = 0.001
) -> SrmResult:
    """Chi-square goodness of fit of unique subjects per slot against the slot weights."""
    if len(observed) != len(weights) or len(observed) < 2:
        raise ValueError("need at least two slots and one weight per slot")
    if min(observed) < 0 or min(weights) <= 0:
        raise ValueError("observed must be >= 0 and weights > 0")
    obs = np.asarray(observed, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    expected = obs.sum() * w / w.sum()
    df = len(observed) - 1

    def result(status: SrmStatus, chi2: float | None, p: float | None) -> SrmResult:
        return SrmResult(
            status=status,
            flagged=status == "mismatch",
            chi2=chi2,
            p_value=p,
            df=df,
            threshold=threshold,
            observed=tuple(int(o) for o in observed),
            expected=tuple(float(e) for e in expected),
        )

    if min(observed) < SRM_MIN_SUBJECTS:
        # Too few subjects in some slot for the chi-square approximation: not a finding.
        return result("insufficient_sample", None, None)
    chi2 = float(np.sum((obs - expected) ** 2 / expected))
    p = float(stats.chi2.sf(chi2, df))
    return result("mismatch" if p < threshold else "ok", chi2, p)
