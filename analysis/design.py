"""The whole sample's design, in which every domain is estimated, and its linearised variance.

A domain (an office's answers to one question, the respondents who answered one of an index's
items, one service's respondents) is estimated in the design of *every* respondent, as R
survey's ``subset`` does: a respondent outside the domain stays in its stratum with a
linearised value of 0, so the stratum's size n_h and finite-population correction
(1 − n_h/N_h) are the whole sample's, and the degrees of freedom are those of the domain's
respondents (their number less the strata they fall in; R's ``degf`` of the subset).

Post-stratified weights carry their own variance term: R's ``postStratify`` replaces each
respondent's linearised value z by its residual z − w·c_g, where c_g = Σ_g z / Σ_g w over the
post-stratum g (every respondent of g, in the domain or not). Variance strata nest in
post-strata, so the residual changes a stratum's variance only where weights differ within it
(several SMS sampling rates) or where the stratum has a single respondent.

A stratum with a single respondent has no within-stratum spread; as R's
``lonely.psu = "adjust"`` the respondent counts its squared residual, times (1 − 1/N_h).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SINGLE_UNIT = ("adjust", "fail")


@dataclass(frozen=True)
class Design:
    """Per variance stratum of the whole sample (rows in ``codes`` order, codes sorted)."""

    codes: np.ndarray  # the stratum codes the cells use
    respondents: np.ndarray  # n_h
    weight_sum: np.ndarray  # Σ w over the stratum
    weight_sq_sum: np.ndarray  # Σ w²
    keep: np.ndarray  # 1 − n_h / N_h (1 without a population)
    poststratum: np.ndarray  # dense post-stratum number, −1 if not post-stratified
    poststratum_weight: np.ndarray  # Σ w over each post-stratum (its population)

    @classmethod
    def from_units(cls, stratum, count, weight, population=None, poststratum=None) -> Design:
        """The design of respondent groups: ``count`` respondents of weight ``weight`` each.

        ``population`` (N_h, constant within a stratum; ``inf`` for none) gives the
        finite-population correction; ``poststratum`` (constant within a stratum, −1 for none)
        the calibration term of post-stratified weights.
        """
        stratum = np.asarray(stratum, dtype=np.int64)
        count = np.asarray(count, dtype=float)
        weight = np.asarray(weight, dtype=float)
        size = stratum.size
        for name, arr in (("count", count), ("weight", weight)):
            if arr.shape != (size,):
                raise ValueError(f"design: {name} needs one entry per unit group ({size})")
        if (count < 0).any() or (weight <= 0).any() or np.isnan(weight).any():
            raise ValueError("design: counts must be non-negative and weights positive")
        codes, h = np.unique(stratum, return_inverse=True)
        h = h.ravel()
        k = codes.size
        n_h = np.bincount(h, count, k)
        keep = np.ones(k)
        if population is not None:
            pop = _constant_per_stratum(np.asarray(population, dtype=float), h, k, "population")
            if (pop < n_h).any():
                raise ValueError("design: a stratum's population is smaller than its respondents")
            with np.errstate(divide="ignore", invalid="ignore"):
                keep = np.where(np.isinf(pop), 1.0, 1.0 - n_h / pop)
        wm = count * weight
        w_sum = np.bincount(h, wm, k)
        if poststratum is None:
            post = np.full(k, -1, dtype=np.int64)
            post_w = np.zeros(0)
        else:
            labels = _constant_per_stratum(np.asarray(poststratum, np.int64), h, k, "poststratum")
            post = np.full(k, -1, dtype=np.int64)
            calibrated = labels >= 0
            _, dense = np.unique(labels[calibrated], return_inverse=True)
            post[calibrated] = dense.ravel()
            post_w = np.bincount(post[calibrated], w_sum[calibrated])
        return cls(
            codes=codes,
            respondents=n_h,
            weight_sum=w_sum,
            weight_sq_sum=np.bincount(h, wm * weight, k),
            keep=keep,
            poststratum=post,
            poststratum_weight=post_w,
        )

    def rows(self, stratum) -> np.ndarray:
        """Row of each stratum code; a code the design lacks raises ValueError."""
        stratum = np.asarray(stratum, dtype=np.int64)
        if not self.codes.size:
            if stratum.size:
                raise ValueError("a cell's stratum is not in the design")
            return stratum
        k = self.codes.size
        if self.codes[0] == 0 and self.codes[-1] == k - 1:  # codes 0 … k − 1: a code is its row
            if stratum.size and (stratum.min() < 0 or stratum.max() >= k):
                raise ValueError("a cell's stratum is not in the design")
            return stratum
        pos = np.clip(np.searchsorted(self.codes, stratum), 0, k - 1)
        if (self.codes[pos] != stratum).any():
            raise ValueError("a cell's stratum is not in the design")
        return pos


def _constant_per_stratum(values, h, k, name) -> np.ndarray:
    """One value per stratum from per-unit values that must agree within the stratum."""
    if values.shape != h.shape:
        raise ValueError(f"design: {name} needs one entry per unit group ({h.size})")
    if np.isnan(values.astype(float)).any():
        raise ValueError(f"design: {name} contains NaN")
    out = np.zeros(k, dtype=values.dtype)
    out[h] = values
    if (out[h] != values).any():
        raise ValueError(f"design: {name} must be the same for every unit of a stratum")
    return out


def compact(key: np.ndarray) -> np.ndarray:
    """Renumber the keys present as 0, 1, 2, ... in the same order.

    Per-group arrays are as long as the largest key, and most domain × stratum combinations
    are empty (a stratum is one office's), so unused keys are squeezed out first.
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


@dataclass(frozen=True)
class StrataGroups:
    """The (domain, stratum) groups of a set of unit groups, worked out once for every value.

    ``key`` gives each unit group its (domain, stratum) group; ``domain`` and ``h`` (the design's
    row, or the stratum code without a design) describe the groups. With post-strata, the
    calibration layout: each calibrated group's (domain, post-stratum) pair ``dg``, and the
    ``expanded`` rows (every stratum of every post-stratum a domain touches) with ``at``, where
    the groups fall among them.
    """

    key: np.ndarray
    domain: np.ndarray
    h: np.ndarray
    n_domains: int
    design: Design | None
    calibrated: np.ndarray | None = None
    dg: np.ndarray | None = None
    dg_post: np.ndarray | None = None
    expanded: tuple | None = None  # (row's dg, domain, design row) per expanded row
    at: np.ndarray | None = None

    @property
    def size(self) -> int:
        """How many (domain, stratum) groups there are."""
        return self.domain.size

    def strata_per_domain(self, count) -> np.ndarray:
        """How many strata each domain's unit groups with a positive ``count`` fall in."""
        occupied = np.bincount(self.key, count, self.size) > 0
        return np.bincount(self.domain[occupied], minlength=self.n_domains).astype(float)


def strata_groups(domain, stratum, n_domains: int, design: Design | None = None) -> StrataGroups:
    """The (domain, stratum) groups of unit groups, and the design's calibration layout."""
    domain = np.asarray(domain, dtype=np.int64)
    stratum = np.asarray(stratum, dtype=np.int64)
    if design is None:
        h = stratum
        width = int(h.max(initial=0)) + 1
    else:
        h = design.rows(stratum)
        width = design.codes.size
    # Where each stratum lies in one domain (an office's strata, domains of offices or of their
    # groups) the stratum alone tells the group: a short key, no sort.
    dom_of = np.full(width, -1, dtype=np.int64)
    dom_of[h] = domain
    key = compact(h if (dom_of[h] == domain).all() else domain * width + h)
    top = int(key.max(initial=-1)) + 1
    present = np.zeros(top, dtype=bool)
    present[key] = True
    if not present.all():  # compact() may leave unused numbers: squeeze them out
        key = (np.cumsum(present) - 1)[key]
    ng = int(present.sum())
    g_dom = np.zeros(ng, dtype=np.int64)
    g_dom[key] = domain
    g_h = np.zeros(ng, dtype=np.int64)
    g_h[key] = h
    groups = StrataGroups(key=key, domain=g_dom, h=g_h, n_domains=n_domains, design=design)
    if design is None or not (design.poststratum[g_h] >= 0).any():
        return groups
    return _with_calibration(groups, design, width)


def _with_calibration(groups: StrataGroups, design: Design, width: int) -> StrataGroups:
    """Every stratum of each post-stratum a domain touches gets a row (expanded), including
    strata without a unit of the domain: their units' residuals −w·c_g are not zero."""
    post = design.poststratum[groups.h]
    cal = post >= 0
    n_post = design.poststratum_weight.size
    dg = compact(groups.domain[cal] * n_post + post[cal])
    n_dg = int(dg.max()) + 1
    dg_dom = np.zeros(n_dg, dtype=np.int64)
    dg_dom[dg] = groups.domain[cal]
    dg_post = np.zeros(n_dg, dtype=np.int64)
    dg_post[dg] = post[cal]
    # The strata of each post-stratum, as consecutive rows of a table sorted by post-stratum.
    calibrated = np.flatnonzero(design.poststratum >= 0)
    by_post = calibrated[np.argsort(design.poststratum[calibrated], kind="stable")]
    sizes = np.bincount(design.poststratum[calibrated], minlength=n_post)
    starts = np.cumsum(sizes) - sizes
    reps = sizes[dg_post]
    e_row = np.repeat(np.arange(n_dg), reps)
    offset = np.arange(e_row.size) - np.repeat(np.cumsum(reps) - reps, reps)
    e_h = by_post[starts[dg_post][e_row] + offset]
    e_dom = dg_dom[e_row]
    e_key = e_dom * width + e_h
    order = np.argsort(e_key, kind="stable")
    at = order[np.searchsorted(e_key[order], groups.domain[cal] * width + groups.h[cal])]
    return StrataGroups(
        key=groups.key,
        domain=groups.domain,
        h=groups.h,
        n_domains=groups.n_domains,
        design=design,
        calibrated=cal,
        dg=dg,
        dg_post=dg_post,
        expanded=(e_row, e_dom, e_h),
        at=at,
    )


def linearised_variance(
    domain,
    stratum,
    count,
    weight,
    u,
    n_domains: int,
    *,
    design: Design | None = None,
    population=None,
    single_unit: str = "adjust",
    groups: StrataGroups | None = None,
    u_sq=None,
) -> np.ndarray:
    """Variance per domain of Σ z, z = w·u, over unit groups (``count`` units of value ``u``).

    ``u`` is each unit's linearised value divided by its weight (for a ratio p = Σwy/Σwx over
    a domain: (y − p·x) / Σwx), 0 for units outside the domain (they may be left out).
    Without ``design`` each domain is a design of its own units (strata as given, ``population``
    per unit group for the fpc); with it, the whole sample's strata and post-strata apply.
    ``groups`` (:func:`strata_groups` of the same domain, stratum and design) saves working
    them out again when several values share them. ``u_sq``, the mean of u² over each group's
    units (default u²), lets a group stand for units of different values: a group of one unit
    with u = Σ u_i and u_sq = Σ u_i² adds what its units would (analysis.moments).
    """
    if single_unit not in SINGLE_UNIT:
        raise ValueError(f"single_unit must be 'adjust' or 'fail', got {single_unit!r}")
    if groups is None:
        groups = strata_groups(domain, stratum, n_domains, design)
    design = groups.design
    count = np.asarray(count, dtype=float)
    weight = np.asarray(weight, dtype=float)
    key, ng = groups.key, groups.size
    wz = count * weight * u
    t1 = np.bincount(key, wz, ng)
    t2 = np.bincount(key, wz * weight * u if u_sq is None else count * weight**2 * u_sq, ng)
    g_dom, g_h = groups.domain, groups.h
    if design is None:
        n_h = np.bincount(key, count, ng)
        keep = np.ones(ng)
        if population is not None:
            pop = np.zeros(ng)
            pop[key] = np.asarray(population, dtype=float)
            with np.errstate(divide="ignore", invalid="ignore"):
                keep = np.where((n_h > 0) & np.isfinite(pop), 1.0 - n_h / pop, 1.0)
    else:
        if groups.calibrated is not None:
            t3 = np.bincount(key, wz * weight, ng)
            g_dom, g_h, t1, t2 = _calibrate(design, groups, t1, t2, t3)
        n_h = design.respondents[g_h]
        keep = design.keep[g_h]
    single = n_h == 1
    if single_unit == "fail" and single.any():
        bad = np.unique(g_dom[single])[:5].tolist()
        raise ValueError(
            f"a stratum has a single respondent (domains {bad}...); merge it into "
            "a neighbour or pass single_unit='adjust'"
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        ss = np.maximum(t2 - t1 * t1 / n_h, 0.0)
        var_h = keep * n_h / (n_h - 1.0) * ss
    # R's lonely.psu = "adjust": no centring. t2 is a sum of squares, but the post-strata's
    # expansion (_calibrate) adds it up from three terms, which can leave a rounding error a
    # hair below 0 where it is 0 (a negative variance: a NaN standard error).
    var_h = np.where(single, keep * np.maximum(t2, 0.0), var_h)
    var_h = np.where(n_h > 0, var_h, 0.0)
    # float even with no groups at all, where numpy's bincount gives integers
    return np.bincount(g_dom, var_h, groups.n_domains).astype(float)


def _calibrate(design: Design, groups: StrataGroups, t1, t2, t3):
    """Per (domain, stratum) sums of the post-stratification residuals z − w·c_g, over the
    expanded rows; groups outside any post-stratum keep their sums."""
    cal = groups.calibrated
    n_dg = groups.dg_post.size
    c = np.bincount(groups.dg, t1[cal], n_dg) / design.poststratum_weight[groups.dg_post]
    e_row, e_dom, e_h = groups.expanded
    e_c = c[e_row]
    s1 = np.zeros(e_row.size)
    s2 = np.zeros(e_row.size)
    s3 = np.zeros(e_row.size)
    s1[groups.at], s2[groups.at], s3[groups.at] = t1[cal], t2[cal], t3[cal]
    sw, sw2 = design.weight_sum[e_h], design.weight_sq_sum[e_h]
    r1 = s1 - e_c * sw
    r2 = s2 - 2.0 * e_c * s3 + e_c * e_c * sw2
    keep = ~cal
    return (
        np.concatenate([groups.domain[keep], e_dom]),
        np.concatenate([groups.h[keep], e_h]),
        np.concatenate([t1[keep], r1]),
        np.concatenate([t2[keep], r2]),
    )
