"""SIPAS indices, PAR Index points and the complaint-free ratio of Decision 766.

An item's index is its share satisfied; an element's index is the mean of its items' indices;
the overall index is the mean of the elements. The items of an element are answered by the same
respondents, so their estimates are correlated, and cell counts per question do not carry that
correlation. The standard error of a mean of indices is therefore taken as the mean of their
standard errors, which is exact when the items are perfectly correlated and an upper bound
otherwise: the interval may be wider than necessary, never narrower. (For the exact interval,
give :func:`analysis.mean_cells` cells whose value is each respondent's share of the element's
items satisfied; with complete answers its value equals the element index.)
"""

from __future__ import annotations

import numpy as np

from .cells import SATISFIED_FROM, Cells, mean_cells, proportion_cells
from .estimates import EstimateTable
from .intervals import proportion_interval


def domain_code(office, question, n_questions: int) -> np.ndarray:
    """Domain code of each office × question pair for cells covering many questions at once."""
    return np.asarray(office, dtype=np.int64) * n_questions + np.asarray(question, np.int64)


def item_estimates(
    cells: Cells,
    n_offices: int,
    n_questions: int,
    *,
    threshold: float = SATISFIED_FROM,
    method: str = "wilson",
    level: float = 0.95,
    single_unit: str = "fail",
):
    """Share satisfied and mean score per office × question, as two (offices, questions) tables.

    The cells' domain must be :func:`domain_code` of office and question.
    """
    if cells.n_domains > n_offices * n_questions:
        raise ValueError("a domain code is beyond n_offices × n_questions")
    cells = (
        cells
        if cells.n_domains == n_offices * n_questions
        else Cells(
            cells.domain,
            cells.stratum,
            cells.value,
            cells.count,
            cells.weight,
            cells.population,
            n_domains=n_offices * n_questions,
        )
    )
    shares = proportion_cells(
        cells, threshold=threshold, method=method, level=level, single_unit=single_unit
    )
    means = mean_cells(cells, level=level, single_unit=single_unit)
    return shares.reshape(n_offices, n_questions), means.reshape(n_offices, n_questions)


def combine_indices(table: EstimateTable, members, n_out: int | None = None) -> EstimateTable:
    """Mean of the indices along the last axis: column j joins output ``members[j]``.

    The value is the plain mean of the members (NaN if any is NaN); n, n_eff and df are the
    smallest among them; the se is the mean of their se's (see the module note); the interval
    is Wilson's with the effective size that se implies.
    """
    members = np.asarray(members, dtype=np.int64)
    if members.shape != table.shape[-1:]:
        raise ValueError(f"members needs one entry per column ({table.shape[-1]})")
    n_out = int(members.max()) + 1 if n_out is None else n_out
    weights = np.zeros((members.size, n_out))
    weights[np.arange(members.size), members] = 1.0
    size = weights.sum(axis=0)
    if (size == 0).any():
        raise ValueError("an output index has no members")
    weights /= size

    def mean_of(arr):
        missing = np.isnan(arr) @ (weights > 0)
        return np.where(missing > 0, np.nan, np.nan_to_num(arr) @ weights)

    def min_of(arr):
        return np.stack([arr[..., members == j].min(axis=-1) for j in range(n_out)], axis=-1)

    value, se = mean_of(table.value), mean_of(table.se)
    n, n_eff, df = min_of(table.n), min_of(table.n_eff), min_of(table.df)
    value = np.where(n > 0, value, np.nan)
    low, high = proportion_interval(value, se * se, df, n_eff, n, "wilson", table.level)
    return EstimateTable(
        value=value,
        se=se,
        low=low,
        high=high,
        n=n,
        n_eff=n_eff,
        df=df,
        method="mean-of-indices",
        level=table.level,
    )


def element_indices(items: EstimateTable, element_of_item) -> EstimateTable:
    """Each SIPAS element's index per office: the mean of its items' shares satisfied."""
    return combine_indices(items, element_of_item)


def overall_index(elements: EstimateTable) -> EstimateTable:
    """The overall index per office: the mean of its element indices."""
    index = combine_indices(elements, np.zeros(elements.shape[-1], dtype=np.int64))
    return index.reshape(*index.shape[:-1])


def par_points(index: EstimateTable, max_points: float) -> EstimateTable:
    """PAR Index satisfaction points, ``max_points × index``, with the interval scaled alike."""
    if not max_points > 0:
        raise ValueError("max_points must be positive")
    return EstimateTable(
        value=index.value * max_points,
        se=index.se * max_points,
        low=index.low * max_points,
        high=index.high * max_points,
        n=index.n,
        n_eff=index.n_eff,
        df=index.df,
        method=index.method,
        level=index.level,
    )


def complaint_free_ratio(dossiers, dissatisfied) -> np.ndarray:
    """Decision 766's ratio (dossiers − dissatisfied or complained) / dossiers; NaN if none.

    It is a count over all dossiers, not a sample estimate, so it has no interval; multiply
    by the points it carries (configurable) to score it.
    """
    total = np.asarray(dossiers, dtype=float)
    bad = np.asarray(dissatisfied, dtype=float)
    if (total < 0).any() or (bad < 0).any() or (bad > total).any():
        raise ValueError("need 0 ≤ dissatisfied ≤ dossiers")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, (total - bad) / total, np.nan)
