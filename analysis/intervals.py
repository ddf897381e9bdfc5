"""Confidence intervals for shares and means, vectorised over any number of estimates.

Every function takes arrays (or scalars) that broadcast together and returns ``(low, high)``.
All quantiles are Student's t on the design degrees of freedom, as R survey does when it is
given ``df = degf(design)``. An interval whose degrees of freedom are not positive is NaN.
"""

from __future__ import annotations

import numpy as np
from scipy import special

PROPORTION_METHODS = ("wilson", "korn-graubard", "logit", "wald")


def check_level(level: float) -> float:
    """Return ``level`` as a float, or raise ValueError when it is not inside (0, 1)."""
    level = float(level)
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be inside (0, 1), got {level!r}")
    return level


def check_method(method: str) -> str:
    """Return ``method``, or raise ValueError when it is not a known proportion interval."""
    if method not in PROPORTION_METHODS:
        known = ", ".join(PROPORTION_METHODS)
        raise ValueError(f"unknown method {method!r}; choose one of {known}")
    return method


def t_quantile(level: float, df: np.ndarray) -> np.ndarray:
    """Two-sided Student's t quantile for ``level``; NaN where ``df`` is not positive."""
    df = np.asarray(df, dtype=float)
    q = 0.5 + level / 2.0
    valid = df > 0
    # stdtrit on a few distinct df values is much cheaper than on every domain.
    safe = np.where(valid, df, 1.0)
    uniq, inverse = np.unique(safe, return_inverse=True)
    t = special.stdtrit(uniq, q)[inverse].reshape(safe.shape)
    return np.where(valid, t, np.nan)


def mean_interval(value, se, df, level: float = 0.95, bounds=None):
    """The t interval ``value ± t(df) · se`` (R's ``confint(svymean(...), df=df)``), clipped to
    ``bounds`` (low, high) when given: a mean score's interval stays on its 1–5 scale."""
    t = t_quantile(check_level(level), df)
    half = t * np.asarray(se, dtype=float)
    value = np.asarray(value, dtype=float)
    low, high = value - half, value + half
    if bounds is not None:
        low, high = np.clip(low, *bounds), np.clip(high, *bounds)
    return low, high


def proportion_interval(p, var, df, n_kish, n, method: str = "wilson", level: float = 0.95):
    """Interval for a weighted share ``p`` with design variance ``var`` by ``method``.

    Where the share is 0 or 1 the design variance is 0 and R gives no interval; there the
    effective size is the Kish size ``n_kish`` instead of ``p(1-p)/var``. The logit and Wald
    formulas have no width at 0 or 1, so those estimates get the Wilson interval instead.
    ``n`` (respondents) is needed by Korn–Graubard's degrees-of-freedom adjustment.
    """
    check_method(method)
    level = check_level(level)
    p, var, df, n_kish, n = np.broadcast_arrays(
        *(np.asarray(a, dtype=float) for a in (p, var, df, n_kish, n))
    )
    t = t_quantile(level, df)
    pq = p * (1.0 - p)
    boundary = (p <= 0.0) | (p >= 1.0)
    # r = 1 / n*, the reciprocal effective size; 0 when the design variance is 0 inside (0, 1).
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(boundary, 1.0 / n_kish, var / np.where(boundary, 1.0, pq))
    if method == "korn-graubard":
        low, high = _korn_graubard(p, r, df, n, level)
    elif method == "wilson":
        low, high = _wilson(p, r, t)
    else:
        se = np.sqrt(var)
        if method == "wald":
            low, high = p - t * se, p + t * se
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                logit = np.log(p / (1.0 - p))
                half = t * se / pq
            low, high = special.expit(logit - half), special.expit(logit + half)
        w_low, w_high = _wilson(p, r, t)
        low, high = np.where(boundary, w_low, low), np.where(boundary, w_high, high)
    bad = ~(df > 0) | np.isnan(p)
    low = np.where(bad, np.nan, np.clip(low, 0.0, 1.0))
    high = np.where(bad, np.nan, np.clip(high, 0.0, 1.0))
    return low, high


def _wilson(p, r, t):
    """Wilson's score interval with effective size 1/r (R survey's ``method="wilson"``)."""
    t2 = t * t
    centre = p + t2 * r / 2.0
    half = t * np.sqrt(p * (1.0 - p) * r + t2 * r * r / 4.0)
    denom = 1.0 + t2 * r
    return (centre - half) / denom, (centre + half) / denom


def _korn_graubard(p, r, df, n, level):
    """Clopper–Pearson with effective size, Korn & Graubard (1998); R's ``method="beta"``."""
    alpha = 1.0 - level
    with np.errstate(divide="ignore", invalid="ignore"):
        # R scales n_eff by (qt(alpha/2, n - 1) / qt(alpha/2, df))^2.
        ratio = t_quantile(level, n - 1.0) / t_quantile(level, df)
        n_eff = ratio * ratio / r
        a_low, b_low = n_eff * p, n_eff * (1.0 - p) + 1.0
        a_high, b_high = n_eff * p + 1.0, n_eff * (1.0 - p)
    inner = np.isfinite(n_eff)
    ok_low = inner & (a_low > 0)
    ok_high = inner & (b_high > 0)
    low = np.where(p <= 0.0, 0.0, p)
    high = np.where(p >= 1.0, 1.0, p)
    if ok_low.any():
        low[ok_low] = special.betaincinv(a_low[ok_low], b_low[ok_low], alpha / 2.0)
    if ok_high.any():
        high[ok_high] = special.betaincinv(a_high[ok_high], b_high[ok_high], 1.0 - alpha / 2.0)
    return low, high
