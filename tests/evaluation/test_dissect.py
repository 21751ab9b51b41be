"""`python -m app dissect` end to end on the tiny set with two small R-18 models (128 px): every
file, the knock-outs evaluated, the attention report from the same pass equal to its own command's;
the same results from two processes as from one (dissect and attention-report); one sentence for
each user error; the ResNet-only capture the shared pass uses equal to the full one; and the pages
the dissection adds to the report to hand out."""

from __future__ import annotations

import csv
import json
import re

import numpy as np
import pytest
import torch

import models
from app.cli import main
from evaluation.dissection_report import FILES, KNOCKOUT_CSV, DissectionReport, handout_text_pages
from tests.coco import BAM_CONFIG, BASELINE_CONFIG, SMALL
from viz.capture import capture_input

LAYERS = {"c2": 64, "c3": 128, "c4": 256, "c5": 512}  # R-18's channels


@pytest.fixture(autouse=True)
def _threads():
    """--threads 1 sets this process's torch threads: put them back for the other tests."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def small_models(tmp_path_factory):
    """Untrained R-18 baseline and BAM models at 128 px, as CONFIG.yaml:WEIGHTS.pth (baseline first)."""
    out = tmp_path_factory.mktemp("small_models")
    found = []
    for seed, config in enumerate((BASELINE_CONFIG, BAM_CONFIG)):
        cfg = models.get_config(config, SMALL + ["TEST.DETECTIONS_PER_IMAGE", "10"])
        torch.manual_seed(seed)
        (out / f"{config.stem}.yaml").write_text(cfg.dump())
        weights = models.save_weights(models.build_model(cfg), out / f"{config.stem}.pth")
        found.append(f"{out / config.stem}.yaml:{weights}")
    return found


def _common(small_models, shared_coco) -> list[str]:
    """The models, the set, and one torch thread in every process: a convolution's sums are then
    added in the same order however many processes run, so every number can be compared exactly."""
    json_path, image_dir = shared_coco
    return ["--models", *small_models, "--labels", "plain", "with BAM", "--json", str(json_path), "--images",
            str(image_dir), "--device", "cpu", "--threads", "1"]


def _dissect_args(small_models, shared_coco, out, processes: int = 1) -> list[str]:
    # a low threshold: the untrained models' scores decide the image-level verdicts
    return ["dissect", *_common(small_models, shared_coco), "--out", str(out / "dissection"), "--resamples", "50",
            "--knockout-layers", "c5", "--k", "2", "--draws", "1", "--threshold", "0.05",
            "--attention-report", str(out / "attention"), "--num-processes", str(processes)]


@pytest.fixture(scope="module")
def one_process(tmp_path_factory, small_models, shared_coco):
    out = tmp_path_factory.mktemp("dissect")
    threads = torch.get_num_threads()
    status = main(_dissect_args(small_models, shared_coco, out))
    alone = main(["attention-report", *_common(small_models, shared_coco), "--out", str(out / "attention_alone")])
    torch.set_num_threads(threads)
    return status, alone, out


def test_every_file_and_what_it_says(one_process):
    status, _, out = one_process
    assert status == 0
    folder = out / "dissection"
    report = DissectionReport.from_json(json.loads((folder / FILES[0]).read_text()))
    assert report.to_json() == json.loads((folder / FILES[0]).read_text())  # reads back whole
    assert report.labels == ["plain", "with BAM"] and report.dataset.num_images == 6
    for label, m in report.models.items():
        assert {layer: d.channels for layer, d in m.result.layers.items()} == LAYERS
        assert m.result.images == 6 and m.result.images_with_crack == 4
    assert set(report.models["with BAM"].result.correlations) == {"c2", "c3", "c4"}
    assert not report.models["plain"].result.correlations
    # knock-outs: BAM's mean ablations (3 stages, all at once), then c5's best 2 and a random 2
    kinds = {label: [r.label for r in m.knockouts] for label, m in report.models.items()}
    assert kinds == {"plain": ["c5 best 2", "c5 random 2 #1"],
                     "with BAM": ["c2 mean", "c3 mean", "c4 mean", "all mean", "c5 best 2", "c5 random 2 #1"]}
    for m in report.models.values():
        for row in m.knockouts:  # each through evaluate: its paired statistics are there
            assert row.mcnemar_p is not None and row.accuracy is not None and row.confidence == 0.95
    assert len(list((folder / "knockouts").glob("*/*/evaluation.json"))) == 8

    md = (folder / FILES[2]).read_text()
    for said in ("0.5% quantile", "dilated by 2 px", "IoU > 0.04", "1.6% below the exact quantile",
                 "sketch error", "50 resamples", "| c5 | 512 |", "### with BAM", "| c2 mean |", "draws"):
        assert said in md, said
    with (folder / FILES[1]).open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * sum(LAYERS.values()) and rows[0]["model"] == "plain"
    assert {r["crack_unit"] for r in rows} <= {"True", "False"}
    with (folder / KNOCKOUT_CSV).open() as f:
        assert len(list(csv.reader(f))) == 1 + 8
    figures = [*(folder / "figures").glob("*.png"), folder / "dissection_units.png"]
    assert len(figures) == 2 * 4 + 2 + 1  # a figure per model and layer, the knock-outs per model, the units
    assert all(p.stat().st_size > 10_000 and p.with_suffix(".pdf").stat().st_size > 5_000 for p in figures)


def _without_timing(path) -> dict:
    data = json.loads(path.read_text())
    data.pop("seconds", None)
    for m in data["models"].values():
        m.pop("seconds_per_image", None)
    return data


def test_the_attention_report_from_the_same_pass_is_the_commands(one_process):
    _, alone, out = one_process
    assert alone == 0
    shared = _without_timing(out / "attention" / "attention_report.json")
    assert shared == _without_timing(out / "attention_alone" / "attention_report.json")
    assert shared["dataset"]["measured"] == 4 and shared["dataset"]["skipped_no_crack"] == 2


def test_two_processes_dissect_and_report_as_one(one_process, small_models, shared_coco, tmp_path):
    _, _, out = one_process
    assert main(_dissect_args(small_models, shared_coco, tmp_path, processes=2)) == 0
    assert (_without_timing(tmp_path / "dissection" / FILES[0])
            == _without_timing(out / "dissection" / FILES[0]))  # thresholds, IoU, intervals, knock-outs
    assert (_without_timing(tmp_path / "attention" / "attention_report.json")
            == _without_timing(out / "attention" / "attention_report.json"))
    assert main(["attention-report", *_common(small_models, shared_coco), "--out", str(tmp_path / "alone"),
                 "--num-processes", "2"]) == 0
    assert (_without_timing(tmp_path / "alone" / "attention_report.json")
            == _without_timing(out / "attention_alone" / "attention_report.json"))


@pytest.mark.parametrize("extra, said", [
    (["--layers", "c9"], "unknown layer 'c9'"),
    (["--k", "40"], "k must be between 1 and 32, half of c2's 64 channels"),
    (["--layers", "c3", "c4"], "knock-out layer c2 is not dissected"),
    (["--iou-threshold", "1.5"], None),
    (["--quantile", "0"], None),
])
def test_a_user_error_is_one_sentence(small_models, shared_coco, tmp_path, capsys, extra, said):
    args = ["dissect", *_common(small_models, shared_coco), "--out", str(tmp_path / "out"), *extra]
    if said is None:  # argparse's own message
        with pytest.raises(SystemExit):
            main(args)
        assert "must be between" in capsys.readouterr().err
        return
    assert main(args) == 2
    err = capsys.readouterr().err
    assert said in err and err.count("error: ") == 1 and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_knockouts_of_a_model_for_other_classes_are_refused_before_the_pass(small_models, shared_coco, tmp_path,
                                                                           capsys):
    data = json.loads(shared_coco[0].read_text())
    data["categories"].append({"id": 2, "name": "scratch"})
    (tmp_path / "two.json").write_text(json.dumps(data))
    args = ["dissect", *_common(small_models, shared_coco), "--out", str(tmp_path / "out")]
    args[args.index(str(shared_coco[0]))] = str(tmp_path / "two.json")
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "plain: the model predicts 1 classes but two.json has 2 categories" in err and err.count("error: ") == 1
    assert "Dissecting" not in err and not (tmp_path / "out").exists()


def test_sets_and_folders_are_checked_first(tmp_path, capsys):
    assert main(["dissect", "--json", str(tmp_path / "a.json"), "--out", str(tmp_path / "o")]) == 2
    assert "give both --json and --images" in capsys.readouterr().err
    assert main(["dissect", "--out", str(tmp_path / "o"), "--attention-report", str(tmp_path / "o")]) == 2
    assert "another folder than --out" in capsys.readouterr().err


def test_the_resnet_only_capture_has_the_full_passes_maps(pair):
    (model, cfg), _ = pair
    from models.inputs import prepare_input

    image = np.random.default_rng(0).integers(0, 255, (150, 190, 3), dtype=np.uint8)
    full = capture_input(model, prepare_input(image, cfg))
    maps = capture_input(model, prepare_input(image, cfg), maps_only=True)
    assert maps.instances is None and full.instances is not None
    assert set(maps.features) == set(full.features) and set(maps.attention) == set(full.attention)
    for name, values in full.features.items():
        assert np.array_equal(maps.features[name], values), name
    for stage, att in full.attention.items():
        assert np.array_equal(maps.attention[stage].combined, att.combined)
        assert np.array_equal(maps.attention[stage].channel, att.channel)


def _pages(out) -> int:
    return len(re.findall(rb"/Type /Page\b", (out / "report.pdf").read_bytes()))


def test_the_report_to_hand_out_gains_the_dissections_pages(one_process, small_models, shared_coco, tmp_path,
                                                             capsys):
    _, _, out = one_process
    dissection = out / "dissection" / FILES[0]
    args = ["report", *_common(small_models, shared_coco)[:-2], "--limit", "2", "--example-count", "1",
            "--resamples", "50", "--threshold", "0.05"]
    assert main([*args, "--out", str(tmp_path / "with"), "--dissection", str(dissection)]) == 0
    parts = tmp_path / "with" / "report_parts"
    assert main([*args, "--out", str(tmp_path / "without"), "--evaluation", str(parts / "evaluation" /
                 "evaluation.json"), "--attention", str(parts / "attention" / "attention_report.json")]) == 0
    report = DissectionReport.from_json(json.loads(dissection.read_text()))
    text_pages = handout_text_pages(report)
    assert [title for title, _ in text_pages] == ["Inside the attention: crack units per layer",
                                                  "Knock-outs: what the attention and the crack units do to the result"]
    assert _pages(tmp_path / "with") == _pages(tmp_path / "without") + 1 + len(text_pages)  # the figure, the tables
    page = (tmp_path / "with" / "report.html").read_text()
    assert '<section id="dissection">' in page and "c5 random 2 #1" in page and "crack units: with BAM" in page
    assert '<section id="dissection">' not in (tmp_path / "without" / "report.html").read_text()

    (tmp_path / "other.json").write_text(dissection.read_text().replace('"with BAM"', '"BAM"'))
    (tmp_path / "not.json").write_text("{}")
    for name, said in (("other.json", "dissects plain, BAM, but the report's models are plain, with BAM"),
                       ("not.json", "not.json is not a dissection.json")):
        assert main([*args, "--out", str(tmp_path / "no"), "--dissection", str(tmp_path / name)]) == 2
        err = capsys.readouterr().err
        assert said in err and err.count("error: ") == 1 and "Traceback" not in err


def test_a_set_without_crack_free_images_says_why_the_change_is_undefined(one_process):
    from dataclasses import replace

    from evaluation.dissection import Interval
    from evaluation.dissection_report import change_table

    _, _, out = one_process
    report = DissectionReport.from_json(json.loads((out / "dissection" / FILES[0]).read_text()))
    assert 0 < report.dataset.with_crack < report.dataset.num_images
    _, rows = change_table(report)
    assert rows and not any("n/a" in cell for row in rows for cell in row[3:])
    undefined = Interval(None, None, None)  # what dissect finds where every image holds a crack
    models = {label: replace(m, result=replace(m.result, correlations={
        layer: replace(corr, units_minus_others=undefined, change_spearman=undefined)
        for layer, corr in m.result.correlations.items()})) for label, m in report.models.items()}
    cracked_only = replace(report, models=models, dataset=replace(report.dataset, with_crack=report.dataset.num_images))
    _, rows = change_table(cracked_only)
    assert rows and all(row[3] == row[4] == "n/a: no image without cracks" for row in rows)


def test_the_knockouts_set_is_the_first_images_of_the_pass(shared_coco, tmp_path):
    from evaluation.dissect import first_images

    json_path, _ = shared_coco
    assert first_images(json_path, None, tmp_path) == json_path and first_images(json_path, 99, tmp_path) == json_path
    data = json.loads(json_path.read_text())
    cut = json.loads(first_images(json_path, 3, tmp_path).read_text())
    assert cut["images"] == data["images"][:3] and cut["categories"] == data["categories"]
    ids = {im["id"] for im in data["images"][:3]}
    assert cut["annotations"] == [a for a in data["annotations"] if a["image_id"] in ids] and cut["annotations"]
