"""Estimates from aggregated cell counts, vectorised over every domain at once.

A cell is a group of respondents with the same domain, stratum, answer value and weight;
SQL gives these with one GROUP BY. Because the weight is constant within a cell, the counts are
sufficient statistics: the value, linearised variance, Kish size and df computed here equal those
of :func:`analysis.proportion` and :func:`analysis.mean` on the unit records.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

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
        cls, domain, stratum, value, weights=None, population=None, n_domains: int | None = None
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
        )

    @cached_property
    def _design(self) -> dict:
        """Per (domain, stratum) group sums that do not depend on the values, computed once."""
        nd = self.n_domains
        cnt, w = self.count, self.weight
        key = _compact(self.domain * (int(self.stratum.max(initial=0)) + 1) + self.stratum)
        n_groups = int(key.max(initial=-1)) + 1
        group_domain = np.zeros(n_groups, dtype=np.int64)
        group_domain[key] = self.domain
        n_h = np.bincount(key, cnt, n_groups)
        wm = cnt * w
        keep = np.ones(n_groups)
        if self.population is not None:
            pop = np.zeros(n_groups)
            pop[key] = self.population
            if (pop[key] != self.population).any():
                raise ValueError("population must be the same for every cell of a stratum")
            occupied = n_h > 0
            if (pop[occupied] < n_h[occupied]).any():
                raise ValueError("population is smaller than the respondents of a stratum")
            keep[occupied] = 1.0 - n_h[occupied] / pop[occupied]
        sum_w = np.bincount(key, wm, n_groups)
        sum_w2 = np.bincount(key, wm * w, n_groups)
        return {
            "key": key,
            "n_groups": n_groups,
            "group_domain": group_domain,
            "n_h": n_h,
            "keep": keep,
            "wm": wm,
            "sum_w": sum_w,
            "sum_w2": sum_w2,
            "n": np.bincount(group_domain, n_h, nd),
            "total_w": np.bincount(group_domain, sum_w, nd),
            "domain_w2": np.bincount(group_domain, sum_w2, nd),
            "strata": np.bincount(group_domain, n_h > 0, nd),
        }


def _compact(key: np.ndarray) -> np.ndarray:
    """Renumber the (domain, stratum) keys present as 0, 1, 2, ... in the same order.

    Every per-group array below is as long as the largest key, and most domain × stratum
    combinations are empty (a stratum is one office's), so unused keys are squeezed out first.
    """
    key = np.asarray(key, dtype=np.int64)
    if not key.size:
        return key
    top = int(key.max()) + 1
    if top <= key.size:  # dense already
        return key
    if top > 64 * key.size + (1 << 20):  # very sparse: sorting beats a table as long as the keys
        return np.unique(key, return_inverse=True)[1].ravel()
    present = np.zeros(top, dtype=bool)
    present[key] = True
    return (np.cumsum(present) - 1)[key]


def proportion_cells(
    cells: Cells,
    *,
    threshold: float | None = None,
    method: str = "wilson",
    level: float = 0.95,
    single_unit: str = "fail",
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
    lin = _linearise_cells(cells, y, single_unit, binary=True)
    d = cells._design
    # With 0/1 values Σ m·w·y adds exactly the same terms as Σ m·w when all are ones, so
    # these comparisons are exact: rounding never hides an all-satisfied domain.
    at_one = (lin["sum_y"] == d["total_w"]) & (d["n"] > 0)
    at_zero = (lin["sum_y"] == 0) & (d["n"] > 0)
    p = np.where(at_one, 1.0, np.where(at_zero, 0.0, lin["value"]))
    lin["var"] = np.where(at_one | at_zero, 0.0, lin["var"])
    low, high = proportion_interval(p, lin["var"], lin["df"], lin["n_eff"], d["n"], method, level)
    return _table(lin, p, low, high, method, level)


def mean_cells(cells: Cells, *, level: float = 0.95, single_unit: str = "fail") -> EstimateTable:
    """Weighted mean of the cell values per domain with a t interval."""
    level = check_level(level)
    lin = _linearise_cells(cells, cells.value, single_unit)
    low, high = mean_interval(lin["value"], np.sqrt(lin["var"]), lin["df"], level)
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


def _linearise_cells(cells: Cells, y: np.ndarray, single_unit: str, binary: bool = False) -> dict:
    """Per-domain value, linearised variance, Kish n_eff and df from cell counts.

    With z = w (y − ŷ) / W, each stratum needs only Σ m z and Σ m z², which follow from the
    group sums of m·w·y, m·w²·y and m·w²·y²; so one pass over the cells per sum suffices.
    """
    if single_unit not in ("fail", "adjust"):
        raise ValueError(f"single_unit must be 'fail' or 'adjust', got {single_unit!r}")
    d = cells._design
    key, ng, n_h, gd = d["key"], d["n_groups"], d["n_h"], d["group_domain"]
    single = n_h == 1
    if single.any() and single_unit == "fail":
        bad = np.unique(gd[single])[:5].tolist()
        raise ValueError(
            f"a stratum has a single respondent (domains {bad}...); merge it into "
            "a neighbour or pass single_unit='adjust'"
        )
    # Centring y first keeps the sums of squares below from cancelling digits away.
    shift = 0.0 if binary else float(np.dot(cells.count, y) / max(cells.count.sum(), 1.0))
    yc = y - shift if shift else y
    term = d["wm"] * yc
    sum_y = np.bincount(key, term, ng)
    term *= cells.weight  # in place: these arrays are as long as the cells
    sum_wy = np.bincount(key, term, ng)
    if binary:
        sum_wyy = sum_wy
    else:
        term *= yc
        sum_wyy = np.bincount(key, term, ng)
    total_y = np.bincount(gd, sum_y, cells.n_domains)
    with np.errstate(divide="ignore", invalid="ignore"):
        value_c = total_y / d["total_w"]
        mu, big_w = value_c[gd], d["total_w"][gd]
        s1 = (sum_y - mu * d["sum_w"]) / big_w
        s2 = (sum_wyy - 2.0 * mu * sum_wy + mu * mu * d["sum_w2"]) / (big_w * big_w)
        ss = np.maximum(s2 - s1 * s1 / n_h, 0.0)
        var_h = d["keep"] * n_h / (n_h - 1.0) * ss
        n_eff = d["total_w"] ** 2 / d["domain_w2"]
    # As R's lonely.psu = "adjust": a lone unit deviates from the domain mean of z, which is 0.
    var_h[single] = s2[single]
    var_h[n_h == 0] = 0.0
    # float even with no cells at all, where numpy's bincount gives integers
    var = np.bincount(gd, var_h, cells.n_domains).astype(float)
    empty = d["n"] == 0
    var[empty] = np.nan
    return {
        "value": value_c + shift,
        "var": var,
        "n": d["n"],
        "n_eff": np.where(empty, 0.0, n_eff),
        "df": d["n"] - d["strata"],
        "sum_y": total_y,
    }
