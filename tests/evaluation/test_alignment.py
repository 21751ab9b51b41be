"""Alignment measures on constructed maps whose answers are known."""

import math

import numpy as np
import pytest

from evaluation.alignment import alignment, auroc, lift, mass_share, mean_with_ci, pointing_game, within
from evaluation.results import Stat


@pytest.fixture
def mask():
    m = np.zeros((40, 60), bool)
    m[10:14, 5:50] = True  # a thin horizontal "crack": 180 of 2400 pixels
    return m


def test_a_map_equal_to_the_mask_scores_perfectly(mask):
    got = alignment(mask.astype(float), mask)
    assert got["mass_share"] == 1.0
    assert got["lift"] == pytest.approx(1 / mask.mean())
    assert got["auroc"] == 1.0
    assert got["pointing"] == 1.0


def test_a_uniform_map_is_chance(mask):
    uniform = np.full(mask.shape, 0.7)
    got = alignment(uniform, mask)
    assert got["mass_share"] == pytest.approx(mask.mean())
    assert got["lift"] == pytest.approx(1.0)
    assert got["auroc"] == 0.5
    # every pixel ties for the maximum: the expected hit is the area share
    assert got["pointing"] == pytest.approx(mask.mean())


def test_an_inverted_map_scores_zero(mask):
    inverted = (~mask).astype(float)
    assert auroc(inverted, mask) == 0.0
    assert mass_share(inverted, mask) == 0.0
    assert pointing_game(inverted, mask) == 0.0


def test_auroc_does_not_depend_on_the_scale_but_lift_does(mask):
    rng = np.random.default_rng(0)
    noisy = rng.random(mask.shape) + 0.5 * mask
    assert 0.5 < auroc(noisy, mask) < 1.0
    assert auroc(noisy, mask) == pytest.approx(auroc(3 * noisy + 1, mask))
    assert lift(noisy + 100, mask) < lift(noisy, mask)  # an offset pulls the lift towards 1


def test_auroc_is_sklearns_with_ties(mask):
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(1)
    for levels in (3, 17, None):  # many ties, some, almost none
        values = rng.random(mask.shape) + 0.3 * mask
        if levels:
            values = np.round(values * levels) / levels
        assert auroc(values, mask) == pytest.approx(roc_auc_score(mask.ravel(), values.ravel()), abs=1e-12)


def test_pointing_game_tolerance(mask):
    values = np.zeros(mask.shape)
    values[20, 30] = 1.0  # a single peak 7 rows below the crack's last row (13)
    assert pointing_game(values, mask) == 0.0
    assert pointing_game(values, mask, tolerance=6.5) == 0.0
    assert pointing_game(values, mask, tolerance=7.0) == 1.0
    assert pointing_game(values, mask, tolerance=7.0, near=within(mask, 7.0)) == 1.0  # computed once per mask
    assert pointing_game(values, mask, tolerance=7.0, near=within(mask, 6.5)) == 0.0  # and used as given
    assert within(mask, 0).sum() == mask.sum()


def test_undefined_cases_give_nan_and_bad_maps_an_error(mask):
    empty = np.zeros_like(mask)
    assert math.isnan(auroc(mask.astype(float), empty))
    assert math.isnan(pointing_game(mask.astype(float), empty))
    assert math.isnan(lift(mask.astype(float), empty))
    assert math.isnan(mass_share(np.zeros(mask.shape), mask))
    with pytest.raises(ValueError, match="one size"):
        alignment(np.ones((4, 4)), mask)
    with pytest.raises(ValueError, match="non-negative"):
        alignment(-np.ones(mask.shape), mask)


def test_bootstrap_interval_is_seeded_and_brackets_the_mean():
    values = np.random.default_rng(1).normal(0.6, 0.1, 50)
    a, b = mean_with_ci(values, seed=3), mean_with_ci(values, seed=3)
    assert a == b
    assert a.low < a.mean < a.high and a.n == 50
    assert mean_with_ci(values, seed=4) != a  # another seed, other resamples
    wider = mean_with_ci(values, seed=3, confidence=0.99)
    assert wider.low < a.low and wider.high > a.high


def test_bootstrap_edge_cases():
    assert mean_with_ci([]) == Stat(None, None, None, 0)
    assert mean_with_ci([0.3, math.nan]) == Stat(0.3, None, None, 1)
    assert mean_with_ci([1.0, 1.0, 1.0]) == Stat(1.0, 1.0, 1.0, 3)
