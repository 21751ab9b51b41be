"""Rendering: sizes, dtypes, and pictures that respond to the data (no golden images)."""

import numpy as np
import pytest
import torch

from viz.render import channel_grid, colorize, diverging, draw_instances, normalize, overlay, top_channels

from detectron2.structures import Boxes, Instances


def test_normalize_and_flat_maps():
    assert normalize(np.array([[2.0, 4.0], [6.0, 10.0]])).tolist() == [[0.0, 0.25], [0.5, 1.0]]
    assert not normalize(np.full((3, 3), 7.0)).any()


@pytest.mark.parametrize("cmap", ["inferno", "viridis", "jet"])
def test_colormaps_respond_to_the_data(cmap):
    ramp = colorize(np.linspace(0, 1, 50)[None].repeat(4, 0), cmap)
    assert ramp.shape == (4, 50, 3) and ramp.dtype == np.uint8
    assert not np.array_equal(ramp[:, 0], ramp[:, -1])
    assert len({tuple(p) for p in ramp[0]}) > 20


def test_overlay_is_image_sized_not_blank_and_follows_the_map():
    image = np.full((60, 80, 3), 128, np.uint8)
    heat = np.zeros((15, 20), np.float32)
    heat[:, 10:] = 1.0
    out = overlay(image, heat, alpha=0.6)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert not np.array_equal(out, image)
    assert not np.array_equal(out[:, :20], out[:, -20:])  # hot half differs from cold half
    assert np.array_equal(overlay(image, heat, alpha=0.0), image)


def test_diverging_is_white_at_zero_and_signed():
    diff = np.array([[-1.0, 0.0, 1.0]])
    picture = diverging(diff)
    assert picture[0, 1].min() > 230  # near white
    assert picture[0, 0, 2] > picture[0, 0, 0] and picture[0, 2, 0] > picture[0, 2, 2]  # blue vs red


def test_top_channels_by_activation_or_by_attention_weight():
    features = np.zeros((5, 4, 4), np.float32)
    features[3] = 9
    features[1] = 4
    assert top_channels(features, 2).tolist() == [3, 1]
    assert top_channels(features, 2, weights=np.array([0.1, 0.2, 0.9, 0.0, 0.5])).tolist() == [2, 4]


def test_channel_grid_layout():
    features = np.random.default_rng(0).random((8, 10, 20)).astype(np.float32)
    grid = channel_grid(features, np.arange(6), cols=4, cell=40, gap=2)
    assert grid.dtype == np.uint8 and grid.shape == (2 * 20 + 2, 4 * 40 + 3 * 2, 3)
    assert (grid[22:, 3 * 42:] == 255).all()  # the two unused cells stay white


def test_draw_instances_uses_the_threshold():
    image = np.full((200, 240, 3), 200, np.uint8)
    masks = torch.zeros(2, 200, 240, dtype=torch.bool)
    masks[0, 5:20, 5:20] = True
    masks[1, 150:190, 180:230] = True
    boxes = Boxes(torch.tensor([[5, 5, 20, 20], [180, 150, 230, 190]], dtype=torch.float32))
    inst = Instances((200, 240), pred_boxes=boxes,
                     scores=torch.tensor([0.9, 0.2]), pred_classes=torch.tensor([0, 0]), pred_masks=masks)
    drawn = draw_instances(image, inst, ["crack"], score_threshold=0.5)
    assert drawn.shape == image.shape and drawn.dtype == np.uint8
    assert not np.array_equal(drawn[5:20, 5:20], image[5:20, 5:20])
    assert np.array_equal(drawn[140:, 170:], image[140:, 170:])  # below threshold: not drawn


def test_channel_grid_labels_each_tile_with_its_channel():
    features = np.zeros((8, 40, 40), np.float32)
    plain = channel_grid(features, np.array([5, 2]), cols=2, cell=80)
    labelled = channel_grid(features, np.array([5, 2]), cols=2, cell=80, labels=True)
    assert labelled.shape == plain.shape
    corner = (slice(0, 20), slice(0, 20))
    assert not np.array_equal(labelled[corner], plain[corner])  # text in the top-left corner
    assert np.array_equal(labelled[60:, 60:80], plain[60:, 60:80])  # the rest untouched


def test_channel_numbers_are_readable_on_a_bright_tile():
    features = np.zeros((4, 40, 40), np.float32)
    features[:, :, :] = np.linspace(0, 1, 40)[None, None, :]  # the tile's left corner ...
    grid = channel_grid(features, np.array([3]), cols=1, cell=120, cmap="gray_r", labels=True)
    plain = channel_grid(features, np.array([3]), cols=1, cell=120, cmap="gray_r")
    assert plain[:12, :12].mean() > 240  # ... is white without the label
    changed = np.any(grid != plain, axis=2)
    ys, xs = np.nonzero(changed)
    label = grid[: ys.max() + 1, : xs.max() + 1].astype(int)
    white, dark = (label.min(axis=2) > 200), (label.max(axis=2) < 60)
    assert white.any()  # the number itself
    assert dark.mean() > 0.5  # on a dark ground, not only a thin outline on white
