"""Rankings within a group that do not oversell differences, tiers and funnel-plot data.

Rank intervals follow Klein, Wright & Wieczorek (2020): build confidence intervals for the
differences between every pair of offices of a group that hold *simultaneously* (Bonferroni over
the K(K−1)/2 pairs, Student's t on the smaller of the two df), then an office's best possible
rank is 1 + the number of offices clearly above it and its worst is K − the number clearly below
it. All K rank intervals then cover the true ranks together with probability at least the level
(the *joint* intervals: "who is clearly better than whom"). An office's *individual* interval
compares it with each of the K − 1 others only (Bonferroni over K − 1 differences): it covers
that one office's true rank with probability at least the level ("where does my office
stand"), and is shorter. Rank 1 is the most satisfied. Unreliable estimates (n_eff < 30 or
df < 8) are not ranked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from .intervals import check_level, t_quantile

BLOCK = 256


@dataclass(frozen=True)
class Ranking:
    """Per office: rank, joint and individual rank intervals and whether it was ranked (NaN
    ranks if not)."""

    rank: np.ndarray
    rank_low: np.ndarray
    rank_high: np.ndarray
    ranked: np.ndarray
    group_size: np.ndarray
    level: float
    individual_low: np.ndarray
    individual_high: np.ndarray


@dataclass(frozen=True)
class Funnel:
    """Funnel-plot data: offices' points, their control limits, and limit curves on a grid."""

    n_eff: np.ndarray
    value: np.ndarray
    target: float
    levels: tuple
    low: np.ndarray
    high: np.ndarray
    outside: np.ndarray
    grid: np.ndarray
    grid_low: np.ndarray
    grid_high: np.ndarray


def ranking_se(table) -> np.ndarray:
    """Standard errors for comparisons: the larger of the se and the one the interval implies.

    The implied se is the interval's width / 2t; it matters at a share of 0 or 1, where the
    linearised se is 0 but the interval (Kish-based) is not.
    """
    se = np.asarray(table.se, dtype=float)
    with np.errstate(invalid="ignore"):
        implied = (table.high - table.low) / (2.0 * t_quantile(table.level, table.df))
    # A perfect score from 30 respondents has se 0 but is not exact; its interval knows that.
    return np.where(np.isnan(implied), se, np.fmax(se, implied))


def rank_intervals(table, groups=None, *, level: float = 0.95) -> Ranking:
    """Each office's rank within its group with joint and individual rank intervals (KWW 2020)."""
    level = check_level(level)
    value = np.asarray(table.value, dtype=float)
    se = ranking_se(table)
    df = np.asarray(table.df, dtype=float)
    g = np.zeros(value.shape, np.int64) if groups is None else np.asarray(groups, np.int64)
    if value.ndim != 1 or g.shape != value.shape:
        raise ValueError("rank one-dimensional estimates with one group per office")
    ranked = np.asarray(table.reliable) & ~np.isnan(value) & ~np.isnan(se)
    rank = np.full(value.shape, np.nan)
    low, high, ind_low, ind_high = rank.copy(), rank.copy(), rank.copy(), rank.copy()
    size = np.zeros(value.shape, np.int64)
    for code in np.unique(g[ranked]):
        idx = np.flatnonzero(ranked & (g == code))
        k = idx.size
        size[g == code] = k
        rank[idx] = stats.rankdata(-value[idx], method="min")
        counts = _clear_differences(value[idx], se[idx], df[idx], level, (k * (k - 1) / 2, k - 1))
        for (above, below), lo, hi in zip(counts, (low, ind_low), (high, ind_high), strict=True):
            lo[idx] = 1 + above
            hi[idx] = k - below
    return Ranking(
        rank=rank,
        rank_low=low,
        rank_high=high,
        ranked=ranked,
        group_size=size,
        level=level,
        individual_low=ind_low,
        individual_high=ind_high,
    )


def _clear_differences(v, se, df, level, tests):
    """Per office, how many others are clearly above and clearly below it, the level shared
    (Bonferroni) among as many differences as each entry of ``tests`` says: one pair of counts
    per entry, from one pass over the pairs."""
    k = v.size
    if k < 2:
        return [(np.zeros(k, np.int64), np.zeros(k, np.int64)) for _ in tests]
    # The t quantile falls with df, so the smaller df of a pair has the larger quantile.
    crit2 = [t_quantile(1.0 - (1.0 - level) / n, df) ** 2 for n in tests]
    # In ascending order of value each pair is looked at once, from its lower office: a clear
    # difference puts the higher one above the lower. (Equal values are never clearly apart.)
    order = np.argsort(v, kind="stable")
    v, var = v[order], (se * se)[order]
    crit2 = [c2[order] for c2 in crit2]
    out = [(np.zeros(k, np.int64), np.zeros(k, np.int64)) for _ in tests]
    for start in range(0, k, BLOCK):
        stop = min(start + BLOCK, k)
        rows, cols = slice(start, stop), slice(start, k)
        # Compare squares to spare a square root: |d| > t·√(se_i² + se_j²).
        diff = v[None, cols] - v[rows, None]
        sq = diff * diff
        spread = var[rows, None] + var[None, cols]
        for c2, (above, below) in zip(crit2, out, strict=True):
            clear = sq > np.maximum(c2[rows, None], c2[None, cols]) * spread
            clear[:, : stop - start] &= np.triu(np.ones((stop - start,) * 2, dtype=bool), 1)
            above[rows] += np.count_nonzero(clear, axis=1)
            below[cols] += np.count_nonzero(clear, axis=0)
    back = np.empty(k, np.int64)
    back[order] = np.arange(k)
    return [(above[back], below[back]) for above, below in out]


def tiers(table, groups=None, target: float | None = None) -> np.ndarray:
    """'above', 'indistinguishable', 'below' the target (or the group mean), or 'unreliable'.

    An office is clearly above when its whole interval lies above the reference, clearly
    below when it lies below; the group mean is the plain mean of the group's reliable offices.
    """
    value = np.asarray(table.value, dtype=float)
    g = np.zeros(value.shape, np.int64) if groups is None else np.asarray(groups, np.int64)
    ok = np.asarray(table.reliable) & ~np.isnan(value)
    if target is None:
        count = np.bincount(g, ok)
        with np.errstate(invalid="ignore", divide="ignore"):
            ref = (np.bincount(g, np.where(ok, value, 0.0)) / count)[g]
    else:
        ref = np.full(value.shape, float(target))
    out = np.full(value.shape, "indistinguishable", dtype="<U17")
    out[table.low > ref] = "above"
    out[table.high < ref] = "below"
    out[~ok] = "unreliable"
    return out


def funnel(table, target: float, *, levels=(0.95, 0.998), grid_size: int = 100) -> Funnel:
    """Funnel-plot data around ``target`` by effective size (normal limits, clipped to [0, 1]).

    ``outside`` is +1 above, −1 below, 0 within each level's limits (shape levels × offices).
    """
    if not 0.0 < target < 1.0:
        raise ValueError("target must be a share inside (0, 1)")
    levels = tuple(check_level(lv) for lv in levels)
    n = np.asarray(table.n_eff, dtype=float)
    value = np.asarray(table.value, dtype=float)
    z = special.ndtri(0.5 + np.asarray(levels) / 2.0)[:, None]

    def limits(size):
        with np.errstate(divide="ignore", invalid="ignore"):
            half = z * np.sqrt(target * (1.0 - target) / size)
        return np.clip(target - half, 0.0, 1.0), np.clip(target + half, 0.0, 1.0)

    low, high = limits(n)
    outside = np.where(value > high, 1, np.where(value < low, -1, 0))
    outside = np.where(np.isnan(value) | (n <= 0), 0, outside)
    positive = n[n > 0]
    lo_n = max(1.0, positive.min()) if positive.size else 1.0
    hi_n = max(lo_n * 2, positive.max()) if positive.size else 1000.0
    grid = np.geomspace(lo_n, hi_n, grid_size)
    grid_low, grid_high = limits(grid)
    return Funnel(
        n_eff=n,
        value=value,
        target=float(target),
        levels=levels,
        low=low,
        high=high,
        outside=outside,
        grid=grid,
        grid_low=grid_low,
        grid_high=grid_high,
    )
