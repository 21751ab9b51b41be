"""The analysis of one image by two models, its JSON summary and its figures."""

import json
from dataclasses import FrozenInstanceError, replace

import numpy as np
import pytest

from viz import analysis as analysis_module
from viz.analysis import analyze, attention_statistics, cam_of, compare, summary, with_cams
from viz.figures import (comparison_figure, detections_figure, figure_bytes, hierarchical_attention_figure,
                         save_figure)


@pytest.fixture(scope="module")
def analyses(pair, image):
    (m1, c1), (m0, c0) = pair
    a = analyze(m1, c1, image, label="BAM", class_names=("crack",), score_threshold=0.05, cam_layers=("c4",))
    b = analyze(m0, c0, image, label="baseline", class_names=("crack",), score_threshold=0.05, cam_layers=("c4",))
    return a, b, compare(a, b, (m1, m0), cam_layers=("c4",))


def test_analysis_has_detections_cams_and_a_comparison(analyses):
    a, b, comparison = analyses
    assert a.detections and (a.detections[0], "c4") in a.cams
    scores = a.capture.instances.scores.numpy()
    assert all(scores[i] >= 0.05 for i in a.detections) and list(scores[a.detections]) == sorted(scores[a.detections], reverse=True)
    assert set(comparison.feature_diffs) == {"c2", "c3", "c4", "c5"}
    for diff in comparison.feature_diffs.values():
        assert diff.min() >= -1 and diff.max() <= 1
    d = comparison.detections
    assert len(d.kept) + len(d.gained) == len(a.detections) and len(d.kept) + len(d.lost) == len(b.detections)


def test_summary_is_json_with_per_stage_statistics(analyses):
    a, b, comparison = analyses
    data = json.loads(json.dumps(summary([a, b], comparison)))
    bam, base = data["models"]
    assert set(bam["attention"]) == {"c2", "c3", "c4"} and base["attention"] == {}
    stats = bam["attention"]["c3"]
    assert stats["channels"] == 128 and 0 <= stats["channel_min"] <= stats["channel_mean"] <= stats["channel_max"] <= 1
    h, w = a.capture.image_size
    assert 0 <= stats["spatial_peak_xy"][0] <= w and 0 <= stats["spatial_peak_xy"][1] <= h
    assert len(bam["instances"]) == len(a.detections) and bam["instances"][0]["class"] == "crack"
    assert "kept" in data["comparison"]["detections"]


def test_attention_statistics_point_at_the_spatial_peak(analyses):
    a, _, _ = analyses
    spatial = np.zeros_like(a.capture.attention["c2"].spatial)
    spatial[3, 5] = 1.0  # stride 4: around (22, 14) in the resized input
    maps = replace(a.capture.attention["c2"], spatial=spatial)
    cap = replace(a.capture, attention={**a.capture.attention, "c2": maps})
    x, y = attention_statistics(cap)["c2"]["spatial_peak_xy"]
    scale_x = cap.model_input.width / cap.model_input.input_size[1]
    assert x == pytest.approx(22 * scale_x) and y == pytest.approx(14 * cap.model_input.height / cap.model_input.input_size[0])


def test_figures_render_to_png_and_pdf(analyses, image, tmp_path):
    a, b, comparison = analyses
    paths = save_figure(hierarchical_attention_figure(a, image), tmp_path / "attention")
    assert [p.suffix for p in paths] == [".png", ".pdf"] and all(p.stat().st_size > 10_000 for p in paths)
    assert figure_bytes(comparison_figure(a, b, comparison, image))[:4] == b"\x89PNG"
    assert figure_bytes(detections_figure([a, b], image), "pdf")[:4] == b"%PDF"
    with pytest.raises(ValueError, match="no attention"):
        hierarchical_attention_figure(b, image)


def test_a_shared_analysis_cannot_be_changed(analyses, pair):
    """What app/cache.py shares between sessions: no session can change what another sees."""
    a, _, comparison = analyses
    with pytest.raises(FrozenInstanceError):
        a.score_threshold = 0.9
    with pytest.raises(TypeError):
        a.cams[(0, "c5")] = np.zeros((2, 2))
    with pytest.raises(TypeError):
        a.capture.features["c9"] = np.zeros((1, 2, 2))
    with pytest.raises(ValueError, match="read-only"):
        a.capture.features["c3"][0, 0, 0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        a.capture.attention["c3"].spatial[0, 0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        next(iter(a.cams.values()))[0, 0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        next(iter(comparison.feature_diffs.values()))[0, 0] = 1.0
    with pytest.raises(AttributeError):
        comparison.detections.kept.append(None)
    assert not hasattr(analysis_module, "add_cam")

    # A CAM the analysis lacks is computed without being stored; with_cams gives a new analysis.
    index = a.detections[0]
    before = dict(a.cams)
    cam = cam_of(a, pair[0][0], index, "c5")
    assert dict(a.cams) == before and (index, "c5") not in a.cams
    more = with_cams(a, {(index, "c5"): cam})
    assert (index, "c5") in more.cams and (index, "c5") not in a.cams and more.capture is a.capture
