"""`python -m app attention-report` end to end: the shipped demo pair on three gallery images (two
with cracks, one without), and its messages for bad input."""

import csv
import json

import numpy as np
import pytest
import torch

from app.cli import main
from demo.dataset import SAMPLES_DIR
from evaluation.attention_report import REPORT_FILES

PICKED = ("000001.png", "000002.png", "000013.png")  # 000013 has no crack


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    coco = json.loads((SAMPLES_DIR / "annotations.json").read_text())
    images = [im for im in coco["images"] if im["file_name"] in PICKED]
    ids = {im["id"] for im in images}
    coco.update(images=images, annotations=[a for a in coco["annotations"] if a["image_id"] in ids])
    root = tmp_path_factory.mktemp("attention")
    (root / "three.json").write_text(json.dumps(coco))
    threads = torch.get_num_threads()
    status = main(["attention-report", "--json", str(root / "three.json"), "--images", str(SAMPLES_DIR),
                   "--out", str(root / "out"), "--resamples", "200", "--threads", "1", "--cams", "c4",
                   # ROAD (seconds per CAM) is left to tests/viz/test_gradcam.py
                   "--faithfulness", "confidence_change", "drop_in_confidence", "increase_in_confidence"])
    torch.set_num_threads(threads)
    return status, root / "out"


def test_report_files_and_counts(report):
    status, out = report
    assert status == 0
    assert all((out / name).stat().st_size > 0 for name in REPORT_FILES)
    results = json.loads((out / "attention_report.json").read_text())
    ds = results["dataset"]
    assert (ds["num_images"], ds["measured"], ds["skipped_no_crack"]) == (3, 2, 1)
    assert [s["file_name"] for s in results["skipped"]] == ["000013.png"]
    baseline, bam = results["models"]  # the demo pair, baseline first
    features = {"feature c2", "feature c3", "feature c4", "feature c5"}
    cams = {"gradcam c4", "randomcam c4"}
    assert set(results["summary"][bam]) == {"attention c2", "attention c3", "attention c4"} | cams | features
    assert set(results["summary"][baseline]) == cams | features
    assert set(results["differences"][f"{bam} - {baseline}"]) == set(results["summary"][baseline])
    with (out / "attention_report.csv").open() as f:
        rows = list(csv.DictReader(f))
    maps = [row for row in rows if row["map"].split()[0] in ("attention", "feature")]
    assert len(maps) == 2 * (7 + 4)  # per image with a crack: 7 maps of the BAM model, 4 of the baseline
    assert all(row["sanity_pass"] == row["road"] == "" for row in maps)  # CAM measures: CAM rows only
    cam_rows = [row for row in rows if row["map"] in cams]
    assert cam_rows and all(row["sanity_pass"] != "" and row["confidence_change"] != "" and row["road"] == ""
                            for row in cam_rows)
    for label in (baseline, bam):  # the shipped models find these two gallery cracks (3 annotations)
        m = results["models"][label]
        assert m["annotations"] == 3 and 1 <= m["matched_detections"] <= 3
        assert results["summary"][label]["gradcam c4"]["auroc"]["n"] >= 1
        assert set(m["cam_seconds_per_image"]) == {"GradCAM", "RandomCAM"}
    md = (out / "attention_report.md").read_text()
    assert "## AUROC (crack pixels)" in md and "| attention c2 | — |" in md
    assert "## CAMs: sanity check passed (share)" in md and "| randomcam c4 |" in md and "## CAMs: ROAD" not in md


def test_report_values_are_sane(report):
    results = json.loads((report[1] / "attention_report.json").read_text())
    for image in results["images"]:
        assert 0 < image["area_share"] < 0.2 and image["area_share"] <= image["pointing_chance"] < 1
        for maps in image["models"].values():
            for name, values in maps.items():
                assert 0 <= values["auroc"] <= 1 and 0 <= values["pointing"] <= 1
                if name.endswith("cam c4"):
                    assert 0 <= values["sanity_pass"] <= 1 and -1 <= values["sanity_rho"] <= 1
                    assert -1 <= values["confidence_change"] <= 1  # a change of a probability
                    assert values["drop_in_confidence"] == pytest.approx(max(0.0, -values["confidence_change"]))
                if name.split()[0] in ("attention", "feature"):  # a CAM is measured against its own annotation's mask
                    assert values["lift"] == pytest.approx(values["mass_share"] / image["area_share"])
    for label, maps in results["summary"].items():
        for name, stats in maps.items():
            for stat in stats.values():
                if name.split()[0] in ("attention", "feature"):  # CAMs: only images with a matched detection
                    assert stat["n"] == 2 and stat["low"] <= stat["mean"] <= stat["high"]
        # RandomCAM (the same draw for a model and its randomized heads) cannot depend on the heads
        assert maps["randomcam c4"]["sanity_pass"]["mean"] == 0 and maps["randomcam c4"]["sanity_rho"]["mean"] > 0.99
        # the stride-4 features of both trained models light up on the dark crack lines (0.78 and
        # more measured): a mask misplaced against the map (flipped, shifted, padded) would bring
        # this to chance, 0.5
        assert maps["feature c2"]["auroc"]["mean"] > 0.7, label
    baseline, bam = results["models"]
    diff = results["differences"][f"{bam} - {baseline}"]["feature c3"]["auroc"]["mean"]
    means = {m: results["summary"][m]["feature c3"]["auroc"]["mean"] for m in (baseline, bam)}
    assert diff == pytest.approx(means[bam] - means[baseline])  # paired, on the same images


def test_bad_input_is_one_sentence(tmp_path, capsys):
    assert main(["attention-report", "--json", str(tmp_path / "none.json"), "--out", str(tmp_path)]) == 2
    assert "give both --json and --images" in capsys.readouterr().err
    assert main(["attention-report", "--json", str(tmp_path / "none.json"), "--images", str(tmp_path),
                 "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "annotation file not found" in err and "Traceback" not in err
    with pytest.raises(SystemExit):
        main(["attention-report", "--out", str(tmp_path), "--tolerance", "-1"])
    samples = ["--json", str(SAMPLES_DIR / "annotations.json"), "--images", str(SAMPLES_DIR)]
    assert main(["attention-report", *samples, "--out", str(tmp_path / "out"), "--cams", "c9"]) == 2
    err = capsys.readouterr().err
    assert "unknown layer 'c9'" in err and "c4" in err and "Traceback" not in err
    with pytest.raises(SystemExit):
        main(["attention-report", *samples, "--out", str(tmp_path / "out"), "--cams", "c4", "--cam-methods", "Magic"])
    assert "ScoreCAM" in capsys.readouterr().err  # argparse lists the choices
    if not torch.cuda.is_available():  # --device, as every command has it
        assert main(["attention-report", *samples, "--out", str(tmp_path / "out"), "--device", "cuda"]) == 2
        err = capsys.readouterr().err
        assert "no CUDA GPU" in err and "Traceback" not in err


def test_detections_are_matched_to_annotations_one_to_one():
    from evaluation.attention_report import match_detections

    from detectron2.structures import Boxes, Instances

    masks = [np.zeros((100, 100), bool) for _ in range(2)]
    masks[0][10:20, 10:60] = True  # box (10, 10, 60, 20)
    masks[1][70:90, 70:90] = True  # box (70, 70, 90, 90)
    found = Instances((100, 100), pred_boxes=Boxes(torch.tensor(
        [[10, 10, 60, 20], [11, 10, 60, 21], [0, 60, 40, 100], [70, 70, 90, 90.0]])),
        scores=torch.tensor([0.6, 0.9, 0.99, 0.4]), pred_classes=torch.zeros(4, dtype=torch.int64))
    # the best-scoring overlapping detection; the one far away never; a low score not at 0.5
    assert match_detections(found, masks) == [(0, 1)]
    assert match_detections(found, masks, score_threshold=0.3) == [(0, 1), (1, 3)]
    assert match_detections(found, [masks[0], masks[0]]) == [(0, 1), (1, 0)]  # each detection once
    assert match_detections(found[:0], masks) == []


def test_reported_maps_are_those_of_each_models_own_capture(report):
    """The report's numbers for an image are those of measuring each model's own capture of it (the
    images are decoded in workers, shared by the models), and the CAM rows follow the maps."""
    import models
    from evaluation.attention_report import measure_capture
    from evaluation.loader import load_images, model_input
    from evaluation.masks import crack_masks
    from models.zoo import NAMED
    from viz.capture import capture_input

    image = json.loads((report[1] / "attention_report.json").read_text())["images"][-1]
    [(entry, mask)] = crack_masks(SAMPLES_DIR / "annotations.json", [image["image_id"]])
    record = {"image_id": entry["id"], "file_name": str(SAMPLES_DIR / entry["file_name"])}
    for spec in (NAMED["demo-baseline"], NAMED["demo-bam"]):
        model, cfg = models.load_model(spec.config, spec.weights)
        loaded = next(load_images([record], [cfg], workers=0))
        expected = measure_capture(capture_input(model.eval(), model_input(loaded, cfg)), mask, tolerance=15.0)
        reported = image["models"][spec.label]
        assert list(reported)[:len(expected)] == list(expected)  # the maps first, then the CAM rows
        assert set(reported) - set(expected) == {"gradcam c4", "randomcam c4"}
        for name, values in expected.items():
            assert reported[name] == pytest.approx(values, rel=1e-6), name


def test_the_figure_takes_a_dataset_named_like_mathtext(report):
    """'$\\frac$' would stop matplotlib's mathtext parser: the dataset's name is plain text."""
    from evaluation.alignment_figure import alignment_figure
    from evaluation.results import Alignment
    from viz.figures import figure_bytes

    results = Alignment.from_json(json.loads((report[1] / "attention_report.json").read_text()))
    results.dataset.json = "data/$\\frac$.json"
    assert figure_bytes(alignment_figure(results), "png").startswith(b"\x89PNG")
