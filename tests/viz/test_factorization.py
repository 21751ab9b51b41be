"""Deep feature factorization through the grad-cam library, on a feature map with known concepts."""

import cv2
import numpy as np
import pytest

from viz.factorization import concept_colors, factorization_picture, factorize


def two_concepts() -> np.ndarray:
    """(8, 6, 10): channels 0-2 fire on the left half, 3-5 on the right half, 6-7 nowhere."""
    rng = np.random.default_rng(0)
    features = rng.random((8, 6, 10)).astype(np.float32) * 0.05
    features[0:3, :, :5] += np.array([3.0, 2.0, 1.0])[:, None, None]
    features[3:6, :, 5:] += np.array([1.0, 3.0, 2.0])[:, None, None]
    return features


def test_the_concepts_are_found_with_their_channels_and_regions():
    found = factorize(two_concepts(), 2)
    assert found.weights.shape == (8, 2) and found.heatmaps.shape == (2, 6, 10)
    assert found.heatmaps.min() >= 0 and found.heatmaps.max() == pytest.approx(1.0, abs=1e-5)
    left = 0 if set(found.top_channels(3)[0]) == {0, 1, 2} else 1
    right = 1 - left
    assert found.top_channels(3)[left] == [0, 1, 2] and found.top_channels(3)[right] == [4, 5, 3]
    winner = found.heatmaps.argmax(axis=0)
    assert (winner[:, :5] == left).all() and (winner[:, 5:] == right).all()
    np.testing.assert_allclose(found.shares(), [0.5, 0.5])
    again = factorize(two_concepts(), 2)  # seeded
    np.testing.assert_array_equal(again.heatmaps, found.heatmaps)


def test_the_picture_colours_each_region_by_its_concept():
    found = factorize(two_concepts(), 2)
    image = np.full((60, 100, 3), 128, np.uint8)
    picture = factorization_picture(image, found, lambda m: cv2.resize(m, (100, 60), interpolation=cv2.INTER_NEAREST),
                                    image_weight=0.0)
    assert picture.shape == (60, 100, 3) and picture.dtype == np.uint8
    colors = concept_colors(2)
    left = 0 if set(found.top_channels(3)[0]) == {0, 1, 2} else 1
    for concept, pixel in ((left, picture[30, 20]), (1 - left, picture[30, 80])):
        hue = np.asarray(colors[concept]) / max(colors[concept])  # brightness scales with the concept's strength
        assert np.abs(pixel / max(pixel.max(), 1) - hue).max() < 0.1


def test_bad_input_is_one_sentence():
    with pytest.raises(ValueError, match=r"\(C, h, w\)"):
        factorize(np.zeros((4, 4)), 2)
    with pytest.raises(ValueError, match="n_concepts"):
        factorize(two_concepts(), 0)
