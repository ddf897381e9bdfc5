"""Rank intervals, tiers and funnel data."""

import numpy as np
import pytest
from scipy import stats

from analysis import EstimateTable, funnel, proportion, rank_intervals, ranking_se, tiers


def _table(value, se, n_eff=None, df=None):
    value = np.asarray(value, float)
    se = np.asarray(se, float)
    n_eff = np.full(value.shape, 200.0) if n_eff is None else np.asarray(n_eff, float)
    df = np.full(value.shape, 150) if df is None else np.asarray(df)
    t = stats.t.ppf(0.975, df)
    return EstimateTable(
        value=value,
        se=se,
        low=value - t * se,
        high=value + t * se,
        n=n_eff.astype(np.int64),
        n_eff=n_eff,
        df=df,
        method="wald",
        level=0.95,
    )


def _loop_rank_intervals(value, se, df, level=0.95, individual=False):
    """Bonferroni-simultaneous pairwise differences, written out pair by pair: over all
    K(K − 1)/2 pairs (joint), or over an office's K − 1 comparisons (individual)."""
    k = len(value)
    tests = k - 1 if individual else k * (k - 1) / 2
    crit = {}
    lows, highs = [], []
    for i in range(k):
        above = below = 0
        for j in range(k):
            if i == j:
                continue
            d = min(df[i], df[j])
            if d not in crit:
                crit[d] = stats.t.ppf(1 - (1 - level) / (2 * tests), d)
            margin = crit[d] * np.hypot(se[i], se[j])
            above += value[j] - value[i] > margin
            below += value[i] - value[j] > margin
        lows.append(1 + above)
        highs.append(k - below)
    return lows, highs


def test_rank_intervals_match_pairwise_loop():
    rng = np.random.default_rng(2)
    value = rng.uniform(0.6, 0.95, 40)
    se = rng.uniform(0.005, 0.04, 40)
    df = rng.integers(10, 300, 40)
    result = rank_intervals(_table(value, se, df=df))
    low, high = _loop_rank_intervals(value, se, df)
    assert result.rank_low.tolist() == low and result.rank_high.tolist() == high
    low, high = _loop_rank_intervals(value, se, df, individual=True)
    assert result.individual_low.tolist() == low and result.individual_high.tolist() == high
    assert (result.individual_low >= result.rank_low).all()
    assert (result.individual_high <= result.rank_high).all()
    assert (result.individual_high - result.individual_low).sum() < (
        result.rank_high - result.rank_low
    ).sum()
    assert result.rank.tolist() == stats.rankdata(-value, method="min").tolist()
    assert (result.rank_low <= result.rank).all() and (result.rank <= result.rank_high).all()


def test_rank_intervals_over_several_blocks_with_ties_match_pairwise_loop():
    # More offices than one block of pairs (ranking.BLOCK), equal values (never clearly
    # apart) and two groups ranked separately.
    from analysis import ranking

    rng = np.random.default_rng(7)
    k = 2 * ranking.BLOCK + 40
    value = np.round(rng.uniform(0.6, 0.95, k), 2)
    se = rng.uniform(0.002, 0.03, k)
    se[::17] = 0.0  # a census: only the other office's error separates them
    df = rng.integers(10, 300, k)
    groups = (np.arange(k) % 5 == 0).astype(np.int64)
    result = rank_intervals(_table(value, se, df=df), groups)
    for code in (0, 1):
        mine = np.flatnonzero(groups == code)
        for individual, lo, hi in (
            (False, result.rank_low, result.rank_high),
            (True, result.individual_low, result.individual_high),
        ):
            low, high = _loop_rank_intervals(value[mine], se[mine], df[mine], individual=individual)
            assert lo[mine].tolist() == low and hi[mine].tolist() == high


def test_clearly_separated_and_indistinguishable_offices():
    sharp = rank_intervals(_table([0.9, 0.7, 0.8], [1e-4] * 3))
    assert sharp.rank.tolist() == [1, 3, 2]
    assert sharp.rank_low.tolist() == sharp.rank_high.tolist() == [1, 3, 2]
    blurred = rank_intervals(_table([0.82, 0.80, 0.81], [0.05] * 3))
    assert blurred.rank_low.tolist() == [1, 1, 1] and blurred.rank_high.tolist() == [3, 3, 3]


def test_unreliable_offices_are_not_ranked_and_groups_are_separate():
    table = _table([0.9, 0.8, 0.7, 0.95, 0.6], [1e-4] * 5, n_eff=[200, 200, 20, 200, 200])
    result = rank_intervals(table, groups=[0, 0, 0, 1, 1])
    assert result.ranked.tolist() == [True, True, False, True, True]
    assert result.rank[:2].tolist() == [1, 2] and np.isnan(result.rank[2])
    assert result.rank[3:].tolist() == [1, 2]
    assert result.group_size.tolist() == [2, 2, 2, 2, 2]


def test_joint_coverage_of_true_ranks():
    rng = np.random.default_rng(8)
    truth = np.linspace(0.70, 0.90, 15)
    true_rank = stats.rankdata(-truth)
    se = np.full(15, 0.02)
    covered = 0
    for _ in range(300):
        r = rank_intervals(_table(truth + rng.normal(0, se), se))
        covered += np.all((r.rank_low <= true_rank) & (true_rank <= r.rank_high))
    assert covered / 300 >= 0.95


def test_individual_coverage_of_each_true_rank():
    rng = np.random.default_rng(9)
    truth = np.linspace(0.70, 0.90, 15)
    true_rank = stats.rankdata(-truth)
    se = np.full(15, 0.02)
    covered, width = np.zeros(15), np.zeros(2)
    for _ in range(400):
        r = rank_intervals(_table(truth + rng.normal(0, se), se))
        covered += (r.individual_low <= true_rank) & (true_rank <= r.individual_high)
        width += [np.mean(r.individual_high - r.individual_low), np.mean(r.rank_high - r.rank_low)]
    assert (covered / 400 >= 0.95).all()
    assert width[0] < 0.9 * width[1]  # shorter than the joint ones


def test_perfect_score_is_not_treated_as_exact():
    perfect = proportion(np.ones(40))
    good = proportion(np.r_[np.ones(36), np.zeros(4)])
    fields = ("value", "se", "low", "high", "n", "n_eff", "df")
    table = EstimateTable(
        **{f: np.array([getattr(perfect, f), getattr(good, f)]) for f in fields},
        method="wilson",
        level=0.95,
    )
    assert perfect.se == 0 and ranking_se(table)[0] > 0.02
    result = rank_intervals(table)
    assert result.rank.tolist() == [1, 2] and result.rank_high.tolist() == [2, 2]


def test_tiers_against_target_and_group_mean():
    table = _table([0.92, 0.81, 0.70, 0.85], [0.01, 0.02, 0.01, 0.03], n_eff=[100, 100, 100, 10])
    assert tiers(table, target=0.8).tolist() == [
        "above",
        "indistinguishable",
        "below",
        "unreliable",
    ]
    # Group mean of the reliable offices: (0.92 + 0.81 + 0.70) / 3 = 0.81.
    assert tiers(table).tolist() == ["above", "indistinguishable", "below", "unreliable"]


def test_funnel_limits():
    table = _table([0.95, 0.7, 0.8], [0.01, 0.02, 0.03], n_eff=[400, 100, 25])
    f = funnel(table, target=0.8, levels=(0.95, 0.998))
    z = stats.norm.ppf([0.975, 0.999])
    half = z[:, None] * np.sqrt(0.16 / np.array([400, 100, 25]))
    assert f.low == pytest.approx(0.8 - half)
    assert f.high == pytest.approx(np.minimum(0.8 + half, 1.0))  # clipped to shares
    assert f.outside.tolist() == [[1, -1, 0], [1, 0, 0]]  # 0.7 > 0.8 - 3.09 × 0.04
    assert f.grid[0] == 25 and f.grid[-1] == pytest.approx(400)
    assert (np.diff(f.grid_high[0]) < 0).all()  # the funnel narrows as n_eff grows
    with pytest.raises(ValueError, match="target"):
        funnel(table, target=1.2)
