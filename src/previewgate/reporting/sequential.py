"""Always-valid inference for a difference of two means (normal approximation).

Mixture sequential probability ratio test (mSPRT) with a normal mixing distribution,
Johari, Pekelis & Walsh, "Always valid inference: continuous monitoring of A/B tests",
Operations Research 70(3), 2022 (arXiv:1512.04922); Johari, Koomen, Pekelis & Walsh,
"Peeking at A/B tests", KDD 2017.  Let ``d`` be the estimated difference, ``V`` its
variance and ``tau_abs^2`` the mixing variance (prior N(0, tau_abs^2) on the effect).
The mixture likelihood ratio against H0: effect = 0 is

    Lambda = sqrt(V / (V + tau_abs^2)) * exp(tau_abs^2 d^2 / (2 V (V + tau_abs^2)))

and the always-valid p-value is ``min(1, 1 / Lambda)``.  Inverting ``Lambda >= 1/alpha``
over the null value gives the confidence sequence (Johari et al. 2022; identical
to the two-sided normal-mixture boundary of Howard, Ramdas, McAuliffe & Sekhon,
"Time-uniform, nonparametric, nonasymptotic confidence sequences", Ann. Statist. 49(2),
2021, with rho = 1 / tau_abs^2):

    d +/- sqrt(V (V + tau_abs^2) / tau_abs^2 * (-2 log(alpha) + log((V + tau_abs^2) / V)))

Validity under continuous monitoring follows from Ville's inequality (Ville 1939): Lambda
is a nonnegative martingale under H0, so P(exists n: Lambda_n >= 1/alpha) <= alpha.  Each
look's values are therefore valid at every look; callers that keep history may also report
the running minimum p-value and the running intersection of intervals.  V is a plug-in
estimate (normal approximation, as in Johari et al.), so the guarantee is approximate at
small n; the A/A simulation tests check it empirically.

Mixing variance.  ``tau2`` is standardised: ``tau_abs^2 = tau2 * V / (1/n1 + 1/n2)``, i.e.
the prior SD of the effect is ``sqrt(tau2)`` per-observation standard deviations (Cohen's
d).  Then ``x = tau_abs^2 / V = tau2 * n1 n2 / (n1 + n2)`` depends only on sample sizes, the
same parametrisation as Johari et al. (V = 2 sigma^2 / n).  DEFAULT_TAU2 = 0.01 (prior SD
of 0.1 standard deviations: A/B effects are usually smaller than Cohen's "small" 0.2).  For
alpha = 0.05 the interval is narrowest near x ~ 8, i.e. about 1,600 observations per arm
for balanced arms; the width grows only logarithmically away from that point.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

DEFAULT_TAU2 = 0.01


def msprt(
    diff: npt.ArrayLike,
    var: npt.ArrayLike,
    n_eff: npt.ArrayLike,
    alpha: float,
    tau2: float = DEFAULT_TAU2,
) -> tuple[FloatArray, FloatArray]:
    """Return ``(p_value, half_width)`` arrays; NaN where not computable.

    ``n_eff`` is ``n1 * n2 / (n1 + n2)``; everything broadcasts, so one call can score a
    whole simulation.
    """
    d = np.asarray(diff, dtype=np.float64)
    v = np.asarray(var, dtype=np.float64)
    x = tau2 * np.asarray(n_eff, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        z2 = d * d / v
        log_lr = 0.5 * (z2 * x / (1.0 + x) - np.log1p(x))
        # exp of a non-positive number: no overflow even for huge likelihood ratios.
        p = np.exp(-np.maximum(log_lr, 0.0))
        half = np.sqrt(v * (1.0 + 1.0 / x) * (-2.0 * np.log(alpha) + np.log1p(x)))
    bad = ~((v > 0) & np.isfinite(v) & (x > 0) & np.isfinite(d))
    return np.where(bad, np.nan, p), np.where(bad, np.nan, half)
