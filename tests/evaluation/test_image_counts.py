"""The image-level crack / no-crack counting, on hand-built cases whose answers are known."""

import pytest

from evaluation.evaluate import find_disagreements, image_level_counts
from evaluation.formatting import evaluation_markdown
from tests.results import made_evaluation


def test_the_experiment_table():
    # The BAM crack experiment: 130 test images, 49 with cracks and 81 without.
    # Mask R-CNN found 38 of the 49 and raised no false alarm: 91.54 % accuracy.
    gt = [True] * 49 + [False] * 81
    scores = [0.9] * 38 + [0.2] * 11 + [0.1] * 81
    counts = image_level_counts(gt, scores, threshold=0.5)
    assert (counts.tp, counts.tn, counts.fp, counts.fn) == (38, 81, 0, 11)
    assert counts.images == 130 and counts.positives == 49 and counts.negatives == 81
    assert round(100 * counts.accuracy, 2) == 91.54
    assert counts.precision == 1.0
    assert counts.recall == pytest.approx(38 / 49)
    # ... and with BAM 41 of the 49: 93.85 %
    bam = image_level_counts(gt, [0.9] * 41 + [0.2] * 8 + [0.1] * 81, threshold=0.5)
    assert (bam.tp, bam.tn) == (41, 81) and round(100 * bam.accuracy, 2) == 93.85


def test_every_cell_of_the_confusion_matrix():
    gt = [True, True, True, False, False, False, False]
    scores = [0.8, 0.5, 0.49, 0.7, 0.3, 0.0, 0.5]  # a score equal to the threshold counts as crack
    counts = image_level_counts(gt, scores, threshold=0.5)
    assert (counts.tp, counts.fn, counts.fp, counts.tn) == (2, 1, 2, 2)
    assert counts.accuracy == pytest.approx(4 / 7)
    assert counts.precision == pytest.approx(2 / 4)
    assert counts.recall == pytest.approx(2 / 3)
    assert image_level_counts(gt, scores, threshold=0.75).tp == 1
    assert image_level_counts(gt, scores, threshold=0.0).fp == 4  # everything is a crack


def test_rates_with_a_zero_denominator_are_none():
    empty = image_level_counts([], [], threshold=0.5)
    assert empty.images == 0 and empty.accuracy is None
    assert empty.precision is None and empty.recall is None

    silent = image_level_counts([True, False], [0.1, 0.2], threshold=0.5)  # predicts no crack at all
    assert silent.precision is None and silent.recall == 0.0 and silent.accuracy == 0.5

    no_cracks = image_level_counts([False, False], [0.9, 0.1], threshold=0.5)  # nothing to find
    assert no_cracks.recall is None and no_cracks.precision == 0.0 and no_cracks.fp == 1


def test_lengths_must_match():
    with pytest.raises(ValueError):
        image_level_counts([True, False], [0.3], threshold=0.5)


def test_disagreements_list_only_the_images_where_verdicts_differ():
    images = [{"image_id": i, "file_name": f"{i}.png"} for i in (1, 2, 3, 4)]
    gt = [True, True, False, False]
    scores = {"baseline": [0.9, 0.2, 0.6, 0.1], "bam": [0.95, 0.7, 0.3, 0.2]}
    found = find_disagreements(images, gt, scores, threshold=0.5)
    assert [d["image_id"] for d in found] == [2, 3]
    assert found[0]["crack"] is True
    assert found[0]["models"]["baseline"] == {"crack": False, "correct": False, "max_score": 0.2}
    assert found[0]["models"]["bam"] == {"crack": True, "correct": True, "max_score": 0.7}
    assert find_disagreements(images, gt, {"one": [0.9, 0.2, 0.6, 0.1]}, threshold=0.5) == []


def test_markdown_table_has_models_as_columns():
    level = image_level_counts([True, False], [0.9, 0.1], threshold=0.5).to_json()
    coco = {"bbox": {"AP": 50.0, "AP50": 80.0, "AP75": None}, "segm": {"AP": 40.0, "AP50": 70.0, "AP75": 10.0}}
    model = {"image_level": level, "coco": coco, "seconds_per_image": 0.1}
    dataset = {"json": "test.json", "num_images": 2, "with_instances": 1, "without_instances": 1}
    results = made_evaluation({"Mask R-CNN": model, "with | BAM": model}, dataset=dataset)
    table = evaluation_markdown(results)
    assert "| | Mask R-CNN | with \\| BAM |" in table
    assert "| accuracy | 100.00% | 100.00% |" in table
    assert "| box AP75 | n/a | n/a |" in table
    assert "| mask AP50 | 70.0 | 70.0 |" in table
