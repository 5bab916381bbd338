from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from previewgate.reporting.inference import (
    Interval,
    _mean_core,
    _rate_core,
    compare_means,
    compare_means_from_summary,
    compare_rates,
    sample_ratio_mismatch,
    wilson_interval,
)
from previewgate.reporting.sequential import DEFAULT_TAU2

# Monte Carlo tolerance for a 5% rate estimated from 400 experiments.
N_EXP, N_BATCHES, BATCH = 400, 20, 100
SIM_BOUND = 0.05 + 3 * math.sqrt(0.05 * 0.95 / N_EXP)


def to_json(result: object) -> str:
    assert dataclasses.is_dataclass(result) and not isinstance(result, type)
    return json.dumps(dataclasses.asdict(result), allow_nan=False)


# --- known values -------------------------------------------------------------------------


@pytest.mark.parametrize(("x", "n", "conf"), [(81, 263, 0.95), (81, 263, 0.9), (0, 50, 0.95)])
def test_wilson_matches_scipy(x: int, n: int, conf: float) -> None:
    ci = stats.binomtest(x, n).proportion_ci(confidence_level=conf, method="wilson")
    got = wilson_interval(x, n, conf)
    assert got is not None
    assert got.lower == pytest.approx(ci.low, abs=1e-12)
    assert got.upper == pytest.approx(ci.high, abs=1e-12)


def test_welch_matches_scipy() -> None:
    rng = np.random.default_rng(7)
    control, treatment = rng.normal(100, 10, 45), rng.normal(106, 25, 60)
    res = compare_means(list(control), list(treatment), mode="fixed_horizon")
    ref = stats.ttest_ind(treatment, control, equal_var=False)
    ref_ci = ref.confidence_interval(0.95)
    assert res.mode == "fixed_horizon"
    assert res.p_value == pytest.approx(ref.pvalue, rel=1e-10)
    assert res.df == pytest.approx(ref.df, rel=1e-10)
    assert res.difference == pytest.approx(treatment.mean() - control.mean())
    assert res.interval is not None
    assert res.interval.lower == pytest.approx(ref_ci.low, rel=1e-10)
    assert res.interval.upper == pytest.approx(ref_ci.high, rel=1e-10)
    summary = compare_means_from_summary(
        45, control.mean(), control.var(ddof=1), 60, treatment.mean(), treatment.var(ddof=1),
        mode="fixed_horizon",
    )  # fmt: skip
    assert summary == res


def test_two_proportion_wald_known_value() -> None:
    # 100/1000 vs 130/1000: V = .1*.9/1000 + .13*.87/1000 = 2.031e-4, z = .03 / sqrt(V).
    res = compare_rates(100, 1000, 130, 1000, mode="fixed_horizon")
    se = math.sqrt(2.031e-4)
    assert res.difference == pytest.approx(0.03)
    assert res.p_value == pytest.approx(2 * stats.norm.sf(0.03 / se), rel=1e-9)
    assert res.p_value == pytest.approx(0.0353, abs=1e-4)
    assert res.interval is not None
    assert res.interval.lower == pytest.approx(0.03 - 1.959964 * se)
    assert res.interval.upper == pytest.approx(0.03 + 1.959964 * se)
    assert res.significant and not res.small_sample and res.tau2 is None
    assert res.control.interval == wilson_interval(100, 1000)


def test_msprt_matches_johari_closed_form() -> None:
    # Written in the paper's (V, tau^2) parametrisation, independently of the x = tau^2/V form.
    res = compare_rates(100, 1000, 130, 1000)
    var = 2.031e-4
    tau2_abs = DEFAULT_TAU2 * var / (1 / 1000 + 1 / 1000)
    lam = math.sqrt(var / (var + tau2_abs)) * math.exp(
        tau2_abs * 0.03**2 / (2 * var * (var + tau2_abs))
    )
    half = math.sqrt(
        var * (var + tau2_abs) / tau2_abs * (-2 * math.log(0.05) - math.log(var / (var + tau2_abs)))
    )
    assert res.mode == "sequential" and res.tau2 == DEFAULT_TAU2
    assert res.p_value == pytest.approx(min(1.0, 1 / lam), rel=1e-9)
    assert res.interval is not None
    assert res.interval.upper - 0.03 == pytest.approx(half, rel=1e-9)
    # Fixed horizon says significant; always-valid inference at this n does not.
    assert not res.significant


def test_sequential_detects_real_effect() -> None:
    assert compare_rates(1000, 10_000, 1300, 10_000).significant
    rng = np.random.default_rng(3)
    res = compare_means(list(rng.normal(0, 1, 5000)), list(rng.normal(0.2, 1, 5000)))
    assert res.significant and res.interval is not None and res.interval.lower > 0


# --- sample-ratio mismatch ----------------------------------------------------------------


def test_srm_matches_scipy_chisquare() -> None:
    observed, weights = [5100, 4900, 10_300], [1, 1, 2]
    res = sample_ratio_mismatch(observed, weights)
    total = sum(observed)
    ref = stats.chisquare(observed, [total / 4, total / 4, total / 2])
    assert res.chi2 == pytest.approx(ref.statistic)
    assert res.p_value == pytest.approx(ref.pvalue)
    assert res.df == 2 and res.expected == (5075.0, 5075.0, 10150.0)


def test_srm_flags_planted_60_40_split() -> None:
    res = sample_ratio_mismatch([6000, 4000], [50, 50])
    assert res.flagged and res.status == "mismatch"
    assert res.p_value is not None and res.p_value < 0.001


def test_srm_true_50_50_draw_not_flagged() -> None:
    a = int(np.random.default_rng(12345).binomial(10_000, 0.5))
    res = sample_ratio_mismatch([a, 10_000 - a], [50, 50])
    assert not res.flagged and res.status == "ok"


@pytest.mark.parametrize("observed", [[7, 500], [0, 0], [8, 7, 900]])
def test_srm_small_slot_is_insufficient_sample(observed: list[int]) -> None:
    res = sample_ratio_mismatch(observed, [1] * len(observed))
    assert res.status == "insufficient_sample"
    assert not res.flagged and res.p_value is None and res.chi2 is None
    to_json(res)


def test_srm_rejects_malformed_input() -> None:
    for observed, weights in [([10, 10], [1]), ([10], [1]), ([10, -1], [1, 1]), ([10, 10], [1, 0])]:
        with pytest.raises(ValueError):
            sample_ratio_mismatch(observed, weights)


# --- degenerate inputs and labelling ------------------------------------------------------


def test_degenerate_rates_give_none_not_nan() -> None:
    for args in [(0, 0, 0, 0), (0, 10, 0, 10), (10, 10, 20, 20), (0, 0, 5, 10)]:
        for mode in ("sequential", "fixed_horizon"):
            res = compare_rates(*args, mode=mode)
            assert res.p_value is None and res.interval is None and not res.significant
            assert res.small_sample
            to_json(res)
    one_sided = compare_rates(0, 500, 40, 500, mode="fixed_horizon")
    assert one_sided.p_value is not None  # one arm at 0% still has a defined variance


def test_degenerate_means_give_none_not_nan() -> None:
    cases: list[tuple[list[float], list[float]]] = [
        ([], []),
        ([1.0], [2.0, 3.0]),
        ([5.0] * 40, [5.0] * 40),
        ([float("nan"), 1.0], [1.0, 2.0]),
    ]
    for control, treatment in cases:
        for mode in ("sequential", "fixed_horizon"):
            res = compare_means(control, treatment, mode=mode)
            assert res.p_value is None and res.interval is None and not res.significant
            to_json(res)
    # One arm constant is fine: Welch uses the other arm's variance.
    res = compare_means([5.0] * 40, list(np.linspace(0, 10, 40)), mode="fixed_horizon")
    assert res.df == pytest.approx(39)


def test_small_sample_labelled_not_a_finding() -> None:
    rates = compare_rates(1, 20, 15, 20, mode="fixed_horizon")
    assert rates.p_value is not None and rates.p_value < 0.05
    assert rates.small_sample and not rates.significant
    means = compare_means([0.0, 0.1, 0.2] * 5, [10.0, 10.1, 10.2] * 5, mode="fixed_horizon")
    assert means.small_sample and not means.significant
    assert not compare_rates(10, 100, 10, 100).small_sample
    assert compare_rates(9, 100, 50, 100).small_sample


def test_invalid_arguments_raise() -> None:
    with pytest.raises(ValueError):
        compare_rates(11, 10, 1, 10)
    with pytest.raises(ValueError):
        compare_rates(1, 10, 1, 10, alpha=1.5)
    with pytest.raises(ValueError):
        compare_rates(1, 10, 1, 10, mode="bayesian")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        compare_means_from_summary(10, 0.0, -1.0, 10, 0.0, 1.0)
    assert wilson_interval(0, 0) is None


# --- properties ---------------------------------------------------------------------------


@st.composite
def counts(draw: st.DrawFn, max_n: int = 100_000) -> tuple[int, int]:
    n = draw(st.integers(0, max_n))
    return draw(st.integers(0, n)), n


@settings(deadline=None)
@given(counts(10**7), st.floats(0.5, 0.999))
def test_wilson_within_unit_interval_and_contains_estimate(xn: tuple[int, int], c: float) -> None:
    x, n = xn
    ci = wilson_interval(x, n, c)
    if n == 0:
        assert ci is None
        return
    assert ci is not None
    assert 0.0 <= ci.lower <= x / n <= ci.upper <= 1.0


def contains(outer: Interval | None, inner: Interval | None) -> bool:
    if outer is None or inner is None:
        return outer is None and inner is None
    slack = 1e-12 * (1.0 + abs(outer.lower) + abs(outer.upper))
    return outer.lower <= inner.lower + slack and outer.upper >= inner.upper - slack


@settings(deadline=None)
@given(counts(), counts(), st.floats(0.001, 0.5))
def test_rates_sequential_wider_than_fixed(
    c: tuple[int, int], t: tuple[int, int], alpha: float
) -> None:
    seq = compare_rates(*c, *t, alpha=alpha)
    fix = compare_rates(*c, *t, alpha=alpha, mode="fixed_horizon")
    assert seq.mode == "sequential" and fix.mode == "fixed_horizon"
    assert contains(seq.interval, fix.interval)
    for p in (seq.p_value, fix.p_value):
        assert p is None or 0.0 <= p <= 1.0
    if seq.p_value is not None and fix.p_value is not None:
        assert seq.p_value >= fix.p_value * (1 - 1e-9)
    to_json(seq)
    to_json(fix)


@settings(deadline=None)
@given(
    st.integers(0, 10**6),
    st.integers(0, 10**6),
    st.floats(-1e6, 1e6),
    st.floats(-1e6, 1e6),
    st.floats(0, 1e8),
    st.floats(0, 1e8),
    st.floats(0.001, 0.5),
)
def test_means_sequential_wider_than_fixed(
    n1: int, n2: int, m1: float, m2: float, v1: float, v2: float, alpha: float
) -> None:
    seq = compare_means_from_summary(n1, m1, v1, n2, m2, v2, alpha=alpha)
    fix = compare_means_from_summary(n1, m1, v1, n2, m2, v2, alpha=alpha, mode="fixed_horizon")
    assert contains(seq.interval, fix.interval)
    for p in (seq.p_value, fix.p_value):
        assert p is None or 0.0 <= p <= 1.0
    if seq.p_value is not None and fix.p_value is not None:
        assert seq.p_value >= fix.p_value * (1 - 1e-9)
    to_json(seq)
    to_json(fix)


# --- simulation: A/A experiments peeked at after every batch ------------------------------


def ever_significant(p: np.ndarray) -> float:
    # NaN (not computable) compares False, i.e. "not significant".
    return float(np.mean(np.any(p <= 0.05, axis=1)))


def test_core_is_what_public_functions_use() -> None:
    res = compare_rates(37, 400, 52, 410)
    d, p, half = _rate_core(37, 400, 52, 410, "sequential", 0.05, DEFAULT_TAU2)
    assert (res.difference, res.p_value) == (float(d), float(p))
    assert res.interval == Interval(float(d - half), float(d + half))
    m = compare_means_from_summary(300, 1.0, 4.0, 320, 1.3, 5.0, mode="fixed_horizon")
    d, p, _, df = _mean_core(300, 1.0, 4.0, 320, 1.3, 5.0, "fixed_horizon", 0.05, DEFAULT_TAU2)
    assert (m.p_value, m.df) == (float(p), float(df))


def test_aa_simulation_rates_sequential_controls_peeking() -> None:
    rng = np.random.default_rng(20240601)
    successes = rng.binomial(BATCH, 0.1, size=(N_EXP, N_BATCHES, 2)).cumsum(axis=1)
    n = BATCH * np.arange(1, N_BATCHES + 1)[None, :]
    x1, x2 = successes[..., 0], successes[..., 1]
    _, p_seq, _ = _rate_core(x1, n, x2, n, "sequential", 0.05, DEFAULT_TAU2)
    _, p_fix, _ = _rate_core(x1, n, x2, n, "fixed_horizon", 0.05, DEFAULT_TAU2)
    assert ever_significant(p_seq) <= SIM_BOUND
    assert ever_significant(p_fix) > 0.08  # peeking at fixed-horizon p-values inflates errors


def test_aa_simulation_means_sequential_controls_peeking() -> None:
    rng = np.random.default_rng(20240602)
    data = rng.normal(250.0, 40.0, size=(N_EXP, 2, N_BATCHES, BATCH))
    sums = data.sum(axis=3).cumsum(axis=2)
    sumsq = (data**2).sum(axis=3).cumsum(axis=2)
    n = BATCH * np.arange(1, N_BATCHES + 1)[None, :]
    mean = sums / n
    var = (sumsq - n * mean**2) / (n - 1)
    args = (n, mean[:, 0], var[:, 0], n, mean[:, 1], var[:, 1])
    _, p_seq, _, _ = _mean_core(*args, "sequential", 0.05, DEFAULT_TAU2)
    _, p_fix, _, _ = _mean_core(*args, "fixed_horizon", 0.05, DEFAULT_TAU2)
    assert ever_significant(p_seq) <= SIM_BOUND
    assert ever_significant(p_fix) > 0.08
