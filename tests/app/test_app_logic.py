"""The app's logic without Streamlit: demo assets, model choices, exports, the evaluation table."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import models
from app import assets, evaluation, exports
from app.model_choice import demo_choice, load, parse_class_names, path_choice, save_upload
from models import ModelSpec
from tests.results import made_evaluation
from viz.figures import panels_figure
from viz.views.detections import ground_truth_caption

# ------------------------------------------------------------------------------------------------
# Demo assets and model choices


def test_samples_come_from_the_gallery_or_are_generated(tmp_path):
    shipped = assets.sample_images()
    assert shipped and all(s.origin == "sample" and s.name.endswith((".png", ".jpg")) for s in shipped)
    assert any(s.name.endswith(".png") for s in shipped) and any(s.name.endswith(".jpg") for s in shipped)
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
    caption = ground_truth_caption(truth)
    assert caption.startswith(f"{counts[name]} annotated instance")


def test_demo_choice_falls_back_to_seeded_random_weights():
    choice = demo_choice(assets.DEMO_WITH)
    if choice.weights is None:
        assert "random weights" in choice.note
    loaded = [load(ModelSpec("x", choice.config, None)) for _ in range(2)]
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


def test_unique_names():
    assert exports.unique_names(["a.png", "b.png", "a.png", "a.png", "c"]) == ["a.png", "b.png", "a (2).png",
                                                                             "a (3).png", "c"]


def test_exports_pdf_pages_zip_and_panels_figure():
    image = np.zeros((30, 40, 3), np.uint8)
    figures = [panels_figure([(image, "a"), (image, "b")], title="t"), panels_figure([(image, "c")])]
    pdf = exports.pdf_pages(figures)
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages") == 2
    archive = exports.zip_files({"a.png": exports.png_bytes(image)})
    assert archive.startswith(b"PK")
    with pytest.raises(ValueError):
        panels_figure([])


def test_evaluation_table_formats_training_results():
    level = {"images": 4, "tp": 1, "tn": 2, "fp": 0, "fn": 1, "accuracy": 0.75, "precision": 1.0, "recall": None}
    results = made_evaluation({"base": {"image_level": level,
                                        "coco": {"bbox": {"AP": 12.5, "AP50": None, "AP75": 0.0},
                                                 "segm": {"AP": 3.0, "AP50": 1.0, "AP75": 0.0}},
                                        "seconds_per_image": 0.25}})
    rows = {r["metric"]: r["base"] for r in evaluation.evaluation_table(results)}
    assert rows["TP"] == "1" and rows["accuracy"] == "75.00%"  # as in evaluation.md and rows["recall"] == "n/a"
    assert rows["box AP"] == "12.5" and rows["box AP50"] == "n/a"
    entry = {"models": {"base": {"crack": True, "correct": False, "max_score": 0.61}}}
    assert evaluation.verdict(entry, "base") == "crack (max score 0.61) ✗"


def test_a_random_model_loaded_again_for_a_lower_score_cut_is_the_same_model():
    from evaluation.evaluate import at_score_threshold

    loaded = load(ModelSpec("random", models.CONFIG_DIR / "mask_rcnn_R_18_FPN.yaml", None))
    assert at_score_threshold(loaded, 0.5) is loaded  # its own cut (0.05) keeps every detection that counts
    again = at_score_threshold(loaded, 0.01)  # the evaluation's threshold is below the cut: loaded again
    assert again.cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST == 0.01 and again.label == loaded.label
    for (name, a), b in zip(loaded.model.state_dict().items(), again.model.state_dict().values()):
        assert torch.equal(a, b), name


def test_text_from_files_reaches_the_page_literally():
    import re

    from app.text import literal

    name = "cfg_BASE_ *x* [link](http://e.xample) $x^2$ :red[alert] `code` a|b ~~s~~ <b> #1 back\\slash"
    shown = literal(name)
    assert re.sub(r"\\(.)", r"\1", shown) == name  # nothing lost: Markdown drops the escapes
    unescaped = re.sub(r"\\.", "", shown)  # what Markdown would still interpret
    assert not set("_*[]$:`|~<>#\\") & set(unescaped)
