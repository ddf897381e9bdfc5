"""Weighting on hand-checkable cases: base weights, raking, trimming, post-stratification."""

import numpy as np
import pytest

from analysis import (
    base_weights,
    design_effect,
    kish_n_eff,
    poststratify,
    poststratify_cells,
    rake,
    trim,
)


def test_base_weights_and_design_effect():
    assert base_weights([0.5, 0.25, 1.0]).tolist() == [2.0, 4.0, 1.0]
    with pytest.raises(ValueError, match="probabilities"):
        base_weights([0.5, 0.0])
    w = np.array([1.0, 1.0, 2.0, 4.0])
    cv2 = w.var() / w.mean() ** 2
    assert design_effect(w) == pytest.approx(1 + cv2)
    assert design_effect(w) == pytest.approx(w.size / kish_n_eff(w))
    assert design_effect(w, groups=[0, 0, 1, 1]) == pytest.approx([1.0, 1 + (1 / 3) ** 2])


def test_rake_two_margins_reaches_independence_table():
    row = np.repeat([0, 0, 1, 1], 10)
    col = np.repeat([0, 1, 0, 1], 10)
    w = rake(np.ones(40), [(row, [60, 40]), (col, {0: 30, 1: 70})])
    # Uniform start: IPF converges to row total × column total / grand total per cell.
    assert w[[0, 10, 20, 30]] == pytest.approx([1.8, 4.2, 1.2, 2.8], rel=1e-6)
    assert np.bincount(row, w) == pytest.approx([60, 40], rel=1e-6)


def test_rake_keeps_relative_base_weights_within_a_cell():
    group = np.array([0, 0, 1, 1])
    w = rake([1.0, 3.0, 2.0, 2.0], [(group, [8.0, 4.0])])
    assert w.tolist() == pytest.approx([2.0, 6.0, 2.0, 2.0])


def test_rake_reports_non_convergence():
    row = np.array([0] * 5 + [1] * 5)
    col = np.array([0] * 5 + [1] * 5)  # respondents only on the diagonal
    with pytest.raises(ValueError, match="did not converge"):
        rake(np.ones(10), [(row, [60, 40]), (col, [30, 70])], max_iter=50)


@pytest.mark.parametrize(
    ("margins", "message"),
    [
        ([(np.array([0, 0, 1]), [5, 5]), (np.array([0, 1, 1]), [5, 6])], "grand total"),
        ([(np.array([0, 0, 0]), [5, 5])], "no respondents"),
        ([(np.array(["a", "b", "c"]), {"a": 1, "b": 2})], "no margin total"),
        ([(np.array([0, 1, 1]), [0, 5])], "total of 0"),
    ],
)
def test_rake_rejects_inconsistent_margins(margins, message):
    with pytest.raises(ValueError, match=message):
        rake(np.ones(3), margins)


def test_trim_caps_and_redistributes():
    w = trim([1.0, 1.0, 1.0, 1.0, 16.0], ratio=2.0)  # cap = 2 × mean 4 = 8
    assert w.tolist() == pytest.approx([3.0, 3.0, 3.0, 3.0, 8.0])
    w = trim([1.0, 5.0, 10.0], cap=6.0)  # needs a second round: 5 grows past the cap
    assert w.tolist() == pytest.approx([4.0, 6.0, 6.0])


def test_trim_keeps_each_group_total():
    w = np.array([1.0, 1.0, 10.0, 2.0, 2.0, 2.0])
    groups = np.array([0, 0, 0, 1, 1, 1])
    out = trim(w, ratio=1.5, groups=groups)
    assert np.bincount(groups, out) == pytest.approx(np.bincount(groups, w))
    assert out[:3].max() == pytest.approx(1.5 * 4.0)
    assert out[3:].tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(ValueError, match="too low"):
        trim(w, cap=1.0)


def test_poststratify_cells_default_merge_into_largest():
    # Office 0: cells 0 (50 respondents, 500 dossiers), 1 (3, 40), 2 (none, 10 dossiers).
    # Office 1: both cells are small, so they form one stratum in the larger one.
    ps = poststratify_cells(
        [0, 0, 0, 1, 1], [0, 1, 2, 0, 1], [50, 3, 0, 8, 9], [500, 40, 10, 100, 90], min_count=10
    )
    assert ps.stratum.tolist() == [0, 0, 0, 1, 1]
    assert ps.population.tolist() == [550, 550, 550, 190, 190]
    assert ps.respondents.tolist() == [53, 53, 53, 17, 17]
    assert ps.weight[[0, 1, 3, 4]] == pytest.approx([550 / 53] * 2 + [190 / 17] * 2)
    assert np.isnan(ps.weight[2])
    assert ps.merged.tolist() == [False, True, True, True, False]
    assert ps.rows([1, 0], [0, 2]).tolist() == [3, 2]


def test_poststratify_cells_named_neighbour_and_chains():
    # Cell 1 (3) names cell 2 (4), which names cell 3 (20): both end up in cell 3.
    ps = poststratify_cells(
        [0, 0, 0, 0],
        [0, 1, 2, 3],
        [50, 3, 4, 20],
        [500, 40, 10, 100],
        merge_into=[-1, 2, 3, -1],
        min_count=10,
    )
    assert ps.stratum.tolist() == [0, 3, 3, 3]
    assert ps.weight == pytest.approx([10.0, 150 / 27, 150 / 27, 150 / 27])
    # A named merge that still leaves fewer than min_count goes to the office's largest cell.
    ps = poststratify_cells(
        [0, 0, 0], [0, 1, 2], [50, 3, 4], [500, 40, 10], merge_into=[-1, 2, -1], min_count=10
    )
    assert ps.stratum.tolist() == [0, 0, 0]


def test_poststratify_cells_base_weights_and_errors():
    # SMS respondents with base weights 1/p: 4 at weight 2, 6 at weight 1 in one cell.
    ps = poststratify_cells([0], [0], [10], [70], base_weight_sum=[14.0], min_count=2)
    assert ps.factor[0] == pytest.approx(5.0)  # each respondent's weight is 5 × base weight
    with pytest.raises(ValueError, match="cycle"):
        poststratify_cells([0, 0, 0], [0, 1, 2], [50, 3, 4], [500, 40, 10], merge_into=[-1, 2, 1])
    with pytest.raises(ValueError, match="office"):
        poststratify_cells([0, 1], [0, 1], [50, 3], [500, 40], merge_into=[-1, 0])
    with pytest.raises(ValueError, match="no dossiers"):
        poststratify_cells([0, 0], [0, 1], [20, 30], [0, 0])
    with pytest.raises(ValueError, match="twice"):
        poststratify_cells([0, 0], [1, 1], [20, 30], [40, 40])


def test_poststratify_unit_records():
    cell = np.array(["a"] * 12 + ["b"] * 2 + ["c"] * 20)
    base = np.r_[np.full(12, 2.0), np.ones(22)]
    out = poststratify(
        cell, {"a": 120, "b": 30, "c": 100, "d": 50}, base, merge_into={"b": "a", "d": "c"}
    )
    # a+b: 150 dossiers over base weights 24 + 2; c+d: 150 over 20.
    assert out.weights[:12] == pytest.approx(2.0 * 150 / 26)
    assert out.weights[12:14] == pytest.approx(150 / 26)
    assert out.weights[14:] == pytest.approx(150 / 20)
    assert out.weights.sum() == pytest.approx(300.0)
    assert set(out.stratum[:14]) == {"a"} and set(out.stratum[14:]) == {"c"}
    assert out.fpc.tolist() == [150.0] * 14 + [150.0] * 20
    with pytest.raises(ValueError, match="no population total"):
        poststratify(np.array(["x"]), {"a": 3})


def test_poststratify_stays_within_office():
    cell = np.array(["o1:a"] * 12 + ["o1:b"] * 2 + ["o2:a"] * 30)
    out = poststratify(
        cell,
        {"o1:a": 60, "o1:b": 10, "o2:a": 300, "o2:b": 5},
        office_of={"o1:a": 1, "o1:b": 1, "o2:a": 2, "o2:b": 2},
    )
    assert set(out.stratum[:14]) == {"o1:a"}
    assert out.weights[:14] == pytest.approx(70 / 14)
    assert out.weights[14:] == pytest.approx(305 / 30)


def test_cell_pipeline_equals_unit_record_pipeline():
    """poststratify_cells + Cells gives what poststratify + proportion give on the records."""
    from analysis import Cells, proportion, proportion_cells

    rng = np.random.default_rng(4)
    n = 500
    office = rng.integers(0, 3, n)
    cell = rng.choice(4, n, p=[0.6, 0.3, 0.08, 0.02])
    value = rng.integers(1, 6, n)
    dossiers = rng.integers(50, 400, (3, 4)).astype(float)
    counts = np.bincount(office * 4 + cell, minlength=12)
    ps = poststratify_cells(
        np.repeat(np.arange(3), 4), np.tile(np.arange(4), 3), counts, dossiers.ravel(), min_count=10
    )
    row = ps.rows(office, cell)
    cells = Cells.from_records(office, ps.stratum[row], value, ps.weight[row], ps.population[row])
    table = proportion_cells(cells, threshold=4)
    labels = np.char.add(office.astype(str), cell.astype(str))
    totals = {f"{o}{c}": dossiers[o, c] for o in range(3) for c in range(4)}
    units = poststratify(labels, totals, office_of={k: k[0] for k in totals})
    for o in range(3):
        keep = office == o
        direct = proportion(
            value[keep] >= 4, units.weights[keep], units.stratum[keep], units.fpc[keep]
        )
        assert table[o].value == pytest.approx(direct.value, rel=1e-12)
        assert (table[o].low, table[o].high) == pytest.approx((direct.low, direct.high), rel=1e-9)
        assert table[o].df == direct.df


def test_home_cell_is_the_largest_cell_with_dossiers():
    """Respondents in a service group without returned dossiers join the office's largest cell
    that has dossiers, even when their own cell is the largest by respondents."""
    ps = poststratify_cells(
        office=[0, 0, 0], cell=[0, 1, 2], respondents=[20, 15, 3], population=[0, 100, 50]
    )
    assert ps.stratum.tolist() == [1, 1, 1]
    assert ps.population.tolist() == [150, 150, 150]
    np.testing.assert_allclose(ps.weight, 150 / 38)  # 38 respondents stand for 150 dossiers
    alone = poststratify_cells(
        office=[0, 0], cell=[0, 1], respondents=[20, 15], population=[0, 100]
    )
    np.testing.assert_allclose(alone.weight, 100 / 35)
    with pytest.raises(ValueError, match="respondents but no dossiers"):
        poststratify_cells(office=[0], cell=[0], respondents=[20], population=[0])
