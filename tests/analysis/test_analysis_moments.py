"""Indices from respondent groups summed into moments equal the indices from their patterns."""

import numpy as np
import pytest

from analysis import Design, Patterns, index_estimates
from analysis.moments import Moments, from_patterns, pairs

ELEMENT_OF_ITEM = [0, 0, 0, 1, 1, 2, 3, 3, 4]


def _respondents(seed=7, n=900):
    """Respondents of 4 offices with post-strata, several weights per stratum (SMS sampling
    rates), skipped items, and one stratum of a single respondent."""
    rng = np.random.default_rng(seed)
    office = rng.integers(0, 4, n)
    post = office * 2 + rng.integers(0, 2, n)  # office × service group
    channel = rng.integers(0, 2, n)
    stratum = post * 2 + channel
    stratum[0], office[0], post[0] = 99, 3, 98  # alone in its stratum and post-stratum
    weight = np.where(channel == 1, rng.choice([2.0, 5.0], n), 1.0)
    answered = rng.random((n, len(ELEMENT_OF_ITEM))) < 0.8
    answered[rng.random(n) < 0.1] = False  # some answered no element item at all
    satisfied = answered & (rng.random(answered.shape) < 0.75)
    population = np.zeros(n)
    for h in np.unique(stratum):
        population[stratum == h] = weight[stratum == h].sum() * 3
    design = Design.from_units(stratum, np.ones(n), weight, population, post)
    return office, stratum, weight, answered, satisfied, design


def _as_moments(office, stratum, weight, answered, satisfied, select):
    """The selected respondents summed per office × stratum × weight."""
    key = np.stack([office, stratum, weight], axis=1)[select]
    uniq, group = np.unique(key, axis=0, return_inverse=True)
    count, members, sums = from_patterns(
        group.ravel(),
        np.ones(group.size, dtype=np.int64),
        answered[select],
        satisfied[select],
        ELEMENT_OF_ITEM,
    )
    return Moments(
        domain=uniq[:, 0],
        stratum=uniq[:, 1],
        weight=uniq[:, 2],
        count=count,
        members=members,
        sums=sums,
        n_domains=4,
    )


def _patterns(office, stratum, weight, answered, satisfied, design, select):
    return Patterns(
        domain=office[select],
        stratum=stratum[select],
        count=np.ones(int(select.sum())),
        weight=weight[select],
        answered=answered[select],
        satisfied=satisfied[select],
        n_domains=4,
        design=design,
    )


@pytest.mark.parametrize("share_as_moments", [0.0, 0.5, 1.0])
def test_moments_give_the_patterns_indices(share_as_moments):
    office, stratum, weight, answered, satisfied, design = _respondents()
    rng = np.random.default_rng(1)
    as_moments = rng.random(office.size) < share_as_moments
    reference = index_estimates(
        _patterns(office, stratum, weight, answered, satisfied, design, np.ones_like(as_moments)),
        ELEMENT_OF_ITEM,
    )
    mixed = index_estimates(
        _patterns(office, stratum, weight, answered, satisfied, design, ~as_moments),
        ELEMENT_OF_ITEM,
        moments=_as_moments(office, stratum, weight, answered, satisfied, as_moments),
    )
    for ref, got in zip(reference, mixed, strict=True):
        assert np.isfinite(ref.se).all() and (ref.se > 0).all()
        np.testing.assert_allclose(got.value, ref.value, rtol=1e-12)
        np.testing.assert_allclose(got.se, ref.se, rtol=1e-9)
        np.testing.assert_allclose(got.low, ref.low, rtol=1e-9)
        np.testing.assert_allclose(got.high, ref.high, rtol=1e-9)
        np.testing.assert_array_equal(got.n, ref.n)
        np.testing.assert_array_equal(got.df, ref.df)
        np.testing.assert_allclose(got.n_eff, ref.n_eff, rtol=1e-12)


def test_from_patterns_sums_products_of_indicators():
    answered = np.array([[1, 1, 0], [1, 0, 1], [0, 0, 0]], dtype=bool)
    satisfied = np.array([[1, 0, 0], [1, 0, 0], [0, 0, 0]], dtype=bool)
    count, members, sums = from_patterns([0, 0, 0], [2, 3, 4], answered, satisfied, [0, 0, 1])
    assert count.tolist() == [5]  # the third row answered nothing: it counts nowhere
    assert members.tolist() == [[5, 3]]
    x = np.concatenate([answered, satisfied], axis=1).astype(int)
    full = (x.T * np.array([2, 3, 4])) @ x
    p, q = pairs(3)
    assert sums[0].tolist() == full[p, q].tolist()


def test_moments_without_a_design_or_with_other_items_raise():
    office, stratum, weight, answered, satisfied, design = _respondents(n=200)
    select = np.ones(office.size, dtype=bool)
    moments = _as_moments(office, stratum, weight, answered, satisfied, select)
    with pytest.raises(ValueError, match="design"):
        index_estimates(
            _patterns(office, stratum, weight, answered, satisfied, None, ~select),
            ELEMENT_OF_ITEM,
            moments=moments,
        )
    with pytest.raises(ValueError, match="same items"):
        index_estimates(
            _patterns(office, stratum, weight, answered[:, 1:], satisfied[:, 1:], design, ~select),
            ELEMENT_OF_ITEM[:-1],
            moments=moments,
        )
    with pytest.raises(ValueError, match="members"):
        Moments([0], [0], [1.0], [1], [[2]], np.zeros((1, 3)), n_domains=1)
