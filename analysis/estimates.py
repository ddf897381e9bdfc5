"""Design-based shares and means from unit records, with R survey's linearised variance.

The design is ``svydesign(ids=~1, strata=~strata, weights=~weights, fpc=~fpc)``: each respondent
is a sampling unit, strata are independent, and the finite-population correction is optional.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .design import SINGLE_UNIT
from .intervals import check_level, check_method, mean_interval, proportion_interval

MIN_N_EFF = 30.0
MIN_DF = 8


@dataclass(frozen=True)
class Estimate:
    """One estimate with its standard error and confidence interval."""

    value: float
    se: float
    low: float
    high: float
    n: int
    n_eff: float
    df: int
    method: str
    level: float

    @property
    def reliable(self) -> bool:
        """True when the Kish size is at least 30 and the degrees of freedom at least 8."""
        return bool(is_reliable(self.n_eff, self.df))

    @property
    def deff(self) -> float:
        """Kish's design effect of the weights, n / n_eff = 1 + CV²."""
        return self.n / self.n_eff if self.n_eff > 0 else float("nan")


def is_reliable(n_eff, df):
    """Mask of estimates good enough to publish and rank (n_eff ≥ 30 and df ≥ 8)."""
    n_eff = np.asarray(n_eff, dtype=float)
    df = np.asarray(df, dtype=float)
    return (n_eff >= MIN_N_EFF) & (df >= MIN_DF)


def kish_n_eff(weights) -> float:
    """Kish's effective sample size (Σw)² / Σw²."""
    w = _as_weights(weights, None)
    return float(w.sum() ** 2 / np.dot(w, w))


def proportion(
    y,
    weights=None,
    strata=None,
    fpc=None,
    method: str = "wilson",
    level: float = 0.95,
    single_unit: str = "adjust",
) -> Estimate:
    """Weighted share of ones in ``y`` with a design-based interval (Wilson by default).

    A stratum with a single respondent is handled as R's ``lonely.psu = "adjust"`` (its
    squared deviation from the overall mean, times its fpc), or raises with ``"fail"``.
    """
    check_method(method)
    level = check_level(level)
    y = _as_values(y)
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("proportion needs 0/1 or boolean values")
    lin = _linearise(y, weights, strata, fpc, single_unit)
    # Decide the boundary on the counts, not on a ratio that rounding can pull off 0 or 1.
    p = float(y.max()) if y.min() == y.max() else lin["value"]
    low, high = proportion_interval(p, lin["var"], lin["df"], lin["n_eff"], lin["n"], method, level)
    return _estimate(lin, p, float(low), float(high), method, level)


def mean(
    y,
    weights=None,
    strata=None,
    fpc=None,
    level: float = 0.95,
    single_unit: str = "adjust",
    bounds=None,
) -> Estimate:
    """Weighted mean of ``y`` with a t interval from the linearised variance (clipped to
    ``bounds``, e.g. (1, 5) for a mean score, when given)."""
    level = check_level(level)
    lin = _linearise(_as_values(y), weights, strata, fpc, single_unit)
    low, high = mean_interval(lin["value"], np.sqrt(lin["var"]), lin["df"], level, bounds)
    return _estimate(lin, lin["value"], float(low), float(high), "t", level)


def _estimate(lin, value, low, high, method, level) -> Estimate:
    return Estimate(
        value=float(value),
        se=float(np.sqrt(lin["var"])),
        low=low,
        high=high,
        n=lin["n"],
        n_eff=lin["n_eff"],
        df=lin["df"],
        method=method,
        level=level,
    )


def _linearise(y, weights, strata, fpc, single_unit="adjust") -> dict:
    """Value, Taylor-linearised variance, n, Kish n_eff and df of a weighted ratio mean."""
    n = y.size
    w = _as_weights(weights, n)
    if strata is None:
        h = np.zeros(n, dtype=np.intp)
    else:
        labels = np.asarray(strata)
        if labels.shape != (n,):
            raise ValueError(f"strata has {labels.size} entries for {n} values")
        _, h = np.unique(labels, return_inverse=True)
        h = h.reshape(-1)
    n_strata = int(h.max()) + 1
    n_h = np.bincount(h, minlength=n_strata).astype(float)
    if single_unit not in SINGLE_UNIT:
        raise ValueError(f"single_unit must be 'adjust' or 'fail', got {single_unit!r}")
    single = n_h == 1
    if single.any() and single_unit == "fail":
        raise ValueError(
            "a stratum has a single respondent; merge it into a neighbour "
            "before estimating (see analysis.poststratify) or pass single_unit='adjust'"
        )
    total_w = w.sum()
    value = float(np.dot(w, y) / total_w)
    z = w * (y - value) / total_w
    zbar = np.bincount(h, z, n_strata) / n_h
    ss = np.bincount(h, (z - zbar[h]) ** 2, n_strata)
    keep = 1.0 - n_h / _stratum_population(fpc, h, n_h, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        var_h = keep * n_h / (n_h - 1.0) * ss
    # R's lonely.psu = "adjust": a lone unit's z is not centred (the mean of z is 0 overall).
    var_h[single] = (keep * np.bincount(h, z * z, n_strata))[single]
    var = float(np.sum(var_h))
    return {
        "value": value,
        "var": var,
        "n": n,
        "df": n - n_strata,
        "n_eff": float(total_w**2 / np.dot(w, w)),
    }


def _stratum_population(fpc, h, n_h, n) -> np.ndarray:
    """Population size per stratum from the per-unit ``fpc``; infinite when there is none."""
    if fpc is None:
        return np.full(n_h.shape, np.inf)
    pop = np.asarray(fpc, dtype=float)
    if pop.shape != (n,):
        raise ValueError(f"fpc has {pop.size} entries for {n} values")
    if np.isnan(pop).any():
        raise ValueError("fpc contains NaN")
    big = np.full(n_h.shape, -np.inf)
    small = np.full(n_h.shape, np.inf)
    np.maximum.at(big, h, pop)
    np.minimum.at(small, h, pop)
    if (big != small).any():
        raise ValueError("fpc must be the same for every unit of a stratum")
    if (big < n_h).any():
        raise ValueError("fpc is smaller than the number of respondents in a stratum")
    return big


def _as_values(y) -> np.ndarray:
    y = np.asarray(y, dtype=float)
    if y.ndim != 1:
        raise ValueError("y must be one-dimensional")
    if y.size == 0:
        raise ValueError("no data: y is empty")
    if np.isnan(y).any():
        raise ValueError("y contains NaN")
    return y


def _as_weights(weights, n) -> np.ndarray:
    if weights is None:
        if n is None:
            raise ValueError("no weights given")
        return np.ones(n)
    w = np.asarray(weights, dtype=float)
    if w.ndim != 1 or (n is not None and w.size != n):
        raise ValueError(f"weights has {w.size} entries for {n} values")
    if w.size == 0:
        raise ValueError("no data: weights is empty")
    if np.isnan(w).any():
        raise ValueError("weights contain NaN")
    if (w <= 0).any():
        raise ValueError("weights must be positive")
    return w


@dataclass(frozen=True)
class EstimateTable:
    """Many estimates as parallel numpy arrays (one entry per domain, any shape).

    A domain with no respondents has ``n = 0`` and NaN value, se and interval; like every
    estimate with too small an effective size it is marked unreliable.
    """

    value: np.ndarray
    se: np.ndarray
    low: np.ndarray
    high: np.ndarray
    n: np.ndarray
    n_eff: np.ndarray
    df: np.ndarray
    method: str
    level: float

    _ARRAYS = ("value", "se", "low", "high", "n", "n_eff", "df")

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape shared by every array of the table."""
        return self.value.shape

    def __len__(self) -> int:
        return len(self.value)

    @property
    def reliable(self) -> np.ndarray:
        """Mask of estimates with n_eff ≥ 30 and df ≥ 8."""
        return is_reliable(self.n_eff, self.df)

    @property
    def deff(self) -> np.ndarray:
        """Kish's design effect n / n_eff per domain (NaN for an empty domain)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.n_eff > 0, self.n / self.n_eff, np.nan)

    def __getitem__(self, index) -> Estimate:
        """The ``Estimate`` of one domain, e.g. ``table[3]`` or ``table[office, question]``."""
        parts = {k: getattr(self, k)[index] for k in self._ARRAYS}
        if np.ndim(parts["value"]) != 0:
            raise IndexError("index one domain; use select() for several")
        return Estimate(
            value=float(parts["value"]),
            se=float(parts["se"]),
            low=float(parts["low"]),
            high=float(parts["high"]),
            n=int(parts["n"]),
            n_eff=float(parts["n_eff"]),
            df=int(parts["df"]),
            method=self.method,
            level=self.level,
        )

    def select(self, index) -> EstimateTable:
        """A table of the domains picked by ``index`` (a mask, indices or a slice)."""
        return self._map(lambda a: a[index])

    def reshape(self, *shape: int) -> EstimateTable:
        """The same table with arrays reshaped, e.g. ``(n_offices, n_questions)``."""
        return self._map(lambda a: a.reshape(*shape))

    def as_dict(self) -> dict:
        """Plain dict of the arrays plus method, level, reliable and deff (for export)."""
        out = {k: getattr(self, k) for k in self._ARRAYS}
        out.update(method=self.method, level=self.level, reliable=self.reliable, deff=self.deff)
        return out

    def _map(self, fn) -> EstimateTable:
        return EstimateTable(
            **{k: fn(getattr(self, k)) for k in self._ARRAYS}, method=self.method, level=self.level
        )
