"""Empirical-Bayes estimates for small offices, the prior's uncertainty integrated out."""

import numpy as np
import pytest
from scipy import stats

from analysis import EstimateTable, empirical_bayes


def _table(value, n_eff, n=None):
    """Direct estimates of simple random samples (binomial se, Wilson-like bounds unused)."""
    value = np.asarray(value, float)
    n_eff = np.asarray(n_eff, float)
    n = n_eff.astype(np.int64) if n is None else np.asarray(n)
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.sqrt(value * (1 - value) / n_eff)
    return EstimateTable(
        value=value,
        se=se,
        low=value - 0.1,
        high=value + 0.1,
        n=n,
        n_eff=n_eff,
        df=n - 1,
        method="wilson",
        level=0.95,
    )


def _brute_force(p, v, level=0.95):
    """Posterior means and sds of the shares by plain 2-D quadrature over (μ, τ), with a flat
    prior on μ and on τ² (no closed form used), and the posterior means of μ and τ."""
    mu = np.linspace(-1.0, 2.0, 3001)[:, None, None]  # flat: wide enough to be improper
    tau = np.linspace(1e-4, 0.5, 1500)[None, :, None]
    total = v + tau**2
    log_lik = (-0.5 * np.log(total) - 0.5 * (p - mu) ** 2 / total).sum(axis=2, keepdims=True)
    weight = np.exp(log_lik - log_lik.max()) * tau  # flat on τ²: density ∝ τ on a τ grid
    weight /= weight.sum()
    b = v / total
    mean_i = (1 - b) * p + b * mu  # given μ and τ
    var_i = v * (1 - b)
    mean = (weight * mean_i).sum(axis=(0, 1))
    var = (weight * (var_i + mean_i**2)).sum(axis=(0, 1)) - mean**2
    return mean, np.sqrt(var), float((weight * mu).sum()), float((weight * tau).sum())


def test_posterior_matches_brute_force_quadrature():
    p = np.array([0.95, 0.60, 0.85, 0.70, 1.00, 0.78])
    n = np.array([200, 150, 40, 300, 12, 90])
    result = empirical_bayes(_table(p, n))
    mu0 = np.dot(p, np.r_[n[:4] * 1.0, 0, 90] * 0 + n) / n.sum()  # group mean, n*-weighted
    r = np.r_[1 / n[:4], 1 / 12, 1 / 90]  # 1/effective size: binomial se, Kish at p = 1
    mean, sd, prior_mean, prior_sd = _brute_force(p, mu0 * (1 - mu0) * r)
    assert result.table.value == pytest.approx(mean, abs=2e-4)
    assert result.table.se == pytest.approx(sd, rel=2e-2)
    assert result.prior_mean[0] == pytest.approx(prior_mean, abs=2e-4)
    assert result.prior_sd[0] == pytest.approx(prior_sd, rel=2e-2)
    z = stats.norm.ppf(0.975)
    assert result.table.low == pytest.approx(np.clip(mean - z * sd, 0, 1), abs=2e-3)
    assert result.table.high == pytest.approx(np.clip(mean + z * sd, 0, 1), abs=2e-3)
    # The small perfect office is pulled toward the group most; the big ones barely move.
    assert prior_mean < result.table.value[4] < 1.0
    assert abs(result.table.value[3] - 0.70) < abs(result.table.value[4] - 1.0)
    assert result.shrinkage[4] > result.shrinkage[0] > 0 and not result.bounded.any()


def test_groups_are_fitted_separately_and_small_groups_stay_direct():
    p = [0.9, 0.8, 0.85, 0.75, 0.7, 0.6, 0.5, 0.65, 0.6, 0.7, 0.8]
    n = [100, 50, 80, 70, 60, 60, 40, 30, 50, 40, 30]
    groups = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2]
    result = empirical_bayes(_table(p, n), groups)
    alone = [empirical_bayes(_table(p[:4], n[:4])), empirical_bayes(_table(p[4:8], n[4:8]))]
    assert result.table.value[:8] == pytest.approx(
        np.r_[alone[0].table.value, alone[1].table.value], rel=1e-12
    )
    assert result.prior_mean[:8] == pytest.approx(
        [alone[0].prior_mean[0]] * 4 + [alone[1].prior_mean[0]] * 4
    )
    # Three offices are too few to fit a prior (its spread's posterior would be improper).
    assert np.isnan(result.prior_mean[8:]).all() and result.table.value[8:].tolist() == p[8:]
    assert (result.shrinkage[8:] == 0.0).all()
    assert result.table.method == "eb-normal-flat-variance-prior"


def test_no_spread_pools_strongly_but_keeps_honest_intervals():
    p = [0.8, 0.8, 0.8, 0.8, np.nan]
    n = [50, 60, 70, 80, 0]
    result = empirical_bayes(_table(p, n, n=np.array([50, 60, 70, 80, 0])))
    assert result.table.value[:4] == pytest.approx([0.8] * 4)
    assert (result.shrinkage[:4] > 0.3).all()
    # The prior's spread is uncertain, so the intervals stay wider than the pooled estimate's.
    pooled = 1.96 * np.sqrt(0.8 * 0.2 / 260)
    assert (result.table.high[:4] - 0.8 > 1.5 * pooled).all()
    assert np.isnan(result.table.value[4]) and np.isnan(result.shrinkage[4])


def test_extreme_spread_barely_shrinks_and_is_reported():
    result = empirical_bayes(_table([0.02, 0.98, 0.03, 0.97], [50, 50, 50, 50]))
    assert (result.shrinkage[:4] < 0.05).all()
    assert np.isfinite(result.table.low).all() and np.isfinite(result.table.high).all()
    assert result.bounded.all()  # the offices differ as much as shares can
    assert not empirical_bayes(_table([0.8, 0.85, 0.9, 0.82], [50] * 4)).bounded.any()


def test_all_at_one_stays_direct():
    result = empirical_bayes(_table([1.0, 1.0, 1.0, 1.0], [20, 30, 40, 50]))
    assert result.table.value.tolist() == [1.0] * 4 and np.isnan(result.prior_mean).all()


@pytest.mark.slow
def test_intervals_cover_the_true_shares():
    """The simulation of bench/eb_coverage.py on fewer replications (its docs give 1,000)."""
    rng = np.random.default_rng(7)
    truth = np.linspace(0.78, 0.86, 30)
    n = np.round(np.geomspace(30, 300, 30)).astype(np.int64)[rng.permutation(30)]
    covered = np.zeros(30)
    for _ in range(300):
        p = rng.binomial(n, truth) / n
        eb = empirical_bayes(_table(p, n)).table
        covered += (eb.low <= truth) & (truth <= eb.high)
    assert covered.mean() / 300 >= 0.93
