"""The Evaluate page's browsing and curves (app.evaluation, plain Python)."""

import pytest

from app import evaluation

IMAGES = [{"file_name": f"{i}.png", "crack": truth, "max_scores": {"base": a, "bam": b}}
          for i, (truth, a, b) in enumerate([(True, 0.9, 0.95), (True, 0.3, 0.7), (False, 0.6, 0.2),
                                              (False, 0.1, 0.05)])]


def test_each_models_own_verdicts_filtered_by_score():
    assert [evaluation.outcome(im["crack"], im["max_scores"]["base"], 0.5) for im in IMAGES] == ["TP", "FN", "FP", "TN"]
    found = evaluation.filter_images(IMAGES, "bam", {"TP"}, 0.0, 1.0, 0.5)
    assert [im["file_name"] for im in found] == ["0.png", "1.png"]
    assert [im["file_name"] for im in evaluation.filter_images(IMAGES, "bam", {"TP"}, 0.8, 1.0, 0.5)] == ["0.png"]
    rows = evaluation.browse_rows(IMAGES, 0.5)
    assert rows[2] == {"file_name": "2.png", "truth": "no crack", "base": "FP", "base score": 0.6, "bam": "TN",
                       "bam score": 0.2}


def test_image_level_precision_recall_curves_of_both_models():
    rows, ap = evaluation.image_pr_curves(IMAGES)
    assert ap["bam"] == pytest.approx(1.0) and ap["base"] < 1.0  # bam ranks both cracks first
    assert {r["model"] for r in rows} == {"base", "bam"}
    assert all(0 <= r["precision"] <= 1 and 0 <= r["recall"] <= 1 for r in rows)
    assert evaluation.image_pr_curves([im for im in IMAGES if im["crack"]]) == ([], {"base": None, "bam": None})
