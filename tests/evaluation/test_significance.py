"""Paired statistics (evaluation.significance) on cases whose answers are known by hand."""

import contextlib
import io
from math import comb

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from app.cli import main as cli
from evaluation.formatting import counts_markdown, paired_markdown
from evaluation.results import Interval, Pairing
from evaluation.significance import (
    APResampler,
    _CategoryMatches,
    bootstrap_indices,
    mcnemar_exact,
    paired_bootstrap,
    paired_outcomes,
    paired_statistics,
    pairing_from_counts,
)

# The BAM crack experiment: 130 test images, 49 with cracks and 81 without.
BEFORE = {"tp": 38, "tn": 81, "fp": 0, "fn": 11}  # Mask R-CNN: 91.54 %
AFTER = {"tp": 41, "tn": 81, "fp": 0, "fn": 8}  # with BAM: 93.85 %


def test_identical_outcomes_give_p_1():
    right = [True] * 120 + [False] * 10
    stats = paired_outcomes(right, right)
    assert (stats["only_a_right"], stats["only_b_right"], stats["mcnemar_p"]) == (0, 0, 1.0)
    assert (stats["both_right"], stats["both_wrong"], stats["images"]) == (120, 10, 130)
    assert mcnemar_exact(4, 4) == 1.0


def test_textbook_mcnemar():
    # b = 1, c = 9: two-sided exact p = 2 * (C(10,0) + C(10,1)) / 2^10 = 22 / 1024 = 0.0215
    assert mcnemar_exact(1, 9) == pytest.approx(22 / 1024) == mcnemar_exact(9, 1)
    assert round(mcnemar_exact(1, 9), 4) == 0.0215
    # b = 0, c = 3: 2 / 2^3
    assert mcnemar_exact(0, 3) == pytest.approx(0.25)
    # b = 8, c = 11: 2 * P(X <= 8), X ~ Bin(19, 1/2)
    assert mcnemar_exact(8, 11) == pytest.approx(2 * sum(comb(19, k) for k in range(9)) / 2 ** 19)
    with pytest.raises(ValueError):
        mcnemar_exact(-1, 3)


def test_outcomes_count_each_model_alone():
    a = [True, True, False, False, True]
    b = [True, False, True, True, True]
    stats = paired_outcomes(a, b)
    assert (stats["both_right"], stats["only_a_right"], stats["only_b_right"], stats["both_wrong"]) == (2, 1, 2, 0)
    assert stats["mcnemar_p"] == pytest.approx(1.0)  # 1 vs 2: p = 2 * 4 / 8, capped at 1
    with pytest.raises(ValueError):
        paired_outcomes([True], [True, False])


def test_the_worked_example_from_counts_alone():
    # 91.54 % and 93.85 % of 130 images are 119 and 122 images right
    assert (round(0.9154 * 130), round(0.9385 * 130)) == (119, 122)
    result = pairing_from_counts(BEFORE, AFTER)
    assert (result.correct_a, result.correct_b, result.images) == (119, 122, 130)
    # at best the 3 newly found cracks are the only change: 3 gained, none lost
    assert (result.best.only_a_right, result.best.only_b_right, result.best.mcnemar_p) == (0, 3, pytest.approx(0.25))
    # at worst the two models find overlapping cracks as little as 49 positives allow: 30 in common
    assert (result.worst.only_a_right, result.worst.only_b_right) == (8, 11)
    assert result.worst.mcnemar_p == pytest.approx(mcnemar_exact(8, 11))
    # every pairing in between lies between the two
    for b in range(0, 9):
        assert 0.25 <= mcnemar_exact(b, b + 3) <= result.worst.mcnemar_p
    # the other way round: the same pairings, mirrored
    backwards = pairing_from_counts(AFTER, BEFORE)
    assert (backwards.best.only_a_right, backwards.best.only_b_right) == (3, 0)
    assert backwards.best.mcnemar_p == pytest.approx(0.25)
    text = counts_markdown(result, ("Mask R-CNN", "with BAM"))
    assert "| best case | 0 | 3 | 0.25 |" in text and "not significant at 0.05" in text


def test_counts_that_allow_significance():
    # 10 -> 30 of 40 positives found, the negatives unchanged: at least 20 gained, none lost
    result = pairing_from_counts({"tp": 10, "tn": 40, "fp": 0, "fn": 30}, {"tp": 30, "tn": 40, "fp": 0, "fn": 10})
    assert result.best.only_b_right == 20 and result.best.only_a_right == 0
    assert result.worst.mcnemar_p < 0.05  # even 10 lost and 30 gained is significant
    assert "however the images pair up" in counts_markdown(result)
    # a trade: recall up, specificity down, the same accuracy
    trade = pairing_from_counts({"tp": 10, "tn": 40, "fp": 0, "fn": 30}, {"tp": 20, "tn": 30, "fp": 10, "fn": 20})
    assert trade.best == Pairing(10, 10, 1.0)


def test_tables_of_different_images_are_refused():
    with pytest.raises(ValueError, match="not of the same images"):
        pairing_from_counts(BEFORE, {"tp": 41, "tn": 80, "fp": 0, "fn": 8})
    with pytest.raises(ValueError, match="four whole numbers"):
        pairing_from_counts(BEFORE, {"tp": 41, "tn": 81, "fp": 0})


def test_bootstrap_interval_is_seeded_and_contains_the_observed_difference():
    rng = np.random.default_rng(3)
    a, b = rng.random(130) < 0.85, rng.random(130) < 0.93
    first = paired_bootstrap(a, b, resamples=500, seed=7)
    acc = first.intervals["accuracy"]
    assert acc.observed == pytest.approx(b.mean() - a.mean())
    assert acc.low < acc.observed < acc.high
    assert acc.high - acc.low < 0.2  # 130 images narrow it down to some points
    assert paired_bootstrap(a, b, resamples=500, seed=7) == first
    assert paired_bootstrap(a, b, resamples=500, seed=8).intervals["accuracy"] != acc
    same = paired_bootstrap(a, a, resamples=200).intervals["accuracy"]
    assert same == Interval(0.0, 0.0, 0.0)


def _coco_eval(gt: COCO, detections: list[dict], **params) -> COCOeval:
    """pycocotools' box evaluation, with `params` (e.g. maxDets) set on COCOeval.params."""
    with contextlib.redirect_stdout(io.StringIO()):
        evaluation = COCOeval(gt, gt.loadRes(detections), "bbox")
        for name, value in params.items():
            setattr(evaluation.params, name, value)
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return evaluation


@pytest.fixture(scope="module")
def two_detectors():
    """40 images (25 with one box each), and pycocotools' evaluation of two detectors on them:
    A localises loosely and raises false alarms; B is tighter. Returns (image ids, eval A, eval B)."""
    rng = np.random.default_rng(0)
    images, annotations, found_a, found_b = [], [], [], []
    for i in range(1, 41):
        images.append({"id": i, "width": 200, "height": 200})
        if i <= 25:
            x, y = (float(v) for v in rng.uniform(0, 120, 2))
            annotations.append({"id": i, "image_id": i, "category_id": 1, "bbox": [x, y, 60, 40],
                                "area": 2400.0, "iscrowd": 0})
            found_a.append({"image_id": i, "category_id": 1, "score": float(rng.uniform(0.3, 1)),
                            "bbox": [x + float(rng.normal(0, 12)), y + float(rng.normal(0, 8)), 60, 40]})
            found_b.append({"image_id": i, "category_id": 1, "score": float(rng.uniform(0.5, 1)),
                            "bbox": [x + float(rng.normal(0, 3)), y + float(rng.normal(0, 2)), 60, 40]})
        found_a.append({"image_id": i, "category_id": 1, "score": float(rng.uniform(0.05, 0.7)),
                        "bbox": [float(v) for v in rng.uniform(0, 150, 2)] + [40.0, 30.0]})
    gt = COCO()
    gt.dataset = {"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "crack"}]}
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
    ids = list(range(40, 0, -1))  # another order than pycocotools' own
    return ids, _coco_eval(gt, found_a), _coco_eval(gt, found_b)


def test_ap_on_all_images_is_pycocotools_own(two_detectors):
    ids, eval_a, _ = two_detectors
    ap = APResampler(eval_a, ids)(np.arange(len(ids)))
    # COCOeval.stats: AP, AP50, AP75 (area all, 100 detections), fractions
    assert ap["AP"] == pytest.approx(100 * eval_a.stats[0])
    assert ap["AP50"] == pytest.approx(100 * eval_a.stats[1])
    assert ap["AP75"] == pytest.approx(100 * eval_a.stats[2])
    # resampling leaves the original evaluation as it was
    APResampler(eval_a, ids)(np.zeros(len(ids), dtype=int))
    assert len(eval_a.params.areaRng) == 4 and len(eval_a.evalImgs) == 4 * 40


@pytest.fixture(scope="module")
def awkward_detections():
    """Two categories (the second annotated on 5 of 30 images only), a crowd annotation, tied
    scores, duplicate detections and images with nothing: (ground truth, detections, image ids)."""
    rng = np.random.default_rng(3)
    images, annotations, found = [], [], []
    for i in range(1, 31):
        images.append({"id": i, "width": 300, "height": 300})
        for category, annotated in ((1, i % 3 != 0), (2, i % 6 == 1)):
            if not annotated:
                continue
            x, y = (float(v) for v in rng.uniform(0, 200, 2))
            annotations.append({"id": len(annotations) + 1, "image_id": i, "category_id": category,
                                "bbox": [x, y, 50, 50], "area": 2500.0, "iscrowd": int(i == 4)})
            for _ in range(int(rng.integers(0, 3))):  # 0-2 detections near it, some duplicates
                found.append({"image_id": i, "category_id": category, "score": round(float(rng.uniform(0, 1)), 1),
                              "bbox": [x + float(rng.normal(0, 8)), y + float(rng.normal(0, 8)), 50, 50]})
        for _ in range(int(rng.integers(0, 3))):  # false alarms of either category, tied scores
            found.append({"image_id": i, "category_id": int(rng.integers(1, 3)),
                          "score": round(float(rng.uniform(0, 1)), 1),
                          "bbox": [float(v) for v in rng.uniform(0, 250, 2)] + [40.0, 40.0]})
    gt = COCO()
    gt.dataset = {"images": images, "annotations": annotations,
                  "categories": [{"id": 1, "name": "crack"}, {"id": 2, "name": "chip"}]}
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
    return gt, found, list(range(1, 31))


@pytest.mark.parametrize("params", [
    {},  # pycocotools' defaults
    {"maxDets": [1, 2, 2], "iouThrs": np.array([0.3, 0.5, 0.75]), "recThrs": np.linspace(0, 1, 11)},
], ids=["defaults", "two-detections-other-thresholds"])
def test_many_resamples_at_once_equal_pycocotools_one_by_one(awkward_detections, params):
    gt, found, ids = awkward_detections
    resampler = APResampler(_coco_eval(gt, found, **params), ids)
    indices = np.concatenate([
        np.arange(30)[None], np.zeros((1, 30), int), np.full((1, 30), 2),  # all, one image, one with nothing
        np.tile([2, 3, 5, 8, 9, 11], 5)[None],  # no annotation of the second category drawn
        bootstrap_indices(30, resamples=150, seed=1)])
    many = resampler.many(indices)
    assert set(many) == {"AP", "AP50", "AP75"} and all(v.shape == (len(indices),) for v in many.values())
    for row, index in enumerate(indices):
        one = resampler(index)
        for metric in ("AP", "AP50", "AP75"):
            expected = np.nan if one[metric] is None else one[metric]
            assert many[metric][row] == pytest.approx(expected, abs=1e-9, nan_ok=True), (row, metric)
    assert np.isnan(many["AP"][2]) and not np.isnan(many["AP"][0])


def test_many_resamples_in_chunks_give_the_same(awkward_detections, monkeypatch):
    gt, found, ids = awkward_detections
    evaluation = _coco_eval(gt, found)
    indices = bootstrap_indices(30, resamples=40, seed=2)
    whole = APResampler(evaluation, ids).many(indices)
    monkeypatch.setattr(_CategoryMatches, "MAX_ELEMENTS", 50)  # a few resamples per chunk
    chunked = APResampler(evaluation, ids).many(indices)
    for metric in whole:
        np.testing.assert_array_equal(chunked[metric], whole[metric])


def test_ap_difference_interval(two_detectors):
    ids, eval_a, eval_b = two_detectors
    ap = {"box": (APResampler(eval_a, ids), APResampler(eval_b, ids))}
    right_a, right_b = [True] * 30 + [False] * 10, [True] * 36 + [False] * 4
    boot = paired_bootstrap(right_a, right_b, ap=ap, resamples=200, seed=0)
    for metric, index in (("AP", 0), ("AP50", 1), ("AP75", 2)):
        interval = boot.intervals[f"box {metric}"]
        assert interval.observed == pytest.approx(100 * (eval_b.stats[index] - eval_a.stats[index]))
        assert interval.low <= interval.observed <= interval.high
    assert boot.intervals["box AP"].low > 0  # B's tighter boxes and no false alarms: better on any draw
    stats = paired_statistics(("A", "B"), right_a, right_b, ap=ap, resamples=200)
    text = paired_markdown(stats)
    assert "| images only B gets right | 6 |" in text and "| box AP50 |" in text
    assert "McNemar's exact test p = 0.0312" in stats.summary and "unlikely" in stats.summary


def test_cli_from_counts(capsys):
    status = cli(["evaluate", "--from-counts", "38,81,0,11", "41,81,0,8", "--labels", "Mask R-CNN", "with BAM"])
    out = capsys.readouterr().out
    assert status == 0
    assert "| best case | 0 | 3 | 0.25 |" in out and "119 -> 122 of 130" in out
    assert "not significant at 0.05" in out


def test_cli_from_counts_refuses_bad_tables(capsys):
    assert cli(["evaluate", "--from-counts", "38,81,0,11", "41,80,0,8"]) == 2
    assert "not of the same images" in capsys.readouterr().err
    assert cli(["evaluate", "--from-counts", "38,81,0,11", "41,81,0,8", "--out", "x"]) == 2
    assert "runs no model" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli(["evaluate", "--from-counts", "38,81,0", "41,81,0,8"])
    assert "four whole numbers" in capsys.readouterr().err


def test_instance_pr_curve_from_pycocotools_known_answer():
    """2 cracks; detections: a hit (0.9), a false positive (0.8), a hit (0.7). Precision is 1 up
    to recall 0.5 and 2/3 beyond; the curve's mean is pycocotools' own AP50."""
    from evaluation.evaluate import pr_curve

    gt = COCO()
    gt.dataset = {"images": [{"id": 1, "width": 100, "height": 100}], "categories": [{"id": 1, "name": "crack"}],
                  "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20], "area": 400,
                                   "iscrowd": 0},
                                  {"id": 2, "image_id": 1, "category_id": 1, "bbox": [60, 60, 20, 20], "area": 400,
                                   "iscrowd": 0}]}
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        dt = gt.loadRes([{"image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20], "score": 0.9},
                         {"image_id": 1, "category_id": 1, "bbox": [40, 5, 10, 10], "score": 0.8},
                         {"image_id": 1, "category_id": 1, "bbox": [60, 60, 20, 20], "score": 0.7}])
        coco_eval = COCOeval(gt, dt, "bbox")
        coco_eval.evaluate()
        coco_eval.accumulate()
        coco_eval.summarize()
    curve = pr_curve({"bbox": coco_eval, "segm": None})
    assert len(curve["recall"]) == len(curve["bbox"]) == 101 and "segm" not in curve
    assert curve["bbox"] == pytest.approx([1.0] * 51 + [2 / 3] * 50)
    assert np.mean(curve["bbox"]) == pytest.approx(coco_eval.stats[1])  # AP50
