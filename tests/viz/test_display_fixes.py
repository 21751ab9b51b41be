"""Issue 13's display bugs in the plain functions, and grad-cam's smoothing options."""

import numpy as np
import pytest

from viz.analysis import analyze, compare
from viz.capture import capture
from viz.gradcam import SanityCheck, instance_cam
from viz.render import channel_grid
from viz.views import detections as detections_view

BOX = np.array([10, 30, 120, 60], dtype=np.float32)


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


def test_a_flat_cam_of_the_model_itself_does_not_pass_the_sanity_check():
    flat, varied = np.zeros((20, 20), np.float32), np.random.default_rng(0).random((20, 20)).astype(np.float32)
    check = SanityCheck(correlation=float("nan"), original=flat, randomized=varied)
    assert not check.passed and "explains nothing" in str(check)
    vanished = SanityCheck(correlation=float("nan"), original=varied, randomized=flat)
    assert vanished.passed  # the explanation vanished with the heads: that is the pass
    assert not SanityCheck(0.9, varied, varied).passed and SanityCheck(0.1, varied, flat + 1e-3).passed


@pytest.fixture(scope="module")
def model_input(r18_bam, image):
    model, cfg = r18_bam
    return capture(model, cfg, image).model_input


@pytest.mark.parametrize("option", ["aug_smooth", "eigen_smooth"])
def test_smoothing_options_change_the_cam_and_keep_its_form(r18_bam, model_input, option):
    model, _ = r18_bam
    plain = instance_cam(model, model_input, BOX, 0, layer="c4")
    smoothed = instance_cam(model, model_input, BOX, 0, layer="c4", **{option: True})
    assert smoothed.shape == plain.shape and smoothed.dtype == np.float32
    assert np.isfinite(smoothed).all() and 0 <= smoothed.min() and smoothed.max() <= 1
    assert np.abs(smoothed - plain).mean() > 1e-3
    if option == "aug_smooth":  # brightness only: the explained box stays where it is
        assert np.corrcoef(smoothed.ravel(), plain.ravel())[0, 1] > 0.5


def test_eigen_smooth_is_ignored_by_a_method_that_is_a_projection_already(r18_bam, model_input):
    model, _ = r18_bam
    plain = instance_cam(model, model_input, BOX, 0, method="EigenCAM")
    np.testing.assert_allclose(instance_cam(model, model_input, BOX, 0, method="EigenCAM", eigen_smooth=True),
                               plain, atol=1e-6)


def test_lost_rows_carry_the_box_of_the_model_that_found_them(pair, image):
    (m1, c1), (m0, c0) = pair
    a, b = (detections_view.at_threshold(
        analyze(m, c, image, label=label, class_names=("crack",), score_threshold=0.0, cam_layers=(), fpn=False), 0.0)
        for (m, c), label in (((m1, c1), "BAM"), ((m0, c0), "base")))
    diff = compare(a, b).detections
    rows = detections_view.detection_rows(a, b, diff)
    box = lambda x, i: ", ".join(f"{v:.0f}" for v in x.capture.instances.pred_boxes.tensor[i].tolist())  # noqa: E731
    for row in rows:
        with_i, without_i = row["with #"], row["without #"]
        assert row["box (with)"] == (box(a, with_i) if with_i is not None else None)
        assert row["box (without)"] == (box(b, without_i) if without_i is not None else None)
    assert any(r["change"] == "lost" for r in rows)  # the case the bug was in
