"""Survey weights: base weights, raking, trimming and the design effect of the weights.

Post-stratification with the merge rule for small cells lives in :mod:`analysis.poststrat`. The
report post-stratifies to known joint counts and neither rakes nor trims (docs/methodology.md,
section 2 says why); :func:`rake` and :func:`trim` serve data that come with margins only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def base_weights(probability) -> np.ndarray:
    """Base weights 1/p from the SMS sampling probability of each respondent."""
    p = np.asarray(probability, dtype=float)
    if np.isnan(p).any() or (p <= 0).any() or (p > 1).any():
        raise ValueError("sampling probabilities must be in (0, 1]")
    return 1.0 / p


def design_effect(weights, groups=None):
    """Kish's design effect of unequal weights, 1 + CV² = n Σw² / (Σw)², overall or per group."""
    w = _positive(weights)
    if groups is None:
        return float(w.size * np.dot(w, w) / w.sum() ** 2)
    g = np.asarray(groups, dtype=np.int64)
    n = np.bincount(g)
    with np.errstate(divide="ignore", invalid="ignore"):
        return n * np.bincount(g, w * w) / np.bincount(g, w) ** 2


def rake(weights, margins: Sequence[tuple], *, tol: float = 1e-6, max_iter: int = 100):
    """Iterative proportional fitting of ``weights`` to known margins.

    Each margin is ``(codes, totals)``: per-respondent category codes and the known total of
    each category, either an array indexed by integer code or a mapping from label to total.
    Margins nested within offices rake every office at once. Stops when every category total
    is within ``tol`` (relative) of its target; raises ValueError when it does not converge.
    """
    w = _positive(weights).copy()
    prepared = [_margin(codes, totals, w.size) for codes, totals in margins]
    if not prepared:
        raise ValueError("rake needs at least one margin")
    grand = [t.sum() for _, t in prepared]
    if max(grand) - min(grand) > tol * max(grand):
        raise ValueError(f"margins disagree on the grand total: {grand}")
    for _ in range(max_iter):
        for codes, target in prepared:
            current = np.bincount(codes, w, target.size)
            w *= (target / current)[codes]
        gap = max(_relative_gap(np.bincount(c, w, t.size), t) for c, t in prepared)
        if gap < tol:
            return w
    raise ValueError(
        f"raking did not converge in {max_iter} iterations "
        f"(largest relative gap {gap:.3g}); check that the margins are consistent"
    )


def trim(weights, cap=None, *, ratio: float = 3.5, groups=None, max_iter: int = 100):
    """Cap weights at ``cap`` (default ``ratio`` × the group's mean) keeping each group's total.

    The weight cut off is shared among the untrimmed weights of the same group in proportion
    to their size, repeated until no weight exceeds its cap.
    """
    w = _positive(weights).copy()
    g = np.zeros(w.size, np.int64) if groups is None else np.asarray(groups, dtype=np.int64)
    if g.shape != w.shape:
        raise ValueError("groups must have one entry per weight")
    total = np.bincount(g, w)
    n = np.bincount(g)
    if cap is None:
        with np.errstate(divide="ignore", invalid="ignore"):
            limit = (ratio * total / n)[g]
    else:
        limit = np.broadcast_to(np.asarray(cap, dtype=float), w.shape)
    if (limit <= 0).any():
        raise ValueError("the cap must be positive")
    if (np.bincount(g, limit, total.size) < total * (1 - 1e-12)).any():
        raise ValueError("the cap is too low to keep the totals: cap × n < total in a group")
    for _ in range(max_iter):
        over = w > limit * (1 + 1e-12)
        if not over.any():
            return w
        w = np.minimum(w, limit)
        free = w < limit
        excess = total - np.bincount(g, w, total.size)
        room = np.bincount(g, np.where(free, w, 0.0), total.size)
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(room > 0, 1.0 + excess / room, 1.0)
        w = np.where(free, w * scale[g], w)
    raise ValueError(f"trimming did not settle in {max_iter} iterations")


def _margin(codes, totals, n):
    """Integer codes and a totals array for one raking margin."""
    codes = np.asarray(codes)
    if codes.shape != (n,):
        raise ValueError(f"a margin has {codes.size} codes for {n} weights")
    if isinstance(totals, Mapping):
        labels = list(totals)
        index = {label: i for i, label in enumerate(labels)}
        seen, inverse = np.unique(codes, return_inverse=True)
        missing = [s for s in seen.tolist() if s not in index]
        if missing:
            raise ValueError(f"no margin total for categories {missing[:5]}")
        codes = np.array([index[s] for s in seen.tolist()], dtype=np.int64)[inverse.ravel()]
        totals = np.array([totals[label] for label in labels], dtype=float)
    else:
        codes = codes.astype(np.int64)
        totals = np.asarray(totals, dtype=float)
    if codes.min() < 0 or codes.max() >= totals.size:
        raise ValueError("a margin code has no total")
    if (totals < 0).any() or np.isnan(totals).any():
        raise ValueError("margin totals must be non-negative numbers")
    present = np.bincount(codes, minlength=totals.size) > 0
    if (present & (totals == 0)).any():
        raise ValueError("a margin category with respondents has a total of 0")
    empty = ~present & (totals > 0)
    if empty.any():
        raise ValueError(
            f"margin categories {np.flatnonzero(empty).tolist()} have a total but "
            "no respondents; collapse them first"
        )
    return codes, totals


def _relative_gap(current, target) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = np.abs(current - target) / np.where(target > 0, target, 1.0)
    return float(gap.max())


def _positive(weights) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    if w.ndim != 1 or w.size == 0:
        raise ValueError("weights must be a non-empty 1-D array")
    if np.isnan(w).any() or (w <= 0).any():
        raise ValueError("weights must be positive numbers")
    return w
