"""The estimators against R survey 4.1.1 on the public synthetic survey (to 1e-8 relative)."""

import numpy as np
import pytest

from analysis import Cells, kish_n_eff, mean, mean_cells, proportion, proportion_cells

METHODS = ["wilson", "korn-graubard", "logit", "wald"]
DESIGNS = ["nofpc", "fpc"]
OFFICES = ["overall"] + [f"OF{i:02d}" for i in range(1, 13)]
RTOL = 1e-8


def _subset(survey, design, office):
    keep = (
        np.ones(survey["office"].size, bool)
        if office == "overall"
        else (survey["office"] == office)
    )
    fpc = survey["fpc"][keep] if design == "fpc" else None
    return keep, fpc


def _reference(expected, design, office):
    part = expected[design]
    return part["overall"] if office == "overall" else part["offices"][office]


@pytest.mark.parametrize("design", DESIGNS)
@pytest.mark.parametrize("office", OFFICES)
def test_proportion_matches_r(survey, expected, design, office):
    keep, fpc = _subset(survey, design, office)
    ref = _reference(expected, design, office)
    for method in METHODS:
        for level in (95, 90):
            est = proportion(
                survey["satisfied"][keep],
                survey["weight"][keep],
                survey["stratum"][keep],
                fpc,
                method=method,
                level=level / 100,
            )
            assert [est.low, est.high] == pytest.approx(ref[f"{method}_{level}"], rel=RTOL)
            assert est.method == method and est.level == level / 100
    assert est.value == pytest.approx(ref["value"], rel=RTOL)
    assert est.se == pytest.approx(ref["se"], rel=RTOL)
    assert est.n_eff == pytest.approx(ref["kish_n_eff"], rel=RTOL)
    assert (est.n, est.df) == (ref["n"], ref["df"])


@pytest.mark.parametrize("design", DESIGNS)
@pytest.mark.parametrize("office", OFFICES)
def test_mean_matches_r(survey, expected, design, office):
    keep, fpc = _subset(survey, design, office)
    ref = _reference(expected, design, office)
    est = mean(survey["score"][keep], survey["weight"][keep], survey["stratum"][keep], fpc)
    assert est.value == pytest.approx(ref["score_mean"], rel=RTOL)
    assert est.se == pytest.approx(ref["score_se"], rel=RTOL)
    assert [est.low, est.high] == pytest.approx(ref["score_ci_95"], rel=RTOL)
    assert est.df == ref["df"]


def test_kish_matches_r(survey, expected):
    assert kish_n_eff(survey["weight"]) == pytest.approx(
        expected["nofpc"]["overall"]["kish_n_eff"], rel=RTOL
    )


@pytest.mark.parametrize("design", DESIGNS)
@pytest.mark.parametrize("method", METHODS)
def test_cells_by_office_match_r(survey, expected, design, method):
    """All twelve offices at once from cell counts give R's per-office results."""
    offices, office_idx = np.unique(survey["office"], return_inverse=True)
    _, stratum_idx = np.unique(survey["stratum"], return_inverse=True)
    cells = Cells.from_records(
        office_idx,
        stratum_idx,
        survey["score"],
        survey["weight"],
        survey["fpc"] if design == "fpc" else None,
    )
    shares = proportion_cells(cells, threshold=4, method=method, level=0.90)
    scores = mean_cells(cells)
    for i, code in enumerate(offices):
        ref = expected[design]["offices"][code]
        assert shares.value[i] == pytest.approx(ref["value"], rel=RTOL)
        assert shares.se[i] == pytest.approx(ref["se"], rel=RTOL)
        assert [shares.low[i], shares.high[i]] == pytest.approx(ref[f"{method}_90"], rel=RTOL)
        assert shares.n_eff[i] == pytest.approx(ref["kish_n_eff"], rel=RTOL)
        assert shares.df[i] == ref["df"]
        assert [scores.low[i], scores.high[i]] == pytest.approx(ref["score_ci_95"], rel=RTOL)
