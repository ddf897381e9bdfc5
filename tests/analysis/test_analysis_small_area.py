"""Empirical-Bayes beta-binomial estimates for small offices."""

import numpy as np
import pytest
from scipy import stats

from analysis import EstimateTable, eb_beta_binomial


def _table(value, n_eff, n=None):
    value = np.asarray(value, float)
    n_eff = np.asarray(n_eff, float)
    n = n_eff.astype(np.int64) if n is None else np.asarray(n)
    return EstimateTable(
        value=value,
        se=np.full(value.shape, 0.05),
        low=value - 0.1,
        high=value + 0.1,
        n=n,
        n_eff=n_eff,
        df=n - 1,
        method="wilson",
        level=0.95,
    )


def _moments_prior(p, n):
    """Kleinman's moment estimates of the beta prior, written out term by term."""
    k, total = len(p), sum(n)
    mu = sum(pi * ni for pi, ni in zip(p, n, strict=True)) / total
    spread = sum(ni * (pi - mu) ** 2 for pi, ni in zip(p, n, strict=True))
    rho = (spread / (mu * (1 - mu)) - (k - 1)) / (total - sum(x * x for x in n) / total - (k - 1))
    strength = min(1 / rho - 1, total)
    return mu * strength, (1 - mu) * strength


def test_posterior_matches_hand_computation():
    p = [0.95, 0.60, 0.85, 0.70, 1.00, 0.78]
    n = [200, 150, 40, 300, 12, 90]
    result = eb_beta_binomial(_table(p, n))
    a, b = _moments_prior(p, n)
    assert result.prior_a == pytest.approx([a] * 6) and result.prior_b == pytest.approx([b] * 6)
    post_a = a + np.array(p) * n
    post_b = b + (1 - np.array(p)) * n
    assert result.table.value == pytest.approx(post_a / (post_a + post_b))
    assert result.table.low == pytest.approx(stats.beta.ppf(0.025, post_a, post_b))
    assert result.table.high == pytest.approx(stats.beta.ppf(0.975, post_a, post_b))
    assert result.table.se == pytest.approx(stats.beta.std(post_a, post_b))
    assert result.shrinkage == pytest.approx((a + b) / (a + b + np.array(n)))
    # The small perfect office is pulled toward the group most; the big ones barely move.
    mean = a / (a + b)
    assert mean < result.table.value[4] < 1.0
    assert abs(result.table.value[3] - 0.70) < abs(result.table.value[4] - 1.0)


def test_groups_are_fitted_separately_and_small_groups_stay_direct():
    p = [0.9, 0.8, 0.85, 0.7, 0.6, 0.5, 0.65]
    n = [100, 50, 80, 60, 60, 40, 30]
    groups = [0, 0, 0, 1, 1, 1, 2]
    result = eb_beta_binomial(_table(p, n), groups)
    a0, b0 = _moments_prior(p[:3], n[:3])
    a1, b1 = _moments_prior(p[3:6], n[3:6])
    assert result.prior_a[:6] == pytest.approx([a0] * 3 + [a1] * 3)
    assert result.prior_b[:6] == pytest.approx([b0] * 3 + [b1] * 3)
    assert np.isnan(result.prior_a[6]) and result.table.value[6] == 0.65
    assert result.table.method == "eb-beta-binomial"


def test_no_overdispersion_pools_fully_and_empty_office_stays_nan():
    p = [0.8, 0.8, 0.8, 0.8, np.nan]
    n = [50, 60, 70, 80, 0]
    result = eb_beta_binomial(_table(p, n, n=np.array([50, 60, 70, 80, 0])))
    # No spread beyond sampling noise: the prior is as strong as the whole group's data.
    assert result.prior_a[0] + result.prior_b[0] == pytest.approx(260)
    assert result.table.value[:4] == pytest.approx([0.8] * 4)
    assert np.isnan(result.table.value[4]) and np.isnan(result.shrinkage[4])


def test_extreme_spread_keeps_a_minimal_prior():
    result = eb_beta_binomial(_table([0.0, 1.0, 0.0, 1.0], [50, 50, 50, 50]))
    assert result.prior_a[0] + result.prior_b[0] == pytest.approx(1.0)
    assert np.isfinite(result.table.low).all() and np.isfinite(result.table.high).all()
    assert result.table.value[1] == pytest.approx(50.5 / 51)
