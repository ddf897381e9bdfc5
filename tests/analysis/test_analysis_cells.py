"""Estimates from cell counts equal the unit-record estimators, for every domain at once."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis import (
    Cells,
    Estimate,
    EstimateTable,
    domain_code,
    mean,
    mean_cells,
    proportion,
    proportion_cells,
)

FIELDS = ["value", "se", "low", "high", "n_eff"]


def _records(seed, n=4000, n_domains=9, n_strata=4):
    rng = np.random.default_rng(seed)
    domain = rng.integers(0, n_domains, n)
    stratum = rng.integers(0, n_strata, n)
    # Weights constant within domain × stratum (post-stratified), population per stratum.
    w_table = rng.uniform(0.5, 20.0, (n_domains, n_strata))
    weight = w_table[domain, stratum]
    population = np.bincount(domain * n_strata + stratum, minlength=n_domains * n_strata)
    population = (population * rng.uniform(1.0, 5.0, population.size)).round() + 1
    fpc = population[domain * n_strata + stratum]
    value = rng.choice([1, 2, 3, 4, 5], n, p=[0.05, 0.1, 0.15, 0.4, 0.3]).astype(float)
    return domain, stratum, value, weight, fpc


def _assert_same(table_est: Estimate, unit_est: Estimate):
    for field in FIELDS:
        assert getattr(table_est, field) == pytest.approx(getattr(unit_est, field), rel=1e-9)
    assert (table_est.n, table_est.df) == (unit_est.n, unit_est.df)


@pytest.mark.parametrize("use_fpc", [False, True])
@pytest.mark.parametrize("method", ["wilson", "korn-graubard", "logit", "wald"])
def test_cells_equal_unit_records(use_fpc, method):
    domain, stratum, value, weight, fpc = _records(seed=11)
    pop = fpc if use_fpc else None
    cells = Cells.from_records(domain, stratum, value, weight, pop)
    assert cells.count.sum() == value.size and cells.count.size < value.size / 10
    shares = proportion_cells(cells, threshold=4, method=method, level=0.9)
    means = mean_cells(cells, level=0.9)
    for d in range(9):
        keep = domain == d
        args = (weight[keep], stratum[keep], None if pop is None else pop[keep])
        _assert_same(shares[d], proportion(value[keep] >= 4, *args, method=method, level=0.9))
        _assert_same(means[d], mean(value[keep], *args, level=0.9))


@settings(max_examples=40, deadline=None, database=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(12, 200),
    n_strata=st.integers(1, 3),
    use_fpc=st.booleans(),
)
def test_cells_equal_unit_records_on_random_designs(seed, n, n_strata, use_fpc):
    rng = np.random.default_rng(seed)
    stratum = np.repeat(np.arange(n_strata), 2)  # every stratum has at least two respondents
    stratum = np.r_[stratum, rng.integers(0, n_strata, n - stratum.size)]
    weight = rng.choice([1.0, 2.5, 7.25], n)  # weights may vary within a stratum too
    y = (rng.random(n) < rng.random()).astype(float)
    pop = (np.bincount(stratum) * 3)[stratum] if use_fpc else None
    cells = Cells.from_records(np.zeros(n), stratum, y, weight, pop)
    for method in ("wilson", "korn-graubard"):
        _assert_same(
            proportion_cells(cells, method=method)[0],
            proportion(y, weight, stratum, pop, method=method),
        )
    _assert_same(mean_cells(cells)[0], mean(y, weight, stratum, pop))


def test_many_questions_at_once_and_reshape():
    domain, stratum, value, weight, _ = _records(seed=3, n=3000, n_domains=12)
    office, question = np.divmod(domain, 3)  # 4 offices × 3 questions
    cells = Cells.from_records(domain_code(office, question, 3), stratum, value, weight)
    table = proportion_cells(cells, threshold=4).reshape(4, 3)
    assert table.shape == (4, 3)
    keep = (office == 2) & (question == 1)
    _assert_same(table[2, 1], proportion(value[keep] >= 4, weight[keep], stratum[keep]))
    assert table.select(np.s_[:, 0]).shape == (4,)


def test_empty_domain_is_nan_and_unreliable():
    cells = Cells(
        domain=[0, 0, 2, 2],
        stratum=[0, 0, 0, 0],
        value=[1, 0, 1, 1],
        count=[30, 10, 5, 4],
        weight=[1, 1, 2, 2],
        n_domains=4,
    )
    table = proportion_cells(cells)
    assert np.isnan(table.value[[1, 3]]).all() and np.isnan(table.low[[1, 3]]).all()
    assert table.n.tolist() == [40, 0, 9, 0]
    assert table.reliable.tolist() == [True, False, False, False]
    assert np.isnan(table.deff[1])
    assert table[2].value == 1.0 and table[2].se == 0.0 and table[2].high == 1.0
    assert table[2].low == pytest.approx(proportion(np.ones(9)).low, rel=1e-12)


def test_all_zero_domain_gives_zero_share():
    cells = Cells(domain=[0, 0], stratum=[0, 1], value=[0, 0], count=[12, 8], weight=[1, 3])
    est = proportion_cells(cells, method="korn-graubard")[0]
    assert (est.value, est.low, est.se) == (0.0, 0.0, 0.0) and 0 < est.high < 0.3


def test_single_unit_stratum_fails_or_is_adjusted():
    cells = Cells(
        domain=[0, 0, 0, 1, 1],
        stratum=[0, 0, 1, 0, 0],
        value=[1, 0, 1, 1, 0],
        count=[10, 5, 1, 4, 4],
        weight=[1, 1, 3, 1, 1],
    )
    with pytest.raises(ValueError, match="single respondent"):
        proportion_cells(cells, single_unit="fail")
    table = proportion_cells(cells)  # "adjust" by default, as the report and R's option
    w = np.r_[np.ones(15), 3.0]
    y = np.r_[np.ones(10), np.zeros(5), 1.0]
    p = np.dot(w, y) / w.sum()
    z = w * (y - p) / w.sum()
    # The lone unit contributes its squared deviation from the domain mean of z (zero).
    var = 15 / 14 * np.sum((z[:15] - z[:15].mean()) ** 2) + z[15] ** 2
    assert table.se[0] == pytest.approx(np.sqrt(var), rel=1e-12)
    assert table.df[0] == 16 - 2
    with pytest.raises(ValueError, match="single_unit"):
        proportion_cells(cells, single_unit="ignore")


def test_zero_df_gives_nan_interval():
    cells = Cells(domain=[0], stratum=[0], value=[1.0], count=[1], weight=[1.0])
    est = mean_cells(cells, single_unit="adjust")[0]
    assert est.df == 0 and np.isnan(est.low) and np.isnan(est.high)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"count": [1, -1]}, "negative"),
        ({"count": [1, 1.5]}, "whole"),
        ({"weight": [1, 0]}, "positive"),
        ({"value": [1, np.nan]}, "NaN"),
        ({"domain": [0, -1]}, "non-negative"),
        ({"stratum": [0]}, "1-D"),
        ({"population": [5, 6]}, "same"),
        ({"population": [2, 2]}, "smaller"),
    ],
)
def test_bad_cells_raise(kwargs, message):
    base = {"domain": [0, 0], "stratum": [0, 0], "value": [1, 0], "count": [2, 1], "weight": [1, 1]}
    with pytest.raises(ValueError, match=message):
        proportion_cells(Cells(**{**base, **kwargs}))


def test_values_must_be_binary_without_threshold():
    cells = Cells(domain=[0, 0], stratum=[0, 0], value=[4, 2], count=[2, 2], weight=[1, 1])
    with pytest.raises(ValueError, match="threshold"):
        proportion_cells(cells)
    assert proportion_cells(cells, threshold=4).value[0] == 0.5
    with pytest.raises(ValueError, match="n_domains"):
        Cells(domain=[3], stratum=[0], value=[1], count=[2], weight=[1], n_domains=2)


def test_table_helpers():
    cells = Cells(
        domain=[0, 0, 1, 1],
        stratum=[0, 0, 0, 0],
        value=[1, 0, 1, 0],
        count=[20, 20, 5, 5],
        weight=[1, 1, 1, 3],
    )
    table = proportion_cells(cells)
    assert isinstance(table, EstimateTable) and len(table) == 2
    assert table.deff[0] == pytest.approx(1.0)
    assert table.as_dict()["reliable"].tolist() == [True, False]
    with pytest.raises(IndexError):
        table[:]


def test_no_cells_at_all_gives_empty_unreliable_domains():
    """A period without any answers (a new office, a quiet month) is not an error."""
    none = np.array([], dtype=np.int64)
    cells = Cells(
        domain=none,
        stratum=none,
        value=none,
        count=none,
        weight=np.array([], dtype=float),
        n_domains=3,
    )
    for table in (proportion_cells(cells, threshold=4), mean_cells(cells)):
        assert np.isnan(table.value).all() and np.isnan(table.low).all()
        assert table.n.tolist() == [0, 0, 0] and not table.reliable.any()


def test_single_unit_stratum_gets_its_fpc_as_in_r():
    """The R case of test_single_respondent_stratum_as_r_lonely_psu_adjust, as cells."""
    cells = Cells.from_records(
        np.zeros(8),
        [0, 0, 0, 0, 1, 2, 2, 2],
        [1, 0, 1, 1, 0, 1, 1, 0],
        [2, 2, 3, 3, 4, 1.5, 1.5, 1.5],
        [20, 20, 20, 20, 6, 9, 9, 9],
    )
    assert proportion_cells(cells).se[0] == pytest.approx(0.174771715051274, rel=1e-12)


def test_mean_score_interval_stays_on_the_scale_and_wald_inside_zero_one():
    # Two respondents scoring 1 and 5: the t interval on 1 df is about 3 ± 25.
    cells = Cells(domain=[0, 0], stratum=[0, 0], value=[1.0, 5.0], count=[1, 1], weight=[1, 1])
    raw = mean_cells(cells, bounds=None)[0]
    assert raw.low < -15 and raw.high > 20
    clipped = mean_cells(cells, bounds=(1.0, 5.0))[0]
    assert (clipped.low, clipped.high) == (1.0, 5.0) and clipped.value == raw.value == 3.0
    # 19 of 20 satisfied: Wald's p + t·se passes 1, and is clipped there.
    yes = Cells(domain=[0, 0], stratum=[0, 0], value=[1.0, 0.0], count=[19, 1], weight=[1, 1])
    wald = proportion_cells(yes, method="wald")[0]
    assert wald.value + 2.09 * wald.se > 1.0 and wald.high == 1.0


@pytest.mark.parametrize("codes", [[0, 1, 2, 3], [3, 10, 11, 40]])
def test_design_rows_of_dense_and_sparse_stratum_codes(codes):
    # Codes 0 … k − 1 are their own rows (the report numbers its strata so); others are
    # looked up. A code the design lacks is an error either way, never a wrong row.
    from analysis import Design

    design = Design.from_units(codes, [2, 3, 1, 4], [1.0, 2.0, 1.5, 1.0])
    assert design.rows([codes[2], codes[0], codes[3]]).tolist() == [2, 0, 3]
    for missing in (-1, 4, 5):
        with pytest.raises(ValueError, match="not in the design"):
            design.rows([codes[1], missing])


@pytest.mark.parametrize(
    "w0, v0, w1, v1",
    [
        (2.4263119603353074, 2, [6.736254211045907, 4.565771887534674, 29.520622913561986], 1),
        (17.398934763253067, 4, [20.466490473340915, 4.287638699548774, 6.7206042118381975], 5),
    ],
)
def test_a_variance_that_is_zero_is_never_negative(w0, v0, w1, v1):
    """A domain of two post-strata, one a single respondent, each of one value: every
    calibrated residual is 0, so the variance is 0 (R: SE 0), an interval of one point. The
    post-strata's expansion sums it from three terms, whose rounding left it at -4e-18 (a
    NaN standard error, a blank interval) before it was bounded at 0."""
    from analysis.design import Design

    stratum = np.array([0, 1, 1, 1])
    weight = np.array([w0, *w1])
    value = np.array([v0, v1, v1, v1], dtype=float)
    count = np.ones(4)
    design = Design.from_units(stratum, count, weight, poststratum=stratum)
    cells = Cells(
        domain=np.zeros(4, dtype=int),
        stratum=stratum,
        value=value,
        count=count,
        weight=weight,
        n_domains=1,
        design=design,
    )
    table = mean_cells(cells)
    expected = (weight * value).sum() / weight.sum()
    assert table.value[0] == pytest.approx(expected)
    assert table.se[0] == 0.0
    assert table.low[0] == pytest.approx(expected) and table.high[0] == pytest.approx(expected)
