"""`python -m app analyze` end to end: figures, summary.json, and the exit status of a bad image."""

import json

import numpy as np
from PIL import Image

from app.cli import main
from models import CONFIG_DIR


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
    assert "bad.jpg" in capsys.readouterr().err
    for name in ("good_detections.png", "good_detections.pdf", "good_comparison.png", "good_model_attention.pdf",
                 "good_model_c3_channels.png", "good_compare_c5_channels.png"):
        assert (out / name).stat().st_size > 1000, name
    assert not (out / "good_compare_attention.png").exists()  # the baseline has no attention


def test_analyze_reports_a_missing_model(tmp_path, capsys):
    image = tmp_path / "x.png"
    Image.new("RGB", (40, 40)).save(image)
    status = main(["analyze", str(image), "--out", str(tmp_path), "--model", "nope.yaml:nope.pth", "--compare", "none"])
    assert status == 2 and "nope.yaml: config file not found" in capsys.readouterr().err
