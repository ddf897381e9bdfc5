"""Change between two periods with the interval of the difference.

The two periods are independent samples. The interval of the difference is built from the
two estimates' own intervals by the method of variance estimates recovery (MOVER; Newcombe 1998
for Wilson intervals, Zou & Donner 2008): it stays inside what the two intervals allow, works for
a share of 0 or 1, and for t intervals of means it is the familiar ± combined half-width.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Change:
    """Difference after − before, its interval and whether the interval excludes 0."""

    diff: np.ndarray
    se: np.ndarray
    low: np.ndarray
    high: np.ndarray
    significant: np.ndarray
    level: float


def change(before, after) -> Change:
    """The change from ``before`` to ``after`` (Estimates or EstimateTables at one level)."""
    if before.level != after.level:
        raise ValueError("both periods' intervals must have the same level")
    v1, l1, u1, s1 = (
        np.asarray(getattr(before, k), dtype=float) for k in ("value", "low", "high", "se")
    )
    v2, l2, u2, s2 = (
        np.asarray(getattr(after, k), dtype=float) for k in ("value", "low", "high", "se")
    )
    diff = v2 - v1
    low = diff - np.sqrt((v2 - l2) ** 2 + (u1 - v1) ** 2)
    high = diff + np.sqrt((u2 - v2) ** 2 + (v1 - l1) ** 2)
    significant = (low > 0) | (high < 0)
    return Change(
        diff=diff,
        se=np.sqrt(s1 * s1 + s2 * s2),
        low=low,
        high=high,
        significant=significant,
        level=before.level,
    )
