"""SIPAS item, element and overall indices, PAR points and the Decision 766 ratio."""

import numpy as np
import pytest
from scipy import stats

from analysis import (
    Cells,
    EstimateTable,
    Patterns,
    complaint_free_ratio,
    domain_code,
    index_estimates,
    item_estimates,
    mean,
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


def _patterns(office, stratum, weight, answers, n_offices=3, design=None):
    """One pattern row per respondent (SQL groups equal rows; the estimates do not care)."""
    return Patterns(
        domain=office,
        stratum=stratum,
        count=np.ones(office.size),
        weight=weight,
        answered=answers > 0,
        satisfied=answers >= 4,
        n_domains=n_offices,
        design=design,
    )


def test_with_complete_answers_indices_are_respondent_means():
    office, stratum, weight, answers = _survey()
    elements, overall = index_estimates(_patterns(office, stratum, weight, answers), [0, 0, 1, 1])
    assert elements.shape == (3, 2) and overall.shape == (3,)
    # Everyone answered every item: an element's index is the weighted mean of the
    # respondents' shares of its items satisfied, estimated here from unit records.
    for o in range(3):
        keep = office == o
        sat = answers[keep] >= 4
        for e, items in enumerate(([0, 1], [2, 3])):
            exact = mean(sat[:, items].mean(axis=1), weight[keep], stratum[keep])
            got = elements[o, e]
            assert got.value == pytest.approx(exact.value, rel=1e-12)
            assert got.se == pytest.approx(exact.se, rel=1e-10)
            assert (got.n, got.df) == (exact.n, exact.df)
        exact = mean(sat.mean(axis=1), weight[keep], stratum[keep])
        assert overall[o].se == pytest.approx(exact.se, rel=1e-10)
        p, r = exact.value, exact.se**2 / (exact.value * (1 - exact.value))
        t = stats.t.ppf(0.975, exact.df)
        centre, half = p + t * t * r / 2, t * np.sqrt(p * (1 - p) * r + t * t * r * r / 4)
        assert overall.low[o] == pytest.approx((centre - half) / (1 + t * t * r), rel=1e-10)
        assert overall.high[o] == pytest.approx((centre + half) / (1 + t * t * r), rel=1e-10)


def test_skipped_items_keep_the_mean_of_item_shares_and_linearise_it():
    office, stratum, weight, answers = _survey(seed=8)
    rng = np.random.default_rng(1)
    # 0: skipped; items are skipped at different rates, the unhappy skip more
    rate = np.array([0.05, 0.5, 0.2, 0.1]) * np.where(answers < 4, 1.5, 0.5)
    answers = np.where(rng.random(answers.shape) < rate, 0, answers)
    elements, overall = index_estimates(_patterns(office, stratum, weight, answers), [0, 0, 0, 1])
    for o in range(3):
        keep = office == o
        w, a, s, h = weight[keep], answers[keep] > 0, answers[keep] >= 4, stratum[keep]
        t_a, t_s = w @ a, w @ s
        share = t_s / t_a
        element = share[:3].mean()
        assert elements.value[o, 0] == pytest.approx(element, rel=1e-12)
        assert overall.value[o] == pytest.approx((element + share[3]) / 2, rel=1e-12)
        # The ratio of satisfied answers to answered items is another number here.
        assert abs(w @ s[:, :3].sum(1) / (w @ a[:, :3].sum(1)) - element) > 1e-3
        # Each respondent's linearised value, written out item by item.
        z = sum(w * (s[:, k] - share[k] * a[:, k]) / (3 * t_a[k]) for k in range(3))
        var = sum(
            (h == g).sum() / ((h == g).sum() - 1) * ((z[h == g] - z[h == g].mean()) ** 2).sum()
            for g in (0, 1)
        )
        assert elements.se[o, 0] == pytest.approx(np.sqrt(var), rel=1e-10)
        answered = a[:, :3].any(axis=1)
        assert elements.n[o, 0] == answered.sum()
        assert elements.df[o, 0] == answered.sum() - np.unique(h[answered]).size
        assert overall.n[o] == a.any(axis=1).sum()


def test_an_item_without_answers_blanks_its_element_and_the_overall_index():
    office, stratum, weight, answers = _survey()
    answers[office == 1, 1] = 0  # nobody in office 1 answered item 1
    elements, overall = index_estimates(_patterns(office, stratum, weight, answers), [0, 0, 1, 1])
    assert np.isnan(elements.value[1, 0]) and np.isnan(elements.low[1, 0])
    assert not np.isnan(elements.value[1, 1]) and np.isnan(overall.value[1])
    assert elements.n[1, 0] == (office == 1).sum()  # they answered item 0
    assert not np.isnan(overall.value[[0, 2]]).any()


def test_all_satisfied_has_no_variance_and_a_kish_interval():
    office, stratum, weight, answers = _survey()
    answers[office == 2] = 5
    elements, overall = index_estimates(_patterns(office, stratum, weight, answers), [0, 0, 1, 1])
    assert overall.value[2] == 1.0 and overall.se[2] == 0.0 and overall.high[2] == 1.0
    keep = office == 2
    kish = proportion(np.ones(keep.sum()), weight[keep], stratum[keep])
    assert overall.low[2] == pytest.approx(kish.low, rel=1e-12)


def test_bad_patterns_raise():
    office, stratum, weight, answers = _survey(n=20)
    with pytest.raises(ValueError, match="one entry per item"):
        index_estimates(_patterns(office, stratum, weight, answers), [0, 1])
    with pytest.raises(ValueError, match="no items"):
        index_estimates(_patterns(office, stratum, weight, answers), [0, 0, 2, 2])
    bad = {"answered": np.zeros((20, 4), bool), "satisfied": np.ones((20, 4), bool)}
    with pytest.raises(ValueError, match="satisfied but not answered"):
        Patterns(office, stratum, np.ones(20), weight, n_domains=3, **bad)


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
