"""`python -m app analyze` end to end: figures, summary.json, and the exit status of a bad image."""

import json

import numpy as np
import pytest
from PIL import Image

import models
from app.cli import main
from models import CONFIG_DIR
from models.zoo import resolve

from detectron2.data.transforms import ResizeShortestEdge


def test_analyze_two_images_one_bad(tmp_path, capsys):
    good = tmp_path / "good.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (120, 150, 3), dtype=np.uint8)).save(good)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 truncated jpeg")
    out = tmp_path / "out"
    status = main(["analyze", str(good), str(bad), "--out", str(out), "--threshold", "0.99",
                   "--model", str(CONFIG_DIR / "mask_rcnn_R_18_FPN_bam.yaml"),
                   "--compare", str(CONFIG_DIR / "mask_rcnn_R_18_FPN.yaml"), "--cam-layers", "c4"])
    assert status == 1  # one image failed
    report = json.loads((out / "summary.json").read_text())
    assert list(report["images"]) == ["good.png"] and "bad.jpg" in report["failed"]
    err = capsys.readouterr().err
    assert "bad.jpg" in err
    # configs without weights: said, not silent (their detections are an untrained network's)
    assert "no weights given for mask_rcnn_R_18_FPN_bam.yaml: random weights" in err
    assert "sees it at" not in err  # those configs see the small image as large or larger
    for name in ("good_detections.png", "good_detections.pdf", "good_comparison.png", "good_model_attention.pdf",
                 "good_model_c3_channels.png", "good_compare_c5_channels.png"):
        assert (out / name).stat().st_size > 1000, name
    assert not (out / "good_compare_attention.png").exists()  # the baseline has no attention


def test_analyze_reports_a_missing_model(tmp_path, capsys):
    image = tmp_path / "x.png"
    Image.new("RGB", (40, 40)).save(image)
    status = main(["analyze", str(image), "--out", str(tmp_path), "--model", "nope.yaml:nope.pth", "--compare", "none"])
    assert status == 2 and "nope.yaml: config file not found" in capsys.readouterr().err


def test_bad_options_are_one_sentence_before_any_model_loads(tmp_path, capsys):
    image = tmp_path / "x.png"
    Image.new("RGB", (40, 40)).save(image)
    base = ["analyze", str(image), "--out", str(tmp_path / "out"), "--compare", "none"]
    for option, value, expected in (("--cmap", "nosuch", "'nosuch' is not a matplotlib colormap"),
                                    ("--threshold", "1.5", "must be between 0 and 1"),
                                    ("--top-k", "0", "must be at least 1")):
        with pytest.raises(SystemExit) as exit_:
            main([*base, option, value])
        err = capsys.readouterr().err
        assert exit_.value.code == 2 and expected in err and "Traceback" not in err, option
    status = main([*base, "--cam-layers", "c9"])
    err = capsys.readouterr().err
    assert status == 2 and err.count("unknown layer 'c9'") == 1 and "c4" in err
    assert not (tmp_path / "out").exists()  # nothing written for a run that cannot go through


def test_a_photo_the_model_sees_much_smaller_gets_a_note(tmp_path, capsys):
    photo = tmp_path / "photo.jpg"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (1200, 1600, 3), dtype=np.uint8)).save(photo)
    status = main(["analyze", str(photo), "--out", str(tmp_path / "out"), "--compare", "none", "--cam-layers", "c4"])
    err = capsys.readouterr().err
    assert status == 0
    assert "analysed at 1333 × 1000 pixels (downscaled from 1600 × 1200)" in err
    cfg = models.get_config(resolve("demo-bam").config)
    seen_h, seen_w = ResizeShortestEdge.get_output_shape(1000, 1333, cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MAX_SIZE_TEST)
    assert f"sees it at {seen_w} × {seen_h} pixels ({1333 / seen_w:.1f}x smaller, its INPUT.MIN_SIZE_TEST " \
           f"{cfg.INPUT.MIN_SIZE_TEST})" in err
