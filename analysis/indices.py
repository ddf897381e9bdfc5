"""SIPAS indices, PAR Index points and the complaint-free ratio of Decision 766.

An item's index is its share satisfied among those who answered it; an element's index is the
mean of its items' indices; the overall index is the mean of the elements. The items are
answered by the same respondents, so their estimates move together: an index's variance is
linearised over respondents. Each is a smooth function of the weighted totals of satisfied
(s_k) and answered (a_k) per item, I = Σ_k α_k · T(s_k) / T(a_k), so a respondent's linearised
value is z = w · Σ_k α_k (s_k − p_k a_k) / T(a_k) (R: ``svycontrast`` of ``svytotal``, or
``svyratio``), summed by stratum in the whole sample's design
(:func:`analysis.design.linearised_variance`). That needs each respondent's pattern of answered
and satisfied items, which :class:`Patterns` carries as counts of respondents per
domain × stratum × pattern (SQL's GROUP BY of the per-response patterns), or only the sums of
products of those items per group of one weight and stratum, which
:class:`analysis.moments.Moments` carries (a year's rollup: one row per group however many
respondents); both can be given together.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .cells import SATISFIED_FROM, Cells, mean_cells, proportion_cells
from .design import Design, linearised_variance, strata_groups
from .estimates import EstimateTable
from .intervals import check_level, proportion_interval
from .moments import Moments


@dataclass(frozen=True)
class Patterns:
    """Respondent groups by which of the index's items they answered and were satisfied with.

    One row per domain × stratum × pattern × weight: ``count`` respondents of weight
    ``weight``; ``answered`` and ``satisfied`` are (rows, items) booleans (satisfied implies
    answered). A respondent who answered none of the items is in no index's domain.
    """

    domain: np.ndarray
    stratum: np.ndarray
    count: np.ndarray
    weight: np.ndarray
    answered: np.ndarray
    satisfied: np.ndarray
    n_domains: int
    design: Design | None = None

    def __post_init__(self):
        arrays = {
            "domain": np.asarray(self.domain, dtype=np.int64),
            "stratum": np.asarray(self.stratum, dtype=np.int64),
            "count": np.asarray(self.count, dtype=float),
            "weight": np.asarray(self.weight, dtype=float),
        }
        rows = arrays["domain"].size
        answered = np.asarray(self.answered, dtype=bool)
        satisfied = np.asarray(self.satisfied, dtype=bool)
        for name, arr in arrays.items():
            if arr.shape != (rows,):
                raise ValueError(f"patterns.{name} must be 1-D with {rows} entries")
        if answered.ndim != 2 or answered.shape[0] != rows or satisfied.shape != answered.shape:
            raise ValueError(f"patterns: answered and satisfied must be ({rows}, items) arrays")
        if (satisfied & ~answered).any():
            raise ValueError("patterns: an item is satisfied but not answered")
        if rows and (arrays["domain"].min() < 0 or arrays["domain"].max() >= self.n_domains):
            raise ValueError(f"patterns: domain codes must lie in 0 … {self.n_domains - 1}")
        if (arrays["count"] < 0).any() or (arrays["weight"] <= 0).any():
            raise ValueError("patterns: counts must be non-negative and weights positive")
        for name, arr in arrays.items():
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "answered", answered)
        object.__setattr__(self, "satisfied", satisfied)
        object.__setattr__(self, "n_domains", int(self.n_domains))


def index_estimates(
    patterns: Patterns,
    element_of_item,
    *,
    level: float = 0.95,
    single_unit: str = "adjust",
    moments: Moments | None = None,
) -> tuple[EstimateTable, EstimateTable]:
    """Element indices (domains × elements) and the overall index (domains,) with intervals.

    The value is the mean of the item shares (an element is blank, NaN, when one of its items
    has no answers in the domain; the overall index when an element is blank). The variance is
    linearised over respondents; n, n_eff and df are those of the respondents who answered at
    least one of the index's items; the interval is Wilson's with the effective size
    p(1 − p)/V and Student's t on those df (the Kish size where V is 0, at 0 or 1).

    ``moments`` (same items, domains and design) adds respondent groups given as sums
    (:mod:`analysis.moments`), e.g. a year's rollup rows, to the patterns' respondents.
    """
    level = check_level(level)
    element_of_item = np.asarray(element_of_item, dtype=np.int64)
    n_items = patterns.answered.shape[1]
    if element_of_item.shape != (n_items,):
        raise ValueError(f"element_of_item needs one entry per item ({n_items})")
    n_elements = int(element_of_item.max(initial=-1)) + 1
    if n_elements and (np.bincount(element_of_item, minlength=n_elements) == 0).any():
        raise ValueError("an element has no items")
    nd = patterns.n_domains
    m = moments if moments is not None else _no_moments(n_items, n_elements, nd)
    if m.n_items != n_items or m.n_domains != nd or m.members.shape[1] != n_elements:
        raise ValueError("moments: the same items, elements and domains as the patterns")
    if m.domain.size and patterns.design is None:
        raise ValueError("moments need the whole sample's design (their rows are not units)")
    rows = _Rows(patterns, m)
    dom, wm = patterns.domain, patterns.count * patterns.weight
    answered = np.ascontiguousarray(patterns.answered.T)  # items × rows: columns contiguous
    satisfied = np.ascontiguousarray(patterns.satisfied.T)
    m_a, m_s = m.totals()
    asked = answered.any(axis=1) | m_a.any(axis=0)  # items nobody answered: skip their passes
    t_a = np.zeros((nd, n_items))
    t_s = np.zeros((nd, n_items))
    for k in np.flatnonzero(asked):
        t_a[:, k] = np.bincount(dom, wm * answered[k], nd) + np.bincount(
            m.domain, m.weight * m_a[:, k], nd
        )
        t_s[:, k] = np.bincount(dom, wm * satisfied[k], nd) + np.bincount(
            m.domain, m.weight * m_s[:, k], nd
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        # Σ m·w·s adds the same terms as Σ m·w·a when every answer is satisfied: exactly 1.
        share = t_s / t_a
    size = np.bincount(element_of_item, minlength=n_elements).astype(float)
    alpha = 1.0 / size[element_of_item]
    groups = strata_groups(rows.domain, rows.stratum, nd, patterns.design)
    tables = []
    u_sum, coef_sum = np.zeros(dom.size), np.zeros((nd, 2 * n_items))
    values = np.full((nd, n_elements), np.nan)
    for e in range(n_elements):
        items = np.flatnonzero(element_of_item == e)
        values[:, e] = share[:, items].mean(axis=1)  # NaN if an item has no answers
        u, coef = _linearised(dom, items, alpha, share, t_a, answered, satisfied)
        u_sum += u
        coef_sum += coef
        member = answered[items].any(axis=0)
        tables.append(
            _index_table(
                rows, groups, member, m.members[:, e], u, coef, values[:, e], level, single_unit
            )
        )
    overall_value = values.mean(axis=1) if n_elements else np.full(nd, np.nan)
    scale = 1.0 / max(n_elements, 1)
    overall = _index_table(
        rows,
        groups,
        answered.any(axis=0),
        m.count,
        u_sum * scale,
        coef_sum * scale,
        overall_value,
        level,
        single_unit,
    )
    return _stack(tables, nd, level), overall


class _Rows:
    """The patterns' rows followed by the moments' rows: one design's unit groups."""

    def __init__(self, patterns: Patterns, moments: Moments):
        self.patterns, self.moments = patterns, moments
        self.domain = np.concatenate([patterns.domain, moments.domain])
        self.stratum = np.concatenate([patterns.stratum, moments.stratum])
        self.weight = np.concatenate([patterns.weight, moments.weight])
        self.n_domains = patterns.n_domains

    def values(self, u, coef):
        """Per row: units, Σ u / units and Σ u² / units (a moments row is one unit of Σ u)."""
        first, second = self.moments.linear(coef[self.moments.domain])
        ones = np.ones(self.moments.domain.size)
        return (
            np.concatenate([self.patterns.count, ones]),
            np.concatenate([u, first]),
            np.concatenate([u * u, second]),
        )


def _no_moments(n_items: int, n_elements: int, nd: int) -> Moments:
    width = 2 * n_items * (2 * n_items + 1) // 2
    empty = np.zeros(0)
    return Moments(empty, empty, empty, empty, np.zeros((0, n_elements)), np.zeros((0, width)), nd)


def _linearised(dom, items, alpha, share, t_a, answered, satisfied):
    """Each pattern row's Σ_k α_k (s_k − p_k a_k) / T(a_k) over ``items`` (0 for an unanswered
    item), and the domains' coefficients of (a_1 … a_K, s_1 … s_K) in that sum."""
    u = np.zeros(dom.size)
    n_items = t_a.shape[1]
    coef = np.zeros((t_a.shape[0], 2 * n_items))
    for k in items:
        if not t_a[:, k].any():  # nobody answered it: the element is blank everywhere
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            beta = np.where(t_a[:, k] > 0, alpha[k] / t_a[:, k], 0.0)
            gamma = np.where(t_a[:, k] > 0, beta * share[:, k], 0.0)
        u += beta[dom] * satisfied[k] - gamma[dom] * answered[k]
        coef[:, k], coef[:, n_items + k] = -gamma, beta
    return u, coef


def _index_table(rows, groups, member, m_members, u, coef, value, level, single_unit):
    """The index's estimate per domain from its respondents' linearised values."""
    nd = rows.n_domains
    cnt = np.concatenate([np.where(member, rows.patterns.count, 0.0), m_members])
    wm = cnt * rows.weight
    n = np.bincount(rows.domain, cnt, nd)
    with np.errstate(divide="ignore", invalid="ignore"):
        kish = np.bincount(rows.domain, wm, nd) ** 2 / np.bincount(
            rows.domain, wm * rows.weight, nd
        )
    n_eff = np.where(n > 0, kish, 0.0)
    units, u_mean, u_sq = rows.values(u, coef)
    var = linearised_variance(
        rows.domain,
        rows.stratum,
        units,
        rows.weight,
        u_mean,
        nd,
        single_unit=single_unit,
        groups=groups,
        u_sq=u_sq,
    )
    value = np.where(n > 0, value, np.nan)
    var = np.where(np.isnan(value), np.nan, var)
    # At 0 or 1 every respondent's linearised value is 0: exactly, whatever the rounding.
    var = np.where((value == 0.0) | (value == 1.0), 0.0, var)
    df = n - groups.strata_per_domain(cnt)
    low, high = proportion_interval(value, var, df, n_eff, n, "wilson", level)
    return EstimateTable(
        value=value,
        se=np.sqrt(var),
        low=low,
        high=high,
        n=n.astype(np.int64),
        n_eff=n_eff,
        df=df.astype(np.int64),
        method="wilson",
        level=level,
    )


def _stack(tables: list[EstimateTable], nd: int, level: float) -> EstimateTable:
    """Per-element tables side by side as one (domains, elements) table."""
    if not tables:
        nan = np.full((nd, 0), np.nan)
        zero = np.zeros((nd, 0), dtype=np.int64)
        return EstimateTable(nan, nan, nan, nan, zero, nan, zero, "wilson", level)
    arrays = {k: np.stack([getattr(t, k) for t in tables], axis=-1) for k in EstimateTable._ARRAYS}
    return EstimateTable(**arrays, method="wilson", level=level)


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
    single_unit: str = "adjust",
    score_bounds=(1.0, 5.0),
):
    """Share satisfied and mean score per office × question, as two (offices, questions) tables.

    The cells' domain must be :func:`domain_code` of office and question. A mean score's
    interval is clipped to ``score_bounds`` (the 1–5 scale; None: not clipped).
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
            design=cells.design,
        )
    )
    shares = proportion_cells(
        cells, threshold=threshold, method=method, level=level, single_unit=single_unit
    )
    means = mean_cells(cells, level=level, single_unit=single_unit, bounds=score_bounds)
    return shares.reshape(n_offices, n_questions), means.reshape(n_offices, n_questions)


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
