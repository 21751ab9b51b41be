"""`python -m app attention-report` end to end: the shipped demo pair on three gallery images (two
with cracks, one without), and its messages for bad input."""

import csv
import json

import pytest
import torch

from app.cli import main
from demo.dataset import SAMPLES_DIR
from training.attention_report import REPORT_FILES

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
                   "--out", str(root / "out"), "--resamples", "200", "--threads", "1"])
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
    assert set(results["summary"][bam]) == {"attention c2", "attention c3", "attention c4",
                                            "feature c2", "feature c3", "feature c4", "feature c5"}
    assert set(results["summary"][baseline]) == {"feature c2", "feature c3", "feature c4", "feature c5"}
    assert set(results["differences"][f"{bam} - {baseline}"]) == set(results["summary"][baseline])
    with (out / "attention_report.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * (7 + 4)  # per image with a crack: 7 maps of the BAM model, 4 of the baseline
    md = (out / "attention_report.md").read_text()
    assert "## AUROC (crack pixels)" in md and "| attention c2 | — |" in md


def test_report_values_are_sane(report):
    results = json.loads((report[1] / "attention_report.json").read_text())
    for image in results["images"]:
        assert 0 < image["area_share"] < 0.2 and image["area_share"] <= image["pointing_chance"] < 1
        for maps in image["models"].values():
            for values in maps.values():
                assert 0 <= values["auroc"] <= 1 and 0 <= values["pointing"] <= 1
                assert values["lift"] == pytest.approx(values["mass_share"] / image["area_share"])
    for label, maps in results["summary"].items():
        for name, stats in maps.items():
            for stat in stats.values():
                assert stat["n"] == 2 and stat["low"] <= stat["mean"] <= stat["high"]
        # the stride-4 features of both trained models light up on the dark crack lines: a mask
        # misplaced against the map (flipped, shifted, padded) would bring this to chance
        assert maps["feature c2"]["auroc"]["mean"] > 0.8, label
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
