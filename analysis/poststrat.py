"""Post-stratification to known dossier counts, with small cells merged into a neighbour.

A post-stratum is a cell of an office whose population (the dossiers returned in it) is known;
the report's cells are office × service group, the channel being a variance stratum within them
(docs/methodology.md, section 2). Each cell's weights are scaled so that they sum to its
population.
A cell with fewer than ``min_count`` respondents, or with respondents but no dossiers, is merged
with a neighbour of the same office: the one named in ``merge_into`` or, by default (the
report's rule: it names none), the office's cell with the most respondents. Merging follows
chains (A into B into C) and a merged stratum still under ``min_count`` goes to the office's
largest cell. No cell's dossiers are ever dropped: an empty cell's population is carried by the
stratum it joins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

MIN_COUNT = 10


@dataclass(frozen=True)
class PostStrata:
    """Per input cell: its merged stratum, weights and that stratum's population and size."""

    office: np.ndarray
    cell: np.ndarray
    stratum: np.ndarray
    factor: np.ndarray
    weight: np.ndarray
    population: np.ndarray
    respondents: np.ndarray
    merged: np.ndarray

    def rows(self, office, cell) -> np.ndarray:
        """Row numbers of (office, cell) pairs, e.g. to give each answer cell its weight."""
        off = np.asarray(office, dtype=np.int64)
        code = np.asarray(cell, dtype=np.int64)
        return _row_finder(self.office, self.cell)(off.ravel(), code.ravel()).reshape(off.shape)


@dataclass(frozen=True)
class PostStratified:
    """Per respondent: post-stratified weight, merged stratum label and its population (fpc)."""

    weights: np.ndarray
    stratum: np.ndarray
    fpc: np.ndarray


def poststratify_cells(
    office,
    cell,
    respondents,
    population,
    *,
    base_weight_sum=None,
    min_count: int = MIN_COUNT,
    merge_into=None,
) -> PostStrata:
    """Weights per office × cell row so each merged stratum sums to its population.

    Rows are the population cells of every office (include cells without respondents).
    ``cell`` is the cell's code within its office; ``merge_into`` gives, per row, the code of
    the cell to merge into when the row is too small (-1: the office's largest cell).
    ``base_weight_sum`` is the sum of the respondents' base weights 1/p (default: their count);
    the weight of a respondent is then ``factor × base weight``, and ``weight`` holds it for a
    row whose base weights are equal.
    """
    office = np.asarray(office, dtype=np.int64)
    cell = np.asarray(cell, dtype=np.int64)
    m = np.asarray(respondents, dtype=float)
    pop = np.asarray(population, dtype=float)
    base = m if base_weight_sum is None else np.asarray(base_weight_sum, dtype=float)
    rows = office.size
    for name, arr in (("cell", cell), ("respondents", m), ("population", pop), ("base", base)):
        if arr.shape != (rows,):
            raise ValueError(f"{name} must have one entry per row ({rows})")
    if (m < 0).any() or (pop < 0).any() or np.isnan(pop).any() or np.isnan(base).any():
        raise ValueError("respondents and population must be non-negative numbers")
    if ((m > 0) != (base > 0)).any():
        raise ValueError("base_weight_sum must be positive exactly where there are respondents")
    if min_count < 1:
        raise ValueError("min_count must be at least 1")
    find = _row_finder(office, cell)
    _, office_idx = np.unique(office, return_inverse=True)
    office_idx = office_idx.ravel()
    # An office's home cell, where small cells go: its largest cell that has dossiers (a cell
    # without dossiers cannot carry weight), the largest of all only if none has any.
    order = np.lexsort((cell, -m, pop <= 0, office_idx))
    first = np.ones(rows, dtype=bool)
    first[1:] = office_idx[order][1:] != office_idx[order][:-1]
    largest = np.empty(office_idx.max(initial=-1) + 1, dtype=np.int64)
    largest[office_idx[order[first]]] = order[first]
    home = largest[office_idx]

    small = (m < min_count) | ((pop <= 0) & (m > 0))
    target = np.where(small, home, np.arange(rows))
    if merge_into is not None:
        named = np.asarray(merge_into, dtype=np.int64)
        use = small & (named >= 0)
        target[use] = find(office[use], named[use])
    parent = _roots(target)
    merged_m = np.bincount(parent, m, rows)
    still = (merged_m[parent] < min_count) & (parent != home)
    if still.any():
        parent = np.where(still, home, parent)
    n_pop = np.bincount(parent, pop, rows)
    n_resp = np.bincount(parent, m, rows)
    b_sum = np.bincount(parent, base, rows)
    if ((n_pop <= 0) & (n_resp > 0)).any():
        bad = np.unique(office[(n_pop[parent] <= 0) & (m > 0)])[:5].tolist()
        raise ValueError(f"offices {bad} have respondents but no dossiers")
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = (n_pop / b_sum)[parent]
        weight = np.where(m > 0, factor * base / m, np.nan)
    return PostStrata(
        office=office,
        cell=cell,
        stratum=cell[parent],
        factor=factor,
        weight=weight,
        population=n_pop[parent],
        respondents=n_resp[parent],
        merged=parent != np.arange(rows),
    )


def poststratify(
    cell,
    totals: Mapping,
    weights=None,
    *,
    min_count: int = MIN_COUNT,
    merge_into: Mapping | None = None,
    office_of: Mapping | None = None,
) -> PostStratified:
    """Post-stratify unit records: ``cell`` labels per respondent, ``totals`` per cell label.

    ``merge_into`` maps a cell label to the neighbour it joins when small; ``office_of`` maps
    a cell label to its office so that merges stay within the office (default: one office).
    """
    labels = np.array(list(totals))
    index = {label: i for i, label in enumerate(labels.tolist())}
    seen, inverse = np.unique(np.asarray(cell), return_inverse=True)
    missing = [s for s in seen.tolist() if s not in index]
    if missing:
        raise ValueError(f"no population total for cells {missing[:5]}")
    codes = np.array([index[s] for s in seen.tolist()], dtype=np.int64)[inverse.ravel()]
    w = np.ones(codes.size) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != codes.shape or np.isnan(w).any() or (w <= 0).any():
        raise ValueError("weights must be positive, one per respondent")
    size = labels.size
    offices = [office_of[label] if office_of else 0 for label in labels.tolist()]
    _, office_code = np.unique(np.array(offices, dtype=object).astype(str), return_inverse=True)
    into = np.full(size, -1, dtype=np.int64)
    for label, neighbour in (merge_into or {}).items():
        if label not in index or neighbour not in index:
            raise ValueError(f"merge_into names an unknown cell: {label!r} -> {neighbour!r}")
        into[index[label]] = index[neighbour]
    strata = poststratify_cells(
        office_code.ravel(),
        np.arange(size),
        np.bincount(codes, minlength=size),
        np.array([totals[label] for label in labels.tolist()], float),
        base_weight_sum=np.bincount(codes, w, size),
        min_count=min_count,
        merge_into=into,
    )
    return PostStratified(
        weights=w * strata.factor[codes],
        stratum=labels[strata.stratum[codes]],
        fpc=strata.population[codes],
    )


def _row_finder(office, cell):
    """A function mapping (office, cell code) pairs to row numbers; unknown pairs raise."""
    width = int(cell.max(initial=0)) + 1
    key = office * width + cell
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    if (sorted_key[1:] == sorted_key[:-1]).any():
        raise ValueError("an (office, cell) pair appears twice")

    def find(off, code):
        wanted = off * width + code
        pos = np.clip(np.searchsorted(sorted_key, wanted), 0, max(key.size - 1, 0))
        if (code < 0).any() or (code >= width).any() or (sorted_key[pos] != wanted).any():
            raise ValueError("no such (office, cell) row; a merge must stay within its office")
        return order[pos]

    return find


def _roots(target):
    """Follow merge pointers to their end by pointer jumping; a cycle raises ValueError."""
    parent = target
    for _ in range(64):
        nxt = parent[parent]
        if (nxt == parent).all():
            break
        parent = nxt
    if (target[parent] != parent).any():
        raise ValueError("merge_into forms a cycle")
    return parent
