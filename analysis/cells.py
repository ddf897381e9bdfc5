"""Estimates from aggregated cell counts, vectorised over every domain at once.

A cell is a group of respondents with the same domain, stratum, answer value and weight;
SQL gives these with one GROUP BY. Because the weight is constant within a cell, the counts are
sufficient statistics: the value, linearised variance, Kish size and df computed here equal those
of :func:`analysis.proportion` and :func:`analysis.mean` on the unit records.

Without a :class:`~analysis.design.Design` each domain is a design of its own cells (right when
domains are whole strata, e.g. offices); with one, each domain is a domain of the whole sample's
design, as R survey's ``subset`` (skipped questions, services within a post-stratum).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .design import Design, StrataGroups, compact, linearised_variance, strata_groups
from .estimates import EstimateTable
from .intervals import check_level, check_method, mean_interval, proportion_interval

SATISFIED_FROM = 4


@dataclass(frozen=True)
class Cells:
    """Parallel 1-D arrays, one entry per cell (domain × stratum × value [× weight])."""

    domain: np.ndarray
    stratum: np.ndarray
    value: np.ndarray
    count: np.ndarray
    weight: np.ndarray
    population: np.ndarray | None = None
    n_domains: int | None = None
    design: Design | None = None

    def __post_init__(self):
        count = np.asarray(self.count)
        arrays = {
            "domain": np.asarray(self.domain, dtype=np.int64),
            "stratum": np.asarray(self.stratum, dtype=np.int64),
            "value": np.asarray(self.value, dtype=float),
            "count": count.astype(float),
            "weight": np.asarray(self.weight, dtype=float),
        }
        if self.population is not None:
            arrays["population"] = np.asarray(self.population, dtype=float)
        size = arrays["domain"].size
        for name, arr in arrays.items():
            if arr.ndim != 1 or arr.size != size:
                raise ValueError(f"cells.{name} must be 1-D with {size} entries")
            if name not in ("domain", "stratum") and np.isnan(arr.min(initial=0.0)):
                raise ValueError(f"cells.{name} contains NaN")
        if size and (arrays["domain"].min() < 0 or arrays["stratum"].min() < 0):
            raise ValueError("domain and stratum codes must be non-negative integers")
        if count.dtype.kind != "i" and (arrays["count"] != np.round(arrays["count"])).any():
            raise ValueError("counts must be whole numbers")
        if arrays["count"].min(initial=0.0) < 0:
            raise ValueError("counts must not be negative")
        if arrays["weight"].min(initial=1.0) <= 0:
            raise ValueError("weights must be positive")
        n_domains = int(arrays["domain"].max()) + 1 if size else 0
        if self.n_domains is not None:
            if n_domains > self.n_domains:
                raise ValueError(f"a domain code is {n_domains - 1}, n_domains={self.n_domains}")
            n_domains = int(self.n_domains)
        for name, arr in arrays.items():
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "n_domains", n_domains)

    @classmethod
    def from_records(
        cls,
        domain,
        stratum,
        value,
        weights=None,
        population=None,
        n_domains: int | None = None,
        design: Design | None = None,
    ) -> Cells:
        """Aggregate unit records into cells (what the SQL GROUP BY does)."""
        cols = [
            np.asarray(domain, dtype=np.int64),
            np.asarray(stratum, dtype=np.int64),
            np.asarray(value, dtype=float),
        ]
        cols.append(np.ones(cols[0].size) if weights is None else np.asarray(weights, float))
        if population is not None:
            cols.append(np.asarray(population, dtype=float))
        if len({c.size for c in cols}) != 1:
            raise ValueError("records: arrays of different lengths")
        order = np.lexsort(cols[::-1])
        rows = np.column_stack([c[order] for c in cols]) if cols[0].size else np.empty((0, 5))
        first = np.ones(len(rows), dtype=bool)
        first[1:] = (rows[1:] != rows[:-1]).any(axis=1)
        starts = np.flatnonzero(first)
        count = np.diff(np.append(starts, len(rows)))
        cell = rows[starts]
        return cls(
            domain=cell[:, 0],
            stratum=cell[:, 1],
            value=cell[:, 2],
            count=count,
            weight=cell[:, 3],
            population=cell[:, 4] if population is not None else None,
            n_domains=n_domains,
            design=design,
        )

    @cached_property
    def _strata(self) -> StrataGroups:
        """The (domain, stratum) groups, shared by every value estimated from these cells."""
        if self.design is None and self.population is not None:
            _check_population(self)
        return strata_groups(self.domain, self.stratum, self.n_domains, self.design)

    @cached_property
    def _groups(self) -> dict:
        """Per domain sums that do not depend on the values, computed once."""
        nd = self.n_domains
        cnt, w = self.count, self.weight
        wm = cnt * w
        return {
            "wm": wm,
            "n": np.bincount(self.domain, cnt, nd),
            "total_w": np.bincount(self.domain, wm, nd),
            "domain_w2": np.bincount(self.domain, wm * w, nd),
            "strata": self._strata.strata_per_domain(cnt),
        }


def _check_population(cells: Cells) -> None:
    """Without a design the population must be constant within each (domain, stratum)."""
    key = compact(cells.domain * (int(cells.stratum.max(initial=0)) + 1) + cells.stratum)
    n_groups = int(key.max(initial=-1)) + 1
    pop = np.zeros(n_groups)
    pop[key] = cells.population
    if (pop[key] != cells.population).any():
        raise ValueError("population must be the same for every cell of a stratum")
    n_h = np.bincount(key, cells.count, n_groups)
    occupied = n_h > 0
    if (pop[occupied] < n_h[occupied]).any():
        raise ValueError("population is smaller than the respondents of a stratum")


def proportion_cells(
    cells: Cells,
    *,
    threshold: float | None = None,
    method: str = "wilson",
    level: float = 0.95,
    single_unit: str = "adjust",
) -> EstimateTable:
    """Weighted share per domain with its interval; ``threshold=4`` counts 4s and 5s as ones."""
    check_method(method)
    level = check_level(level)
    if threshold is None:
        if not np.isin(cells.value, (0.0, 1.0)).all():
            raise ValueError("values must be 0/1; pass threshold=4 for answers on the 1–5 scale")
        y = cells.value
    else:
        y = (cells.value >= threshold).astype(float)
    lin = _linearise_cells(cells, y, single_unit)
    d = cells._groups
    # With 0/1 values Σ m·w·y adds exactly the same terms as Σ m·w when all are ones, so
    # these comparisons are exact: rounding never hides an all-satisfied domain.
    at_one = (lin["sum_y"] == d["total_w"]) & (d["n"] > 0)
    at_zero = (lin["sum_y"] == 0) & (d["n"] > 0)
    p = np.where(at_one, 1.0, np.where(at_zero, 0.0, lin["value"]))
    lin["var"] = np.where(at_one | at_zero, 0.0, lin["var"])
    low, high = proportion_interval(p, lin["var"], lin["df"], lin["n_eff"], d["n"], method, level)
    return _table(lin, p, low, high, method, level)


def mean_cells(
    cells: Cells, *, level: float = 0.95, single_unit: str = "adjust", bounds=None
) -> EstimateTable:
    """Weighted mean of the cell values per domain with a t interval (clipped to ``bounds``)."""
    level = check_level(level)
    lin = _linearise_cells(cells, cells.value, single_unit)
    low, high = mean_interval(lin["value"], np.sqrt(lin["var"]), lin["df"], level, bounds)
    return _table(lin, lin["value"], low, high, "t", level)


def _table(lin, value, low, high, method, level) -> EstimateTable:
    return EstimateTable(
        value=value,
        se=np.sqrt(lin["var"]),
        low=low,
        high=high,
        n=lin["n"].astype(np.int64),
        n_eff=lin["n_eff"],
        df=lin["df"].astype(np.int64),
        method=method,
        level=level,
    )


def _linearise_cells(cells: Cells, y: np.ndarray, single_unit: str) -> dict:
    """Per-domain value, linearised variance, Kish n_eff and df from cell counts.

    Each respondent's linearised value is z = w (y − ŷ) / W over its domain;
    :func:`analysis.design.linearised_variance` adds it up by stratum.
    """
    d = cells._groups
    sum_y = np.bincount(cells.domain, d["wm"] * y, cells.n_domains)
    empty = d["n"] == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        value = sum_y / d["total_w"]
        # A cell of no respondents (count 0) in an empty domain adds nothing.
        u = np.nan_to_num((y - value[cells.domain]) / d["total_w"][cells.domain])
        n_eff = d["total_w"] ** 2 / d["domain_w2"]
    var = linearised_variance(
        cells.domain,
        cells.stratum,
        cells.count,
        cells.weight,
        u,
        cells.n_domains,
        population=cells.population,
        single_unit=single_unit,
        groups=cells._strata,
    )
    var[empty] = np.nan
    return {
        "value": value,
        "var": var,
        "n": d["n"],
        "n_eff": np.where(empty, 0.0, n_eff),
        "df": d["n"] - d["strata"],
        "sum_y": sum_y,
    }
