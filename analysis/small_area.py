"""Empirical-Bayes (beta-binomial) estimates for small offices.

Each office's share is treated as ``y* = p × n_eff`` satisfied out of its Kish effective size
``n_eff``. Across the offices of a group the true shares are given a Beta(a, b) prior whose
mean and intra-class correlation ρ = 1/(a + b + 1) are fitted by the method of moments
(Kleinman 1973). An office's EB estimate is the posterior mean (a + y*) / (a + b + n_eff): a
weighted average of its own share and the group's, leaning on the group the smaller it is.
The prior weighs at least one pseudo-respondent and never more than the group's whole
effective sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from .estimates import EstimateTable

MIN_OFFICES = 3


@dataclass(frozen=True)
class Shrunk:
    """EB estimates beside the prior of each office's group and the weight put on the prior."""

    table: EstimateTable
    prior_a: np.ndarray
    prior_b: np.ndarray
    shrinkage: np.ndarray


def eb_beta_binomial(direct: EstimateTable, groups=None) -> Shrunk:
    """Shrink each office's share toward its group's; intervals from the beta posterior.

    Offices without respondents get NaN. A group with fewer than 3 offices with data, or
    whose offices are all at 0 or all at 1, has no fitted prior: its estimates stay direct.
    """
    p = np.asarray(direct.value, dtype=float)
    n = np.asarray(direct.n_eff, dtype=float)
    g = np.zeros(p.shape, np.int64) if groups is None else np.asarray(groups, dtype=np.int64)
    if p.ndim != 1 or g.shape != p.shape:
        raise ValueError("direct must be one-dimensional with one group per office")
    has = (direct.n > 0) & ~np.isnan(p)
    n_groups = int(g.max(initial=0)) + 1
    nw = np.where(has, n, 0.0)
    pw = np.where(has, p, 0.0)
    k = np.bincount(g, has, n_groups)
    total = np.bincount(g, nw, n_groups)
    with np.errstate(divide="ignore", invalid="ignore"):
        mu = np.bincount(g, nw * pw, n_groups) / total
        spread = np.bincount(g, nw * (pw - mu[g]) ** 2 * has, n_groups)
        denom = total - np.bincount(g, nw * nw, n_groups) / total - (k - 1)
        rho = (spread / (mu * (1 - mu)) - (k - 1)) / denom
        # Between one pseudo-respondent (offices share almost nothing) and the whole group.
        strength = np.clip(1.0 / np.clip(rho, 1e-12, 1.0) - 1.0, 1.0, np.maximum(total, 1.0))
    fitted = (k >= MIN_OFFICES) & (mu > 0) & (mu < 1) & (denom > 0)
    a = np.where(fitted, mu * strength, np.nan)
    b = np.where(fitted, (1 - mu) * strength, np.nan)
    post_a, post_b = a[g] + pw * nw, b[g] + (1 - pw) * nw
    alpha = 1.0 - direct.level
    with np.errstate(invalid="ignore"):
        value = post_a / (post_a + post_b)
        sd = np.sqrt(post_a * post_b / ((post_a + post_b) ** 2 * (post_a + post_b + 1)))
        low = special.betaincinv(post_a, post_b, alpha / 2)
        high = special.betaincinv(post_a, post_b, 1 - alpha / 2)
    keep = fitted[g] & has
    shrink = np.where(keep, strength[g] / (strength[g] + nw), 0.0)
    table = EstimateTable(
        value=np.where(keep, value, direct.value),
        se=np.where(keep, sd, direct.se),
        low=np.where(keep, low, direct.low),
        high=np.where(keep, high, direct.high),
        n=direct.n,
        n_eff=direct.n_eff,
        df=direct.df,
        method="eb-beta-binomial",
        level=direct.level,
    )
    return Shrunk(table=table, prior_a=a[g], prior_b=b[g], shrinkage=np.where(has, shrink, np.nan))
