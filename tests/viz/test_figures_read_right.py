"""Figures that read right (issue 13): colour bars with the true scale, one colour per instance
shared by matched instances, labels that do not collide, exports without empty halves."""

import io
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from models import detectron2_compat  # noqa: F401  (must precede detectron2)
from tests.viz.conftest import analyze_pair
from viz.analysis import compare
from viz.compare import match_instances
from viz.figures import comparison_figure, detections_figure, figure_bytes, hierarchical_attention_figure
from viz.render import _overlaps, colorbar, draw_labelled_instances
from viz.views import attention as attention_view
from viz.views import stretched_scale, with_colorbar
from viz.views.detections import detection_panels

from detectron2.structures import Boxes, Instances


def instances(h: int, w: int, boxes: list, scores: list) -> Instances:
    """Real detectron2 Instances with filled box-shaped masks (shrunk by 4 px), class 0."""
    inst = Instances((h, w))
    inst.pred_boxes = Boxes(torch.tensor(boxes, dtype=torch.float32))
    masks = torch.zeros((len(boxes), h, w), dtype=torch.bool)
    for k, (x0, y0, x1, y1) in enumerate(boxes):
        masks[k, y0 + 4:y1 - 4, x0 + 4:x1 - 4] = True
    inst.pred_masks = masks
    inst.scores = torch.tensor(scores, dtype=torch.float32)
    inst.pred_classes = torch.zeros(len(boxes), dtype=torch.int64)
    return inst


def test_a_colorbar_states_its_range_and_runs_through_the_colormap():
    bar = colorbar(0.0, 1.0, "gray", label="absolute [0, 1]", width=300)
    assert bar.shape[1] == 300 and bar.dtype == np.uint8
    row = bar[bar.shape[0] // 8 + 4, 10:-10, 0].astype(int)  # through the gradient
    assert row[0] < 30 and row[-1] > 225 and (np.diff(row) >= 0).all()


def test_attention_maps_default_to_their_absolute_range(found, image):
    a, _ = found
    panels = attention_view.stage_panels(a, image, "c3", on_image=False)
    spatial = panels["spatial attention"]
    assert (spatial.scale.vmin, spatial.scale.vmax, spatial.scale.label) == (0.0, 1.0, "absolute [0, 1]")
    stretched = attention_view.stage_panels(a, image, "c3", on_image=False, stretch=True)["spatial attention"]
    # stretched on the map's own cells (what its caption gives), not on their enlargement to the image
    assert stretched.scale == stretched_scale(a.capture.attention["c3"].spatial, "inferno")
    # A map spanning a narrow range looks flat on the absolute scale, not on the stretched one.
    assert np.ptp(spatial.image.astype(int)) < np.ptp(stretched.image.astype(int))
    exported = with_colorbar(spatial)
    assert exported.shape[0] > image.shape[0] and exported.shape[1] == image.shape[1]


def test_matched_instances_share_a_colour_in_both_pictures():
    h, w = 120, 200
    image = np.full((h, w, 3), 128, np.uint8)
    # with: 0 = the shared crack, 1 = gained; without: 0 = lost, 1 = the shared crack (other index).
    with_inst = instances(h, w, [[20, 60, 80, 110], [120, 20, 190, 60]], [0.9, 0.8])
    without_inst = instances(h, w, [[120, 70, 190, 115], [20, 60, 80, 110]], [0.85, 0.7])
    diff = match_instances(with_inst, without_inst)
    assert [(m.index_with, m.index_without) for m in diff.kept] == [(0, 1)]

    class Seen:  # the little of an analysis that detection_panels reads
        def __init__(self, inst, label):
            self.capture, self.label, self.class_names, self.score_threshold = type("C", (), {"instances": inst}), \
                label, ("crack",), 0.5
            self.detections = list(range(len(inst)))

    without_panel, with_panel = detection_panels(Seen(with_inst, "BAM"), Seen(without_inst, "base"), diff, image)
    inside = (95, 50)  # (y, x) inside the shared mask, away from its label
    assert np.array_equal(with_panel.image[inside], without_panel.image[inside])
    assert not np.array_equal(with_panel.image[inside], image[inside])  # the mask is drawn
    gained, lost = with_panel.image[40, 155], without_panel.image[95, 155]
    assert not np.array_equal(gained, with_panel.image[inside]) and not np.array_equal(lost, gained)
    assert with_panel.title == "BAM" and "2 detections" in with_panel.caption


def test_each_label_carries_the_number_the_table_gives(monkeypatch):
    import viz.views.detections as views
    from viz.views.detections import detection_rows

    h, w = 120, 200
    with_inst = instances(h, w, [[20, 60, 80, 110], [120, 20, 190, 60]], [0.9, 0.8])
    without_inst = instances(h, w, [[120, 70, 190, 115], [20, 60, 80, 110]], [0.85, 0.7])
    diff = match_instances(with_inst, without_inst)

    class Seen:
        def __init__(self, inst, label):
            self.capture, self.label, self.class_names, self.score_threshold = type("C", (), {"instances": inst}), \
                label, ("crack",), 0.5
            self.detections = list(range(len(inst)))

        def class_name(self, index):
            return self.class_names[index]

    drawn, real = [], views.draw_instances
    monkeypatch.setattr(views, "draw_instances",
                        lambda *a, notes, **k: drawn.append(notes) or real(*a, notes=notes, **k))  # a spy
    with_att, without_att = Seen(with_inst, "BAM"), Seen(without_inst, "base")
    detection_panels(with_att, without_att, diff, np.full((h, w, 3), 128, np.uint8))
    without_notes, with_notes = drawn
    rows = detection_rows(with_att, without_att, diff)
    assert {(r["change"], r["with #"]) for r in rows if r["with #"] is not None} == {("kept", 0), ("gained", 1)}
    assert with_notes == {0: "#0", 1: "#1 gained"} and without_notes == {1: "#1", 0: "#0 lost"}


def test_labels_on_a_crowded_image_do_not_overlap_and_scale_with_it():
    rng = np.random.default_rng(0)
    h, w, n = 400, 700, 14
    boxes = []
    for _ in range(n):
        x0, y0 = 250 + int(rng.integers(0, 100)), 120 + int(rng.integers(0, 80))
        boxes.append([x0, y0, x0 + int(rng.integers(30, 160)), y0 + int(rng.integers(20, 100))])
    crowd = instances(h, w, boxes, list(np.linspace(0.95, 0.3, n)))
    picture, rects = draw_labelled_instances(np.full((h, w, 3), 150, np.uint8), crowd, ["crack"], score_threshold=0.0)
    assert picture.shape[1:] == (w, 3) and picture.shape[0] >= h and len(rects) == n  # (+ a legend strip)
    assert not [(a, b) for i, a in enumerate(rects) for b in rects[i + 1:] if _overlaps(a, b)]
    assert all(0 <= r[0] and r[2] <= w and 0 <= r[1] and r[3] <= h for r in rects)
    heights = [r[3] - r[1] for r in rects]
    _, big = draw_labelled_instances(np.full((2 * h, 2 * w, 3), 150, np.uint8),
                                     instances(2 * h, 2 * w, [[2 * v for v in b] for b in boxes[:1]], [0.9]),
                                     ["crack"], score_threshold=0.0)
    assert big[0][3] - big[0][1] > 1.5 * np.mean(heights)  # labels grow with the image


def content_fraction(png: bytes) -> tuple[tuple[int, int], float, float]:
    """(size, share of rows, share of columns) that hold something other than near-white."""
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("L"))
    ink = pixels < 235
    return pixels.shape, float(ink.any(axis=1).mean()), float(ink.any(axis=0).mean())


@pytest.fixture(scope="module")
def found(pair, image):
    return analyze_pair(pair, image, score_threshold=0.05, fpn=False)


def test_exported_figures_are_full_and_name_what_they_show(found, image):
    a, b = found
    comparison = compare(a, b)
    figures = {"comparison": comparison_figure(a, b, comparison, image, image_name="wall.png"),
               "detections": detections_figure(a, b, image, image_name="wall.png"),
               "attention": hierarchical_attention_figure(a, image, image_name="wall.png")}
    for name, fig in figures.items():
        title = fig._suptitle.get_text()
        assert "wall.png" in title and "BAM" in title, (name, title)
        if name != "attention":
            assert "base" in title and "score ≥ 0.05" in title
        (height, width), rows, cols = content_fraction(figure_bytes(fig, "png", dpi=60))
        assert height > 100 and width > 100
        assert rows > 0.85 and cols > 0.85, (name, rows, cols)  # no empty halves
    labels = [ax.get_xlabel() for ax in figures["comparison"].axes]
    assert any(label.startswith("shared by every stage: ±") for label in labels)  # the scale, stated
    # each row's title clear of every panel title (a subfigure's suptitle sat on them in the export)
    headings = [t for strip in figures["comparison"].subfigs for t in strip.texts]
    assert {"Mean |activation| per stage", "kept "} <= {t.get_text()[:len(p)] for t in headings
                                                        for p in ("Mean |activation| per stage", "kept ")}
    titles = [ax.title.get_window_extent() for ax in figures["comparison"].axes if ax.get_title()]
    assert titles and not [t for t in headings for title in titles if t.get_window_extent().overlaps(title)]


def test_labels_that_find_no_room_become_letters_with_a_legend_under_the_picture():
    rng = np.random.default_rng(1)
    h, w, n = 240, 320, 40
    boxes = []
    for _ in range(n):
        x0, y0 = int(rng.integers(60, 200)), int(rng.integers(40, 160))
        boxes.append([x0, y0, x0 + int(rng.integers(20, 80)), y0 + int(rng.integers(15, 60))])
    crowd = instances(h, w, boxes, list(np.linspace(0.95, 0.3, n)))
    picture, rects = draw_labelled_instances(np.full((h, w, 3), 150, np.uint8), crowd, ["crack"], score_threshold=0.0)
    assert picture.shape[0] > h and picture.shape[1:] == (w, 3)  # the legend strip
    legend = picture[h:]
    assert (legend < 200).any(axis=2).mean() > 0.01  # it holds text
    assert len(rects) == n
    assert not [(a, b) for i, a in enumerate(rects) for b in rects[i + 1:] if _overlaps(a, b)]


def test_presentation_pages_are_16_by_9_and_full(found, image):
    """Issue 23: the "Build presentation" PDF had square-ish pages; slides are 16:9."""
    from viz.compare import cam_difference
    from viz.figures import SLIDE, comparison_slides

    a, b = found
    comparison = compare(a, b)
    if comparison.detections.kept:  # a CAM page for the best matched instance
        best = max(comparison.detections.kept, key=lambda m: m.score_with)
        heat = np.linspace(0, 1, image.shape[0] * image.shape[1], dtype=np.float32).reshape(image.shape[:2])
        comparison = replace(comparison, cam_diffs={(0, "c4"): cam_difference(heat, heat[::-1])},
                             cams=({(best.index_with, "c4"): heat}, {(best.index_without, "c4"): heat[::-1]}))
    pages = comparison_slides(a, b, comparison, image, image_name="wall.png")
    assert len(pages) == 1 + bool(comparison.detections.kept)
    for page in pages:
        assert tuple(page.get_size_inches()) == pytest.approx(SLIDE)
        assert abs(SLIDE[0] / SLIDE[1] - 16 / 9) < 1e-3
        assert "wall.png" in page._suptitle.get_text()
        (height, width), rows, cols = content_fraction(figure_bytes(page, "png", dpi=40))
        assert rows > 0.45 and cols > 0.85, (rows, cols)  # a 16:9 page around square pictures


def test_legend_tags_are_letters_unlike_the_instance_numbers():
    from viz.render import legend_tag

    tags = [legend_tag(i) for i in range(30)]
    assert tags[:3] == ["a", "b", "c"] and tags[25:28] == ["z", "aa", "ab"] and len(set(tags)) == 30
    assert not any(t[0].isdigit() for t in tags)
