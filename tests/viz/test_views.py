"""The views' panels and tables (viz.views), and the figures built from the same panels."""

from dataclasses import FrozenInstanceError
from types import MappingProxyType

import numpy as np
import pytest

from tests.viz.conftest import analyze_pair
from viz.analysis import compare
from viz.figures import hierarchical_attention_figure
from viz.views import attention as attention_view
from viz.views import compare as compare_view
from viz.views import detections as detections_view
from viz.views import features as features_view
from viz.views.gradcam import cam_picture


@pytest.fixture(scope="module")
def found(pair, image):
    return analyze_pair(pair, image, score_threshold=0.0, fpn=True)


def test_at_threshold_is_a_new_frozen_view_sharing_only_read_only_data(found):
    a, _ = found
    seen = detections_view.at_threshold(a, 0.5)
    assert seen is not a and seen.score_threshold == 0.5 and a.score_threshold == 0.0
    assert seen.capture is a.capture  # read-only: safe to share
    assert isinstance(seen.cams, MappingProxyType) and seen.cams is not a.cams
    with pytest.raises(FrozenInstanceError):
        seen.score_threshold = 0.1
    assert detections_view.at_threshold(a, 0.0) is a


def test_detection_rows_cover_every_detection_once(found):
    from app.exports import rows_csv

    a, b = (detections_view.at_threshold(x, 0.05) for x in found)
    diff = compare(a, b).detections
    rows = detections_view.detection_rows(a, b, diff)
    assert len(rows) == len(diff.kept) + len(diff.gained) + len(diff.lost)
    assert sum(r["with #"] is not None for r in rows) == len(a.detections)
    assert sum(r["without #"] is not None for r in rows) == len(b.detections)
    csv_text = rows_csv(rows)
    assert csv_text.splitlines()[0].startswith("change,class,with #") if rows else csv_text == ""
    summary = detections_view.detection_summary(a, b, diff)
    assert summary["with"] == len(a.detections) and summary["gained"] == len(diff.gained)


def test_stage_panels_are_image_sized_pictures(found, image):
    a, _ = found
    assert attention_view.attention_stages(a) == ["c2", "c3", "c4"]
    panels = attention_view.stage_panels(a, image, "c3", on_image=False, cmap="viridis", fusion="sum")
    assert tuple(panels) == attention_view.MAP_PANELS
    for panel in panels.values():
        assert panel.image.shape == image.shape and panel.image.dtype == np.uint8 and panel.caption
        assert panel.values.shape == image.shape[:2]
    assert "σ(Mc + Ms)" in panels["combined attention"].caption
    on = attention_view.stage_panels(a, image, "c3", on_image=True, alpha=0.0)
    assert np.array_equal(on["spatial attention"].image, image)  # opacity 0: the image itself
    bars = attention_view.channel_bars(a, "c3", 5)
    assert bars.title == "c3: channel attention (top 5 of 128)"
    weights = [row["weight"] for row in bars.rows()]
    assert len(weights) == 5 and weights == sorted(weights, reverse=True) and bars.rows()[0]["channel"].startswith("#")
    assert len(attention_view.channel_bars(a, "c3", None).channels) == 128
    rows = attention_view.statistics_rows(a)
    assert [r["stage"] for r in rows] == ["c2", "c3", "c4"] and rows[1]["channels"] == 128
    assert rows[1]["top channels"] == ", ".join(f"#{c}" for c in bars.channels)  # one channel ranking


def test_the_attention_figure_shows_the_views_panels(found, image):
    a, _ = found
    fig = hierarchical_attention_figure(a, image, cmap="viridis")
    panels = attention_view.stage_panels(a, image, "c2", cmap="viridis", on_image=False)
    shown = [ax for ax in fig.axes if ax.get_title() == "c2: spatial attention"]
    assert len(shown) == 1
    np.testing.assert_array_equal(shown[0].images[0].get_array(), panels["spatial attention"].image)
    bars = [ax for ax in fig.axes if ax.get_xlabel() == "absolute [0, 1]"]  # a colour bar per attention map
    assert len(bars) == 2 * 3 and all(ax.get_xlim() == (0.0, 1.0) for ax in bars)
    bars = attention_view.channel_bars(a, "c3")
    assert [ax for ax in fig.axes if ax.get_title() == bars.title]


def test_feature_layers_orders_and_grids(found, image):
    a, b = found
    layers = features_view.feature_layers(a)
    assert layers[:3] == ["c2_pre", "c2", "c3_pre"] and layers[-5:] == ["p2", "p3", "p4", "p5", "p6"]
    assert "c2_pre" not in features_view.feature_layers(b)
    assert features_view.attention_stage_of(a, "c3_pre") == "c3" and features_view.attention_stage_of(a, "c5") is None
    by_attention = features_view.channel_order(a, "c3", "attention weight", 4)
    weights = a.capture.attention["c3"].channel
    assert list(by_attention) == list(np.argsort(-weights, kind="stable")[:4])
    assert list(features_view.channel_order(b, "c3", "attention weight", 4)) == list(
        features_view.channel_order(b, "c3", "activation", 4))
    grid = features_view.feature_grid(a, "p3", np.arange(6), cols=3, cell=40)
    assert grid.ndim == 3 and grid.shape[1] == 3 * 40 + 2 * 2
    panel = features_view.channel_panel(a, image, "c3", 7, on_image=True, alpha=0.5, cmap="viridis")
    assert panel.image.shape == image.shape and "channel attention" in panel.caption


def test_difference_pictures_are_signed(found, image):
    a, b = found
    comparison = compare(a, b)
    panels = compare_view.feature_difference_panels(a, comparison.feature_diffs, image)
    assert [p.title.split(":")[0] for p in panels] == ["c2", "c3", "c4", "c5"]
    assert all(p.image.shape == image.shape for p in panels)
    diff = np.zeros((10, 10), np.float32)
    diff[:, :5] = 0.1
    picture = compare_view.difference_picture(image, diff, on_image=False, alpha=0.5,
                                              limit=compare_view.difference_limit(diff))
    assert picture[0, 0, 0] > picture[0, 0, 2] + 50  # +limit: red
    assert picture[0, -1].min() > 230  # zero: white


def test_cam_picture_outlines_the_box(image):
    cam = np.zeros(image.shape[:2], np.float32)
    picture = cam_picture(image, cam, alpha=0.0, box=(10, 10, 50, 40))
    assert (picture[10, 30] == 255).all() and np.array_equal(picture[100, 100], image[100, 100])


def _caption_numbers(caption: str) -> list[float]:
    import re

    return [float(x) for x in re.findall(r"-?\d+\.\d{3}", caption)]


@pytest.mark.parametrize("stretch", [False, True])
def test_captions_give_the_numbers_of_their_colour_bars(found, image, stretch):
    """Issue 23: a caption said 0.601 – 1.880 under a bar of 0.63 – 1.46 (the bar was made from the
    enlarged map and stopped at the 99.5th percentile, silently)."""
    a, _ = found
    for stage in attention_view.attention_stages(a):
        for name, panel in attention_view.stage_panels(a, image, stage, stretch=stretch).items():
            numbers = _caption_numbers(panel.caption)
            low, high = numbers[:2]
            if panel.scale.label.startswith("mean |activation|") or stretch:
                assert round(panel.scale.vmin, 3) == low, (name, panel.caption)
                top = numbers[2] if "the colours stop at" in panel.caption else high
                assert round(panel.scale.vmax, 3) == top, (name, panel.caption, panel.scale)
            else:  # the attention maps on their absolute [0, 1]
                assert (panel.scale.vmin, panel.scale.vmax) == (0.0, 1.0) and 0.0 <= low <= high <= 1.0
            assert panel.values.min() >= low - 1e-3 and panel.values.max() <= high + 1e-3  # drawn within it
    layer = features_view.feature_layers(a)[0]
    panel = features_view.channel_panel(a, image, layer, 0, on_image=False, alpha=0.5, cmap="viridis")
    low, high = _caption_numbers(panel.caption)[:2]
    assert (round(panel.scale.vmin, 3), round(panel.scale.vmax, 3)) == (low, high)


def test_lost_rows_carry_the_box_of_the_model_that_found_them(pair, image):
    a, b = (detections_view.at_threshold(x, 0.0) for x in analyze_pair(pair, image, score_threshold=0.0, fpn=False))
    diff = compare(a, b).detections
    rows = detections_view.detection_rows(a, b, diff)
    box = lambda x, i: ", ".join(f"{v:.0f}" for v in x.capture.instances.pred_boxes.tensor[i].tolist())  # noqa: E731
    for row in rows:
        with_i, without_i = row["with #"], row["without #"]
        assert row["box (with)"] == (box(a, with_i) if with_i is not None else None)
        assert row["box (without)"] == (box(b, without_i) if without_i is not None else None)
    assert any(r["change"] == "lost" for r in rows)  # the case the bug was in
