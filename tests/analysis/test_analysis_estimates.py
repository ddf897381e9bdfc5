"""Unit-record estimators: hand-checkable cases, edge cases and bad input."""

import math

import numpy as np
import pytest
from scipy import stats

from analysis import Estimate, is_reliable, kish_n_eff, mean, proportion


def _loop_variance(y, w, strata, fpc):
    """Textbook stratified linearisation written as plain loops, as an independent check."""
    total = sum(w)
    ybar = sum(wi * yi for wi, yi in zip(w, y, strict=True)) / total
    z = [wi * (yi - ybar) / total for wi, yi in zip(w, y, strict=True)]
    var = 0.0
    for h in set(strata):
        zs = [z[i] for i in range(len(y)) if strata[i] == h]
        n_h = len(zs)
        big_n = fpc[strata.index(h)] if fpc else math.inf
        zbar = sum(zs) / n_h
        var += (1 - n_h / big_n) * n_h / (n_h - 1) * sum((v - zbar) ** 2 for v in zs)
    return ybar, var


def test_twenty_of_twenty_gives_the_documented_wilson_interval():
    est = proportion(np.ones(20))
    t = stats.t.ppf(0.975, 19)
    assert (est.value, est.se, est.df, est.n, est.n_eff) == (1.0, 0.0, 19, 20, 20.0)
    assert est.low == pytest.approx(20 / (20 + t * t), rel=1e-12)
    assert round(est.low, 4) == 0.8203 and est.high == 1.0


def test_all_satisfied_korn_graubard_is_clopper_pearson():
    est = proportion([True] * 20, method="korn-graubard")
    assert est.low == pytest.approx(0.025 ** (1 / 20), rel=1e-12)
    assert est.high == 1.0


@pytest.mark.parametrize("method", ["wilson", "korn-graubard", "logit", "wald"])
def test_none_satisfied_gives_informative_interval(method):
    est = proportion(np.zeros(25), weights=np.r_[np.ones(20), 3 * np.ones(5)], method=method)
    assert est.value == 0.0 and est.low == 0.0
    assert 0.0 < est.high < 0.25
    assert est.n_eff == pytest.approx(35**2 / 65)


def test_unweighted_one_stratum_wald_is_textbook():
    y = np.r_[np.ones(30), np.zeros(10)]
    est = proportion(y, method="wald")
    se = math.sqrt(0.75 * 0.25 / 39)  # n/(n-1) turns the plug-in variance into s²/n
    t = stats.t.ppf(0.975, 39)
    assert est.se == pytest.approx(se, rel=1e-12)
    assert (est.low, est.high) == pytest.approx((0.75 - t * se, 0.75 + t * se), rel=1e-12)


def test_variance_matches_an_independent_loop():
    rng = np.random.default_rng(7)
    y = rng.integers(1, 6, 90).astype(float)
    w = rng.uniform(0.5, 4, 90)
    strata = rng.integers(0, 4, 90).tolist()
    fpc_by_h = {0: 100, 1: 150, 2: 80, 3: 60}
    fpc = [fpc_by_h[h] for h in strata]
    for population in (None, fpc):
        value, var = _loop_variance(y.tolist(), w.tolist(), strata, population)
        est = mean(y, w, strata, population)
        assert est.value == pytest.approx(value, rel=1e-12)
        assert est.se == pytest.approx(math.sqrt(var), rel=1e-10)
        assert est.df == 90 - 4


def test_estimate_flags_and_design_effect():
    est = proportion(np.r_[np.ones(25), np.zeros(5)], weights=np.r_[np.ones(15), 2 * np.ones(15)])
    assert est.n_eff == pytest.approx(45**2 / 75)
    assert est.deff == pytest.approx(30 / est.n_eff)
    assert not est.reliable  # n_eff 27 < 30
    assert proportion(np.r_[np.ones(25), np.zeros(15)]).reliable
    assert not Estimate(0.5, 0.1, 0.3, 0.7, 40, 40.0, 7, "wilson", 0.95).reliable
    assert is_reliable([30, 29.9, 50], [8, 8, 7]).tolist() == [True, False, False]


def test_kish_n_eff():
    assert kish_n_eff([1, 1, 1, 1]) == 4.0
    assert kish_n_eff([1, 3]) == pytest.approx(16 / 10)


def test_level_changes_width_only():
    y = np.r_[np.ones(40), np.zeros(20)]
    wide, narrow = proportion(y, level=0.99), proportion(y, level=0.8)
    assert wide.value == narrow.value
    assert wide.low < narrow.low < narrow.high < wide.high


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"y": []}, "empty"),
        ({"y": [1, 0, 1], "weights": [1, 1]}, "weights"),
        ({"y": [1, 0, 1], "weights": [1, 0, 1]}, "positive"),
        ({"y": [1, 0, 1], "weights": [1, -2, 1]}, "positive"),
        ({"y": [1, np.nan, 1]}, "NaN"),
        ({"y": [1, 0, 1], "weights": [1, np.nan, 1]}, "NaN"),
        (
            {"y": [1, 0, 1, 1], "strata": ["a", "a", "a", "b"], "single_unit": "fail"},
            "single respondent",
        ),
        ({"y": [1, 0, 1, 1], "strata": ["a", "a", "a", "b"], "single_unit": "x"}, "single_unit"),
        ({"y": [1, 0, 1], "strata": ["a", "a"]}, "strata"),
        ({"y": [1, 0, 1], "level": 1.0}, "level"),
        ({"y": [1, 0, 1], "level": 0}, "level"),
        ({"y": [1, 0, 1], "method": "exact"}, "unknown method"),
        ({"y": [1, 0, 2]}, "0/1"),
        ({"y": [1, 0, 1], "fpc": [2, 2, 2]}, "smaller"),
        ({"y": [1, 0, 1, 0], "strata": [0, 0, 1, 1], "fpc": [5, 6, 5, 5]}, "same"),
    ],
)
def test_bad_input_raises(kwargs, message):
    with pytest.raises(ValueError, match=message):
        proportion(**kwargs)


def test_mean_rejects_bad_input():
    with pytest.raises(ValueError, match="empty"):
        mean([])
    with pytest.raises(ValueError, match="level"):
        mean([1.0, 2.0], level=1.5)


def test_census_has_no_sampling_error():
    y = np.array([1.0, 2.0, 4.0, 5.0])
    est = mean(y, fpc=[4, 4, 4, 4])
    assert est.se == 0.0 and est.low == est.high == 3.0


def test_single_respondent_stratum_as_r_lonely_psu_adjust():
    """A stratum of one counts its squared deviation from the overall mean times its fpc.

    R 4.2.2, survey 4.1.1, options(survey.lonely.psu = "adjust"):
        df <- data.frame(h = c("a","a","a","a","b","c","c","c"), y = c(1,0,1,1,0,1,1,0),
                         w = c(2,2,3,3,4,1.5,1.5,1.5), N = c(20,20,20,20,6,9,9,9))
        SE(svymean(~y, svydesign(ids = ~1, strata = ~h, weights = ~w, fpc = ~N, data = df)))
        # 0.174771715051274; without fpc = ~N: 0.196439474273181
    """
    y = [1, 0, 1, 1, 0, 1, 1, 0]
    h = ["a", "a", "a", "a", "b", "c", "c", "c"]
    w = [2, 2, 3, 3, 4, 1.5, 1.5, 1.5]
    n = [20, 20, 20, 20, 6, 9, 9, 9]
    with_fpc = proportion(y, w, h, n)
    assert with_fpc.value == pytest.approx(0.594594594594595, rel=1e-12)
    assert with_fpc.se == pytest.approx(0.174771715051274, rel=1e-12)
    assert proportion(y, w, h).se == pytest.approx(0.196439474273181, rel=1e-12)
    assert mean(y, w, h, n).se == pytest.approx(0.174771715051274, rel=1e-12)
