"""SIPAS item, element and overall indices, PAR points and the Decision 766 ratio."""

import numpy as np
import pytest
from scipy import stats

from analysis import (
    Cells,
    EstimateTable,
    complaint_free_ratio,
    domain_code,
    element_indices,
    item_estimates,
    mean,
    overall_index,
    par_points,
    proportion,
)


def _survey(seed=5, n=600, n_offices=3, n_items=4):
    """Respondents answering every item; items share a respondent effect (correlated)."""
    rng = np.random.default_rng(seed)
    office = rng.integers(0, n_offices, n)
    stratum = rng.integers(0, 2, n)
    weight = np.array([[1.0, 2.0], [1.5, 4.0], [2.0, 2.0]])[office, stratum]
    person = rng.normal(0.8, 1.0, n)
    answers = np.clip(np.round(3.2 + person[:, None] + rng.normal(0, 0.8, (n, n_items))), 1, 5)
    return office, stratum, weight, answers


def _cells(office, stratum, weight, answers):
    n, k = answers.shape
    question = np.tile(np.arange(k), n)
    rep = np.repeat(np.arange(n), k)
    return Cells.from_records(
        domain_code(office[rep], question, k), stratum[rep], answers.ravel(), weight[rep]
    )


def test_item_estimates_per_office_and_question():
    office, stratum, weight, answers = _survey()
    shares, means = item_estimates(_cells(office, stratum, weight, answers), 3, 4)
    assert shares.shape == means.shape == (3, 4)
    keep = office == 1
    direct = proportion(answers[keep, 2] >= 4, weight[keep], stratum[keep])
    assert shares[1, 2].value == pytest.approx(direct.value, rel=1e-12)
    assert shares[1, 2].low == pytest.approx(direct.low, rel=1e-9)
    assert means[1, 2].value == pytest.approx(
        mean(answers[keep, 2], weight[keep], stratum[keep]).value, rel=1e-12
    )


def test_element_index_is_mean_of_items_with_conservative_se():
    office, stratum, weight, answers = _survey()
    shares, _ = item_estimates(_cells(office, stratum, weight, answers), 3, 4)
    elements = element_indices(shares, [0, 0, 1, 1])
    assert elements.shape == (3, 2)
    assert elements.value == pytest.approx(
        np.stack([shares.value[:, :2].mean(1), shares.value[:, 2:].mean(1)], axis=1)
    )
    # Exact se: the respondent-level mean of the element's items (everyone answered both).
    for o in range(3):
        keep = office == o
        per_person = (answers[keep, :2] >= 4).mean(axis=1)
        exact = mean(per_person, weight[keep], stratum[keep])
        assert elements.value[o, 0] == pytest.approx(exact.value, rel=1e-12)
        assert exact.se <= elements.se[o, 0] <= shares.se[o, :2].max()
        assert elements.low[o, 0] <= exact.low and exact.high <= elements.high[o, 0]


def _table(value, se, n_eff, df):
    value = np.asarray(value, float)
    return EstimateTable(
        value=value,
        se=np.asarray(se, float),
        low=value - 0.1,
        high=value + 0.1,
        n=np.asarray(n_eff, np.int64),
        n_eff=np.asarray(n_eff, float),
        df=np.asarray(df, np.int64),
        method="wilson",
        level=0.95,
    )


def test_overall_index_hand_case():
    elements = _table([[0.8, 0.9, 0.7]], [[0.02, 0.04, 0.03]], [[100, 80, 120]], [[98, 77, 118]])
    overall = overall_index(elements)
    assert overall.shape == (1,)
    p, se, n = 0.8, 0.03, 80
    assert (overall.value[0], overall.se[0], overall.n_eff[0], overall.df[0]) == pytest.approx(
        (p, se, n, 77)
    )
    t = stats.t.ppf(0.975, 77)
    r = se * se / (p * (1 - p))  # 1 / effective size implied by the se
    centre, half = p + t * t * r / 2, t * np.sqrt(p * (1 - p) * r + t * t * r * r / 4)
    assert overall.low[0] == pytest.approx((centre - half) / (1 + t * t * r), rel=1e-12)
    assert overall.high[0] == pytest.approx((centre + half) / (1 + t * t * r), rel=1e-12)


def test_missing_item_makes_element_nan():
    items = _table([[0.8, np.nan, 0.9]], [[0.02, np.nan, 0.03]], [[50, 0, 40]], [[48, 0, 38]])
    elements = element_indices(items, [0, 0, 1])
    assert np.isnan(elements.value[0, 0]) and elements.value[0, 1] == pytest.approx(0.9)
    with pytest.raises(ValueError, match="one entry per column"):
        element_indices(items, [0, 1])
    with pytest.raises(ValueError, match="no members"):
        element_indices(items, [0, 2, 2])


def test_par_points_scale_the_index():
    index = _table([0.85, 0.6], [0.02, 0.05], [100, 40], [90, 35])
    points = par_points(index, max_points=2.5)
    assert points.value == pytest.approx([2.125, 1.5])
    assert points.low == pytest.approx([0.75 * 2.5, 0.5 * 2.5])
    assert points.se == pytest.approx([0.05, 0.125])
    with pytest.raises(ValueError, match="max_points"):
        par_points(index, max_points=0)


def test_complaint_free_ratio():
    assert complaint_free_ratio([200, 50, 0], [10, 0, 0])[:2].tolist() == [0.95, 1.0]
    assert np.isnan(complaint_free_ratio([0], [0])[0])
    with pytest.raises(ValueError, match="dissatisfied"):
        complaint_free_ratio([5], [6])
