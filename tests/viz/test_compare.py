"""With/without comparison on hand-built detections where the answer is known."""

import numpy as np
import pytest
import torch

from detectron2.structures import Boxes, Instances
from viz.compare import feature_difference, mask_iou, match_instances


def instances(boxes, scores, classes=None, size=(40, 40)):
    masks = torch.zeros(len(boxes), *size, dtype=torch.bool)
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        masks[i, y0:y1, x0:x1] = True
    return Instances(size, pred_boxes=Boxes(torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)),
                     scores=torch.tensor(scores, dtype=torch.float32),
                     pred_classes=torch.tensor(classes or [0] * len(boxes)), pred_masks=masks)


def test_mask_iou():
    a = instances([(0, 0, 10, 10)], [1.0])
    b = instances([(0, 0, 10, 10), (5, 0, 15, 10), (20, 20, 30, 30)], [1.0, 1.0, 1.0])
    np.testing.assert_allclose(mask_iou(a, b), [[1.0, 50 / 150, 0.0]], rtol=1e-6)


def test_kept_gained_lost_with_score_changes():
    with_att = instances([(0, 0, 10, 10), (20, 20, 30, 30), (0, 30, 5, 35)], [0.9, 0.8, 0.3])
    without = instances([(1, 0, 10, 10), (30, 0, 40, 8)], [0.6, 0.7])
    diff = match_instances(with_att, without, score_threshold=0.5)
    assert [(m.index_with, m.index_without) for m in diff.kept] == [(0, 0)]
    assert abs(diff.kept[0].score_change - 0.3) < 1e-6 and diff.kept[0].iou == pytest.approx(0.9)
    assert diff.gained == (1,) and diff.lost == (1,)  # the 0.3 detection is below threshold: neither
    assert diff.to_dict()["kept"][0]["score_change"] > 0.29


def test_different_classes_never_match():
    diff = match_instances(instances([(0, 0, 10, 10)], [0.9], [0]), instances([(0, 0, 10, 10)], [0.9], [1]))
    assert diff.kept == () and diff.gained == (0,) and diff.lost == (0,)


def test_empty_sides():
    diff = match_instances(instances([], []), instances([(0, 0, 10, 10)], [0.9]))
    assert diff.kept == () and diff.gained == () and diff.lost == (0,)


def test_feature_difference_is_normalised_per_model():
    rng = np.random.default_rng(0)
    base = rng.random((8, 10, 10)).astype(np.float32)
    assert np.abs(feature_difference(base * 5, base)).max() < 1e-6  # scale alone is no difference
    louder = base.copy()
    louder[:, :5] *= 3
    diff = feature_difference(louder, base)
    assert diff.shape == (10, 10) and diff[:5].mean() > 0 > diff[5:].mean()
