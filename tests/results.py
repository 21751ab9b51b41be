"""Results made by hand, for the tests of the formatting and the pages: an Evaluation from the
parts a test cares about, every other field filled with a neutral value."""

from __future__ import annotations

from evaluation.results import Alignment, Evaluation

LEVEL = {"images": 0, "positives": 0, "negatives": 0, "tp": 0, "tn": 0, "fp": 0, "fn": 0, "accuracy": None,
         "precision": None, "recall": None}
COCO = {"bbox": {"AP": None, "AP50": None, "AP75": None}, "segm": {"AP": None, "AP50": None, "AP75": None}}


def made_evaluation(models: dict[str, dict], **fields) -> Evaluation:
    """An Evaluation of `models` ({label: the parts of its evaluation.json entry a test gives};
    "image_level" may be partial) and of `fields` (dataset, threshold, rule, disagreements, paired)."""
    entries = {label: {"config": "config.yaml", "weights": "weights.pth", "model": "ResNet-18-FPN", "coco": COCO,
                       "pr_curve": {}, "seconds_per_image": None,
                       **m, "image_level": {**LEVEL, **m.get("image_level", {})}} for label, m in models.items()}
    dataset = {"json": "data/annotations.json", "images": "data/images", "num_images": 0, "with_instances": 0,
               "without_instances": 0, **fields.pop("dataset", {})}
    return Evaluation.from_json({"dataset": dataset, "threshold": 0.5, "rule": "rule", "models": entries, **fields})


def made_alignment(summary: dict, differences: dict, *, measured: int = 30, skipped: int = 0) -> Alignment:
    """An Alignment of these per-map Stats ({label: {map: {measure: Stat as a dict}}}) on a set of
    `measured` images with cracks and `skipped` without."""
    return Alignment.from_json({
        "dataset": {"json": "data/annotations.json", "images": "data/images", "num_images": measured + skipped,
                    "measured": measured, "skipped_no_crack": skipped, "limit": None},
        "settings": {"tolerance_px": 15.0, "bootstrap": {"method": "percentile", "resamples": 100, "confidence": 0.95,
                                                         "seed": 0},
                     "maps": "maps", "comparison": "comparison", "reference": next(iter(summary)), "cams": None,
                     "cam_methods": []},
        "models": {label: {"config": "config.yaml", "weights": "weights.pth", "model": "ResNet-18-FPN",
                           "seconds_per_image": None} for label in summary},
        "chance": {"area_share": {"mean": 0.05, "low": 0.04, "high": 0.06, "n": measured},
                   "pointing": {"mean": 0.2, "low": 0.1, "high": 0.3, "n": measured}},
        "summary": summary, "differences": differences, "images": [], "skipped": []})
