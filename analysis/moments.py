"""Respondent groups summed into moments: what an index's variance needs, whatever their number.

An index's linearised value for a respondent is u = Σ_k c_k x_k, a linear form in the
respondent's indicators x = (a_1 … a_K, s_1 … s_K) (answered and satisfied, per item), with
coefficients c of the domain (:func:`analysis.index_estimates`). Over a group of respondents of
one weight and stratum, the variance needs only Σ u = c·Σx and Σ u² = c'(Σ x x')c: the group's
count, the sums of products of its indicators (Σ x x', whose diagonal is Σ x, since x is 0 or
1), and how many answered at least one item of each element (an index's respondents). Their
size is fixed by the items (2K(2K+1)/2 sums), not by the respondents: a province's year of
respondents, nearly each with a pattern of its own, is a few thousand groups.

The sums are exact integers; the variance from them equals the one from the patterns up to
rounding (``tests/analysis/test_analysis_moments.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def pairs(n_items: int) -> tuple[np.ndarray, np.ndarray]:
    """The (p, q), p ≤ q, of the packed sums over x = (a_1 … a_K, s_1 … s_K), in their order."""
    return np.triu_indices(2 * n_items)


def diagonal(n_items: int) -> np.ndarray:
    """Positions of the packed sums Σ x_p x_p = Σ x_p (a_1 … a_K, then s_1 … s_K)."""
    p, q = pairs(n_items)
    return np.flatnonzero(p == q)


@dataclass(frozen=True)
class Moments:
    """Respondent groups of one weight and stratum each, as sums (see the module's text).

    ``members`` is (rows, elements): the group's respondents who answered at least one item of
    each element; ``count`` those who answered at least one item of any; ``sums`` is
    (rows, 2K(2K+1)/2) in :func:`pairs` order.
    """

    domain: np.ndarray
    stratum: np.ndarray
    weight: np.ndarray
    count: np.ndarray
    members: np.ndarray
    sums: np.ndarray
    n_domains: int

    def __post_init__(self):
        rows = np.asarray(self.domain).size
        for name, dtype in (("domain", np.int64), ("stratum", np.int64)):
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=dtype))
        for name in ("weight", "count"):
            arr = np.asarray(getattr(self, name), dtype=float)
            if arr.shape != (rows,):
                raise ValueError(f"moments.{name} must be 1-D with {rows} entries")
            object.__setattr__(self, name, arr)
        members = np.asarray(self.members, dtype=float)
        sums = np.asarray(self.sums, dtype=float)
        if members.ndim != 2 or sums.ndim != 2 or {members.shape[0], sums.shape[0]} != {rows}:
            raise ValueError(f"moments.members and .sums must be 2-D with {rows} rows")
        n_items = _items_of(sums.shape[1])
        if n_items is None:
            raise ValueError("moments.sums: one column per pair of the 2K indicators")
        if rows and (self.domain.min() < 0 or self.domain.max() >= self.n_domains):
            raise ValueError(f"moments: domain codes must lie in 0 … {self.n_domains - 1}")
        too_many = (members > self.count[:, None]).any()
        if (self.weight <= 0).any() or (self.count < 0).any() or too_many:
            raise ValueError("moments: weights positive, 0 ≤ members ≤ count")
        object.__setattr__(self, "members", members)
        object.__setattr__(self, "sums", sums)
        object.__setattr__(self, "n_domains", int(self.n_domains))

    @property
    def n_items(self) -> int:
        return _items_of(self.sums.shape[1])

    def totals(self) -> tuple[np.ndarray, np.ndarray]:
        """Σ a and Σ s per row and item: the diagonal."""
        d = self.sums[:, diagonal(self.n_items)]
        return d[:, : self.n_items], d[:, self.n_items :]

    def linear(self, coef: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Σ u and Σ u² per row for u = c·x, ``coef`` (rows, 2K) the c of each row's domain."""
        p, q = pairs(self.n_items)
        used = np.flatnonzero(coef.any(axis=0))  # only the index's own items' columns
        keep = np.isin(p, used) & np.isin(q, used)
        p, q, sums = p[keep], q[keep], self.sums[:, keep]
        twice = np.where(p == q, 1.0, 2.0)
        first = (coef[:, p[p == q]] * sums[:, p == q]).sum(axis=1)
        second = (coef[:, p] * coef[:, q] * twice * sums).sum(axis=1)
        return first, second


def _items_of(width: int) -> int | None:
    """K from the number of packed sums 2K(2K+1)/2 (None if no K fits)."""
    k = int(round((np.sqrt(1 + 8 * width) - 1) / 4))
    return k if 2 * k * (2 * k + 1) // 2 == width else None


def from_patterns(group, count, answered, satisfied, element_of_item):
    """Sum respondent patterns into moments per ``group`` (codes 0 … G − 1).

    ``answered`` and ``satisfied`` are (rows, K) booleans, ``count`` respondents per row.
    Returns (count, members (G, elements), sums (G, 2K(2K+1)/2)) as integers: respondents who
    answered at least one item (rows with none count nowhere).
    """
    group = np.asarray(group, dtype=np.int64)
    count = np.asarray(count, dtype=np.int64)
    answered = np.asarray(answered, dtype=bool)
    satisfied = np.asarray(satisfied, dtype=bool) & answered
    element_of_item = np.asarray(element_of_item, dtype=np.int64)
    n_items = answered.shape[1]
    n_elements = int(element_of_item.max(initial=-1)) + 1
    n_groups = int(group.max(initial=-1)) + 1
    p, q = pairs(n_items)
    members = np.zeros((n_groups, n_elements), dtype=np.int64)
    any_item = answered.any(axis=1)
    total = np.bincount(group, np.where(any_item, count, 0), n_groups).astype(np.int64)
    for e in range(n_elements):
        hit = answered[:, element_of_item == e].any(axis=1)
        members[:, e] = np.bincount(group, np.where(hit, count, 0), n_groups).astype(np.int64)
    # Per group one product X'·diag(count)·X of its rows' 0/1 indicators (exact in float64
    # below 2^53), rows sorted by group.
    order = np.argsort(group, kind="stable")
    x = np.concatenate([answered, satisfied], axis=1)[order].astype(np.float64)
    weighted = x * count[order, None]
    bounds = np.searchsorted(group[order], np.arange(n_groups + 1))
    sums = np.zeros((n_groups, p.size), dtype=np.int64)
    for g in range(n_groups):
        rows = slice(bounds[g], bounds[g + 1])
        if rows.start < rows.stop:
            sums[g] = np.rint((weighted[rows].T @ x[rows])[p, q]).astype(np.int64)
    return total, members, sums
