"""Evaluation compares models on a labelled set: image-level counts, COCO AP, paired statistics."""

import json

import pytest

import models
from evaluation.evaluate import evaluate
from evaluation.results import Evaluation, Interval


def _load(label, config, weights):
    return models.load(models.ModelSpec(label, config, weights))


def _no_nan(text):
    return json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in JSON"))


def test_evaluate_two_models_side_by_side(trained_run, random_baseline, shared_coco, tmp_path):
    json_path, image_dir = shared_coco
    out = trained_run["out"]
    models_ = [_load("Mask R-CNN", *random_baseline),
               _load("Mask R-CNN + BAM", out / "config.yaml", out / "model_final_fp16.pth")]
    seen = []
    found = evaluate(models_, json_path, image_dir, tmp_path / "eval", threshold=0.5, progress=False,
                     on_progress=lambda done, total: seen.append((done, total)))
    assert seen == [(i, 6) for i in range(1, 7)]

    written = {p.name for p in (tmp_path / "eval").iterdir()}
    assert written == {"evaluation.json", "evaluation.csv", "evaluation.md", "disagreements.json", "images.json"}
    results = _no_nan((tmp_path / "eval" / "evaluation.json").read_text())  # the file, as it is read
    assert results == found.to_json() and Evaluation.from_json(results) == found
    assert results["dataset"]["num_images"] == 6 and results["dataset"]["with_instances"] == 4
    assert list(results["models"]) == ["Mask R-CNN", "Mask R-CNN + BAM"]
    for label, m in results["models"].items():
        c = m["image_level"]
        assert c["tp"] + c["tn"] + c["fp"] + c["fn"] == 6
        assert c["tp"] + c["fn"] == 4 and c["tn"] + c["fp"] == 2
        assert 0.0 <= c["accuracy"] <= 1.0
        for rate in ("precision", "recall"):
            assert c[rate] is None or 0.0 <= c[rate] <= 1.0
        for task in ("bbox", "segm"):
            for metric, value in m["coco"][task].items():
                assert value is None or 0.0 <= value <= 100.0, (label, task, metric, value)
        assert m["seconds_per_image"] > 0

    disagreements = _no_nan((tmp_path / "eval" / "disagreements.json").read_text())
    assert disagreements["count"] == results["disagreements"] == len(disagreements["images"])
    for image in disagreements["images"]:
        verdicts = {v["crack"] for v in image["models"].values()}
        assert verdicts == {True, False}

    table = (tmp_path / "eval" / "evaluation.md").read_text()
    assert "| | Mask R-CNN | Mask R-CNN + BAM |" in table and "| TP |" in table and "| mask AP50 |" in table
    csv_lines = (tmp_path / "eval" / "evaluation.csv").read_text().splitlines()
    assert csv_lines[0] == "metric,Mask R-CNN,Mask R-CNN + BAM"
    assert csv_lines[2].startswith("TP,")

    paired = results["paired"]  # two models: a disagreement is an image exactly one of them gets right
    assert paired["models"] == ["Mask R-CNN", "Mask R-CNN + BAM"]
    assert paired["only_a_right"] + paired["only_b_right"] == results["disagreements"]
    levels = [m["image_level"] for m in results["models"].values()]
    assert paired["only_b_right"] - paired["only_a_right"] == (
        levels[1]["tp"] + levels[1]["tn"] - levels[0]["tp"] - levels[0]["tn"])
    assert "## Paired statistics" in table and paired["summary"] in table


def test_evaluate_a_model_against_itself(random_baseline, shared_coco, tmp_path):
    json_path, image_dir = shared_coco
    results = evaluate([_load("A", *random_baseline), _load("B", *random_baseline)], json_path, image_dir, tmp_path,
                       threshold=0.0, progress=False)  # every detection counts: both say "crack" everywhere
    paired = results.paired
    assert (paired.only_a_right, paired.only_b_right, paired.mcnemar_p) == (0, 0, 1.0)
    assert paired.both_right == 4 and paired.both_wrong == 2
    intervals = paired.bootstrap.intervals
    assert intervals["accuracy"] == Interval(0.0, 0.0, 0.0)
    ap_rows = [key for key in intervals if key.startswith(("box ", "mask "))]
    assert ap_rows == ["box AP", "box AP50", "box AP75", "mask AP", "mask AP50", "mask AP75"]
    for key in ap_rows:
        assert intervals[key] == Interval(0.0, 0.0, 0.0)
    assert "no difference to test" in paired.summary


def test_evaluate_refuses_a_model_for_other_categories(random_baseline, tiny_coco, tmp_path):
    json_path, image_dir = tiny_coco
    data = json.loads(json_path.read_text())
    data["categories"].append({"id": 2, "name": "stain"})
    json_path.write_text(json.dumps(data))
    with pytest.raises(models.ModelLoadError, match="2 categories"):
        evaluate([_load("m", *random_baseline)], json_path, image_dir, tmp_path / "eval", progress=False)


def test_a_model_evaluated_again_on_the_same_set_runs_once(trained_run, random_baseline, shared_coco, tmp_path,
                                                           monkeypatch):
    """A knock-out's unchanged model (evaluate's `known`): its predictions of the first call are
    used by the later ones, which give the same results without running it again."""
    import evaluation.evaluate as evaluating

    json_path, image_dir = shared_coco
    out = trained_run["out"]
    baseline = _load("Mask R-CNN", *random_baseline)
    other = _load("Mask R-CNN + BAM", out / "config.yaml", out / "model_final_fp16.pth")
    ran, real = [], evaluating.predict
    monkeypatch.setattr(evaluating, "predict", lambda model, inp: ran.append(model) or real(model, inp))  # a spy
    fresh = evaluate([baseline, other], json_path, image_dir, tmp_path / "fresh", threshold=0.05, progress=False)
    known = {"Mask R-CNN": {}}
    first, again = (evaluate([baseline, other], json_path, image_dir, tmp_path / name, threshold=0.05,
                             progress=False, known=known) for name in ("first", "again"))
    assert sum(m is other.model for m in ran) == 3 * 6 and sum(m is baseline.model for m in ran) == 2 * 6
    assert len(known["Mask R-CNN"]) == 6
    def without_timings(found):
        plain = found.to_json()
        for m in plain["models"].values():
            m.pop("seconds_per_image")
        return plain

    assert without_timings(first) == without_timings(fresh) == without_timings(again)
    assert again.models["Mask R-CNN"].seconds_per_image is None
