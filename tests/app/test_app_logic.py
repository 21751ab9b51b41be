"""The app's logic without Streamlit: demo assets, model choices, and what the pages show."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import models
from app import assets, evaluation, views
from app.model_choice import ModelChoice, demo_choice, load, parse_class_names, path_choice, save_upload
from viz.analysis import analyze, compare
from viz.figures import panels_figure



@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(0)
    img = (rng.random((150, 230, 3)) * 60 + 120).astype(np.uint8)
    img[40:50, 20:200] = 20
    return img


@pytest.fixture(scope="module")
def found(pair, image):
    (m1, c1), (m0, c0) = pair
    a = analyze(m1, c1, image, label="BAM", class_names=("crack",), score_threshold=0.0, cam_layers=(), fpn=True)
    b = analyze(m0, c0, image, label="base", class_names=("crack",), score_threshold=0.0, cam_layers=(), fpn=True)
    return a, b


# ------------------------------------------------------------------------------------------------
# Demo assets and model choices


def test_samples_come_from_the_gallery_or_are_generated(tmp_path):
    shipped = assets.sample_images()
    assert shipped and all(s.origin == "sample" and s.name.endswith(".png") for s in shipped)
    generated = assets.sample_images(tmp_path / "none", generated=2)
    assert [s.name for s in generated] == ["generated-0.png", "generated-1.png"]
    assert generated[0].data.startswith(b"\x89PNG") and generated[0].digest != generated[1].digest


def test_sample_ground_truth_decodes_the_gallery_annotations():
    coco = json.loads(assets.SAMPLE_ANNOTATIONS.read_text())
    counts = {im["file_name"]: sum(a["image_id"] == im["id"] for a in coco["annotations"]) for im in coco["images"]}
    name = max(counts, key=counts.get)
    truth = assets.sample_ground_truth(name)
    assert len(truth.masks) == counts[name] > 0 and truth.masks[0].dtype == bool and truth.masks[0].any()
    assert "surface" in truth.details
    assert assets.sample_ground_truth("not-a-sample.png") is None
    caption = views.ground_truth_caption(truth)
    assert caption.startswith(f"{counts[name]} annotated instance")


def test_demo_choice_falls_back_to_seeded_random_weights():
    choice = demo_choice(assets.DEMO_WITH)
    if choice.weights is None:
        assert "random weights" in choice.note
    loaded = [load(ModelChoice("x", choice.config, None)) for _ in range(2)]
    first = [p for p in loaded[0].model.parameters()][5]
    assert torch.equal(first, [p for p in loaded[1].model.parameters()][5])  # same seed, same model
    assert loaded[0].has_attention and loaded[0].class_names == ("class 0",)


def test_path_choice_checks_files_and_keys_change_with_content(tmp_path):
    with pytest.raises(models.ModelLoadError, match="config file not found"):
        path_choice(tmp_path / "none.yaml", None)
    cfg = tmp_path / "m.yaml"
    cfg.write_text("_BASE_: x.yaml\n")
    choice = path_choice(f"  {cfg}  ", "", class_names=("a",))
    assert choice.weights is None and "random weights" in choice.note and choice.label == "m"
    key = choice.key
    cfg.write_text("_BASE_: other.yaml\n")
    assert path_choice(cfg, None).key != key
    assert parse_class_names(" crack, , scratch ") == ("crack", "scratch")


def test_uploads_are_saved_by_content_with_the_shipped_bases(tmp_path):
    data = (models.CONFIG_DIR / "mask_rcnn_R_18_FPN_bam.yaml").read_bytes()
    path = save_upload(tmp_path, "../../evil name.yaml", data)
    assert path.parent.parent == tmp_path and path.name == "evil_name.yaml"
    assert (path.parent / "mask_rcnn_R_18_FPN.yaml").is_file()  # its _BASE_ resolves
    assert save_upload(tmp_path, "evil name.yaml", data) == path
    assert models.describe(models.get_config(path)).attention == "bam"


# ------------------------------------------------------------------------------------------------
# Pages' views


def test_unique_names():
    assert views.unique_names(["a.png", "b.png", "a.png", "a.png", "c"]) == ["a.png", "b.png", "a (2).png",
                                                                           "a (3).png", "c"]


def test_threshold_views_share_the_analysis(found):
    a, _ = found
    seen = views.at_threshold(a, 0.5)
    assert seen.capture is a.capture and seen.cams is a.cams and a.score_threshold == 0.0
    assert views.at_threshold(a, 0.0) is a


def test_detection_rows_cover_every_detection_once(found):
    a, b = (views.at_threshold(x, 0.05) for x in found)
    diff = compare(a, b).detections
    rows = views.detection_rows(a, b, diff)
    assert len(rows) == len(diff.kept) + len(diff.gained) + len(diff.lost)
    assert sum(r["with #"] is not None for r in rows) == len(a.detections)
    assert sum(r["without #"] is not None for r in rows) == len(b.detections)
    csv_text = views.rows_csv(rows)
    assert csv_text.splitlines()[0].startswith("change,class,with #") if rows else csv_text == ""
    summary = views.detection_summary(a, b, diff)
    assert summary["with"] == len(a.detections) and summary["gained"] == len(diff.gained)


def test_stage_panels_are_image_sized_pictures(found, image):
    a, _ = found
    assert views.attention_stages(a) == ["c2", "c3", "c4"]
    panels = views.stage_panels(a, image, "c3", on_image=False, cmap="viridis", fusion="sum")
    assert list(panels) == ["input feature", "spatial attention", "combined attention", "refined feature"]
    for panel in panels.values():
        assert panel.image.shape == image.shape and panel.image.dtype == np.uint8 and panel.caption
    assert "σ(Mc + Ms)" in panels["combined attention"].caption
    on = views.stage_panels(a, image, "c3", on_image=True, alpha=0.0)
    assert np.array_equal(on["spatial attention"].image, image)  # opacity 0: the image itself
    bars = views.channel_bars(a, "c3", 5)
    weights = [b["weight"] for b in bars]
    assert len(bars) == 5 and weights == sorted(weights, reverse=True) and bars[0]["channel"].startswith("#")
    rows = views.statistics_rows(a)
    assert [r["stage"] for r in rows] == ["c2", "c3", "c4"] and rows[1]["channels"] == 128


def test_feature_layers_orders_and_grids(found, image):
    a, b = found
    layers = views.feature_layers(a)
    assert layers[:3] == ["c2_pre", "c2", "c3_pre"] and layers[-5:] == ["p2", "p3", "p4", "p5", "p6"]
    assert "c2_pre" not in views.feature_layers(b)
    assert views.attention_stage_of(a, "c3_pre") == "c3" and views.attention_stage_of(a, "c5") is None
    by_attention = views.channel_order(a, "c3", "attention weight", 4)
    weights = a.capture.attention["c3"].channel
    assert list(by_attention) == list(np.argsort(-weights, kind="stable")[:4])
    assert list(views.channel_order(b, "c3", "attention weight", 4)) == list(views.channel_order(b, "c3", "activation", 4))
    grid = views.feature_grid(a, "p3", np.arange(6), cols=3, cell=40)
    assert grid.ndim == 3 and grid.shape[1] == 3 * 40 + 2 * 2
    panel = views.channel_panel(a, image, "c3", 7, on_image=True, alpha=0.5, cmap="viridis")
    assert panel.image.shape == image.shape and "channel attention" in panel.caption


def test_difference_pictures_are_signed(found, image):
    a, b = found
    comparison = compare(a, b)
    panels = views.feature_difference_panels(a, comparison.feature_diffs, image)
    assert [p.title.split(":")[0] for p in panels] == ["c2", "c3", "c4", "c5"]
    assert all(p.image.shape == image.shape for p in panels)
    diff = np.zeros((10, 10), np.float32)
    diff[:, :5] = 0.1
    picture = views.difference_picture(image, diff, on_image=False, alpha=0.5, limit=views.difference_limit(diff))
    assert picture[0, 0, 0] > picture[0, 0, 2] + 50  # +limit: red
    assert picture[0, -1].min() > 230  # zero: white


def test_cam_picture_outlines_the_box(image):
    cam = np.zeros(image.shape[:2], np.float32)
    picture = views.cam_picture(image, cam, alpha=0.0, box=(10, 10, 50, 40))
    assert (picture[10, 30] == 255).all() and np.array_equal(picture[100, 100], image[100, 100])


def test_exports_pdf_pages_zip_and_panels_figure(image):
    figures = [panels_figure([(image, "a"), (image, "b")], title="t"), panels_figure([(image, "c")])]
    pdf = views.pdf_pages(figures)
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages") == 2
    archive = views.zip_files({"a.png": views.png_bytes(image)})
    assert archive.startswith(b"PK")
    with pytest.raises(ValueError):
        panels_figure([])


def test_evaluation_table_formats_training_results():
    results = {"models": {"base": {"image_level": {"images": 4, "tp": 1, "tn": 2, "fp": 0, "fn": 1, "accuracy": 0.75,
                                                   "precision": 1.0, "recall": None},
                                   "coco": {"bbox": {"AP": 12.5, "AP50": None, "AP75": 0.0},
                                            "segm": {"AP": 3.0, "AP50": 1.0, "AP75": 0.0}},
                                   "seconds_per_image": 0.25}}}
    rows = {r["metric"]: r["base"] for r in views.evaluation_table(results)}
    assert rows["TP"] == "1" and rows["accuracy"] == "75.00 %" and rows["recall"] == "n/a"
    assert rows["box AP"] == "12.5" and rows["box AP50"] == "n/a"
    entry = {"models": {"base": {"crack": True, "correct": False, "max_score": 0.61}}}
    assert evaluation.verdict(entry, "base") == "crack (max score 0.61) ✗"


def test_random_weights_are_written_for_the_evaluation(tmp_path):
    loaded = load(ModelChoice("random", models.CONFIG_DIR / "mask_rcnn_R_18_FPN.yaml", None))
    path = evaluation.random_weights_file(loaded, tmp_path)
    assert evaluation.random_weights_file(loaded, tmp_path) == path  # written once
    again, _ = models.load_model(loaded.choice.config, path)
    for (name, a), b in zip(loaded.model.state_dict().items(), again.state_dict().values()):
        assert torch.equal(a, b), name
