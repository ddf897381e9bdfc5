"""Change between two periods with the interval of the difference."""

import numpy as np
import pytest

from analysis import Cells, change, mean, mean_cells, proportion


def test_change_of_means_combines_half_widths():
    before = mean(np.r_[np.full(30, 4.0), np.full(20, 3.0)])
    after = mean(np.r_[np.full(45, 4.0), np.full(15, 5.0)])
    c = change(before, after)
    h1, h2 = before.high - before.value, after.high - after.value
    assert c.diff == pytest.approx(after.value - before.value)
    assert (c.low, c.high) == pytest.approx((c.diff - np.hypot(h1, h2), c.diff + np.hypot(h1, h2)))
    assert c.se == pytest.approx(np.hypot(before.se, after.se))
    assert bool(c.significant)


def test_change_from_a_perfect_score_uses_the_wilson_bounds():
    before = proportion(np.ones(20))  # se 0: a Wald difference would ignore its uncertainty
    after = proportion(np.r_[np.ones(15), np.zeros(5)])
    c = change(before, after)
    # Newcombe's hybrid score interval, written out.
    low = c.diff - np.sqrt((after.value - after.low) ** 2 + (before.high - before.value) ** 2)
    high = c.diff + np.sqrt((after.high - after.value) ** 2 + (before.value - before.low) ** 2)
    assert (c.low, c.high) == pytest.approx((low, high))
    assert c.high - c.diff > after.high - after.value  # widened by the first period's interval
    small = change(proportion(np.r_[np.ones(18), np.zeros(2)]), proportion(np.ones(20)))
    assert not small.significant


def test_change_is_vectorised_and_checks_levels():
    cells = Cells(
        domain=[0, 0, 1, 1],
        stratum=[0] * 4,
        value=[1, 5, 2, 4],
        count=[10, 10, 5, 5],
        weight=[1] * 4,
    )
    later = Cells(
        domain=[0, 0, 1, 1],
        stratum=[0] * 4,
        value=[1, 5, 4, 5],
        count=[10, 10, 5, 5],
        weight=[1] * 4,
    )
    c = change(mean_cells(cells), mean_cells(later))
    assert c.diff.tolist() == pytest.approx([0.0, 1.5])
    assert c.significant.tolist() == [False, True]
    with pytest.raises(ValueError, match="level"):
        change(mean_cells(cells), mean_cells(later, level=0.9))
