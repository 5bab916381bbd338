"""Intervals are clipped to the range their quantity can take, and say so."""

from __future__ import annotations

import dataclasses
import json
import math

from hypothesis import given
from hypothesis import strategies as st

from previewgate.reporting.inference import (
    NON_NEGATIVE,
    Interval,
    clip,
    compare_means,
    compare_means_from_summary,
    compare_rates,
)


def test_clip_labels_the_bounds_it_cuts() -> None:
    assert clip(None, 0, 1) is None
    assert clip(Interval(0.2, 0.4), 0, 1) == Interval(0.2, 0.4, False, False)
    assert clip(Interval(-1.169, 1.351), -1, 1) == Interval(-1.0, 1.0, True, True)
    assert clip(Interval(-3.0, 5.0), 0, math.inf) == Interval(0.0, 5.0, True, False)
    # Clipping twice keeps the labels.
    assert clip(clip(Interval(-2, 0.5), -1, 1), -1, 1) == Interval(-1, 0.5, True, False)


def test_a_small_rate_difference_stays_within_minus_one_and_one() -> None:
    # The report's example: 2 of 3 vs 1 of 4 errors, an always-valid interval far wider
    # than the difference can be.
    found = compare_rates(1, 4, 2, 3)
    assert found.interval is not None
    assert (found.interval.lower, found.interval.upper) == (-1.0, 1.0)
    assert found.interval.lower_clipped and found.interval.upper_clipped
    assert found.p_value is not None  # the test itself is untouched
    json.dumps(dataclasses.asdict(found), allow_nan=False)
    wide = compare_rates(1, 4, 2, 3, mode="fixed_horizon")
    assert wide.interval is not None and -1 <= wide.interval.lower <= wide.interval.upper <= 1


@given(
    st.integers(0, 40).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
    st.integers(0, 40).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
    st.sampled_from(["sequential", "fixed_horizon"]),
)
def test_rate_intervals_never_leave_their_range(
    control: tuple[int, int], treatment: tuple[int, int], mode: str
) -> None:
    found = compare_rates(*control, *treatment, mode=mode)  # type: ignore[arg-type]
    if found.interval is not None:
        assert -1.0 <= found.interval.lower <= found.interval.upper <= 1.0
        # A bound labelled clipped sits on the range's edge.
        assert found.interval.lower_clipped <= (found.interval.lower == -1.0)
        assert found.interval.upper_clipped <= (found.interval.upper == 1.0)
    for arm in (found.control, found.treatment):
        if arm.interval is not None:
            assert 0.0 <= arm.interval.lower <= arm.interval.upper <= 1.0
            assert not (arm.interval.lower_clipped or arm.interval.upper_clipped)  # Wilson


def test_mean_arms_of_latencies_stop_at_zero() -> None:
    # Skewed latencies: a t interval around a small mean reaches below zero.
    found = compare_means([5, 6, 900], [7, 8, 9, 4000], value_range=NON_NEGATIVE)
    for arm in (found.control, found.treatment):
        assert arm.interval is not None and arm.interval.lower == 0.0
        assert arm.interval.lower_clipped and not arm.interval.upper_clipped
    # A difference of non-negative means is unbounded either way: never clipped.
    assert found.interval is not None and found.interval.lower < 0 < found.interval.upper
    assert not (found.interval.lower_clipped or found.interval.upper_clipped)
    # Bounded values bound the difference: [lo - hi, hi - lo].
    bounded = compare_means([0, 1, 0, 1], [1, 0, 1, 1], value_range=(0.0, 1.0))
    assert bounded.interval is not None
    assert bounded.interval.lower >= -1.0 and bounded.interval.upper <= 1.0
    # Without a range nothing is clipped, and arms without two values have no interval.
    plain = compare_means_from_summary(1, 5.0, None, 3, 2.0, 1.0)
    assert plain.control.interval is None and plain.treatment.interval is not None
    assert not plain.treatment.interval.lower_clipped
