"""Comparing trained models on a labelled COCO set, side by side.

Two views of the same predictions:

- image level, the crack / no-crack question: an image is predicted "crack" when any detection
  scores >= `threshold`, and is a crack in truth when it has at least one annotation. Counted as
  TP / TN / FP / FN with accuracy, precision and recall (the table of the BAM crack experiment:
  Mask R-CNN 38 TP / 81 TN / 91.54 % accuracy, with BAM 41 / 81 / 93.85 %);
- instance level: COCO box and mask AP, AP50, AP75 (detectron2's COCOEvaluator, pycocotools);
- with two models, paired statistics (evaluation.significance): McNemar's exact test on the image-level
  verdicts and bootstrap intervals of the accuracy and AP differences.

Every image goes through each model once; the same outputs feed both views. `evaluate()` returns
an `evaluation.results.Evaluation` and writes `evaluation.json` (its `to_json()`), `evaluation.csv`,
`evaluation.md` (models as columns; evaluation.formatting) and `disagreements.json` (the images on
which the models' image-level verdicts differ) into `out_dir`.

The counting is in pure functions (`image_level_counts`, `find_disagreements`) that need no model.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from evaluation import significance
from evaluation.formatting import evaluation_csv_rows, evaluation_markdown
from evaluation.loader import model_input
from evaluation.results import (
    COCO_METRICS,
    COCO_TASKS,
    EvaluatedSet,
    Evaluation,
    ImageLevel,
    ModelEvaluation,
    PairedStatistics,
)
from evaluation.runner import Progress, Stopwatch, check_models, each_image
from models import ConfigError, LoadedModel, load  # (models makes detectron2 importable: before it)
from training.data import read_categories, read_dataset_json, register_coco_dataset, require_valid

from detectron2.data import DatasetCatalog
from detectron2.evaluation import COCOEvaluator
from detectron2.utils import comm

_RECORD_KEYS = ("image_id", "file_name", "height", "width")  # of a dataset record: what COCOEvaluator reads
_STANDARD_IMAGE_KEYS = {"id", "file_name", "width", "height", "license", "coco_url", "flickr_url",
                        "date_captured"}


# ---------------------------------------------------------------------------------------------
# Pure counting


def _ratio(numerator: int, denominator: int) -> float | None:
    """numerator / denominator, or None where it is undefined (0 / 0)."""
    return numerator / denominator if denominator else None


def image_level_counts(gt_positive: Sequence[bool], max_scores: Sequence[float],
                       threshold: float = 0.5) -> ImageLevel:
    """Image-level confusion counts and rates.

    Args:
        gt_positive: per image, whether it has at least one annotated instance ("crack").
        max_scores: per image, the highest detection score of the model (0.0 with no detection).
        threshold: an image is predicted positive when its max score is at least this.

    Returns:
        ImageLevel: images, positives, negatives, TP, TN, FP, FN, accuracy, precision, recall; a
        rate whose denominator is 0 (no images, no predicted positives, no true positives to
        find) is None, not 0.
    """
    if len(gt_positive) != len(max_scores):
        raise ValueError(f"{len(gt_positive)} ground-truth flags but {len(max_scores)} scores.")
    tp = tn = fp = fn = 0
    for truth, score in zip(gt_positive, max_scores):
        predicted = score >= threshold
        if truth:
            tp, fn = tp + predicted, fn + (not predicted)
        else:
            fp, tn = fp + predicted, tn + (not predicted)
    n = tp + tn + fp + fn
    return ImageLevel(n, tp + fn, tn + fp, tp, tn, fp, fn, accuracy=_ratio(tp + tn, n), precision=_ratio(tp, tp + fp),
                      recall=_ratio(tp, tp + fn))


def find_disagreements(images: Sequence[dict], gt_positive: Sequence[bool],
                       max_scores: dict[str, Sequence[float]], threshold: float = 0.5) -> list[dict]:
    """The images on which the models' image-level verdicts differ.

    Args:
        images: per image, what identifies it (e.g. {"image_id", "file_name"}), copied into the result.
        gt_positive: per image, whether it is a crack in truth.
        max_scores: {model label: the per-image max scores, in the order of `images`}.
        threshold: an image is "crack" from this score.

    Returns:
        disagreements.json's entries: the image's fields, "crack" (ground truth), and per model
        {"crack": verdict, "correct": bool, "max_score": float}.
    """
    out = []
    for i, image in enumerate(images):
        verdicts = {label: scores[i] >= threshold for label, scores in max_scores.items()}
        if len(set(verdicts.values())) > 1:
            out.append({**image, "crack": bool(gt_positive[i]), "models": {
                label: {"crack": verdicts[label], "correct": verdicts[label] == bool(gt_positive[i]),
                        "max_score": round(float(scores[i]), 4)}
                for label, scores in max_scores.items()}})
    return out


def max_score(instances) -> float:
    """The highest detection score among detectron2 `Instances` (0.0 when there are none)."""
    scores = instances.scores
    return float(scores.max()) if len(scores) else 0.0


# ---------------------------------------------------------------------------------------------
# Running models


def predict(model, model_input) -> dict:
    """A detectron2 model's output for one prepared image (models.inputs.ModelInput: resized as
    DefaultPredictor does, outputs at the original size), without gradients."""
    with torch.no_grad():
        return model(model_input.batch())[0]


def at_score_threshold(loaded: LoadedModel, threshold: float) -> LoadedModel:
    """The model, with its own score cut (ROI_HEADS.SCORE_THRESH_TEST) at most `threshold`.

    Args:
        loaded: a loaded model (shared models are never changed).
        threshold: the image-level threshold.

    Returns:
        `loaded` itself where its cut already keeps every detection scoring >= threshold; else its
        spec loaded again with the cut lowered to `threshold`, so that the image-level threshold
        is the one that decides.
    """
    if threshold >= loaded.cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST:
        return loaded
    return load(replace(loaded.spec, opts=(*loaded.spec.opts, "MODEL.ROI_HEADS.SCORE_THRESH_TEST", str(threshold))))


def evaluate(models: Sequence[LoadedModel], json_path: str | Path, image_dir: str | Path, out_dir: str | Path, *,
             threshold: float = 0.5, progress: bool = True, on_progress: Progress | None = None,
             workers: int | None = None, dataset_name: str | None = None,
             known: dict[str, dict] | None = None) -> Evaluation | None:
    """Run every model over a labelled COCO set and compare them (see the module docstring).

    Under training.launch (several processes), every process calls this: each runs the models on
    its share of the images, the main process gathers every per-image result and the COCO
    predictions and writes the same reports as one process would; the others return None.

    Args:
        models: the loaded models, labels distinct; with two, the first is "before" (the
            baseline) in the paired statistics.
        json_path, image_dir: the labelled COCO set.
        out_dir: where evaluation.json, .csv, .md, disagreements.json and images.json go.
        threshold: an image is "crack" when any detection scores at least this.
        progress: a tqdm bar on the terminal; on_progress: (images done, total) after each image.
        workers: processes decoding and resizing the images while the models run
            (evaluation.loader.load_images; 0: this process); each image is decoded once for all models.
        dataset_name: what the user calls the set (an upload's "name (hash)"), written with the
            results; None: the reports name its file.
        known: {label: {}} for models evaluated again and again on this set with the same threshold
            (a knock-out's unchanged model): each image's max score and COCO predictions are kept
            in that dict on the first call and used instead of running the model on later calls
            (their seconds per image are then None).

    Returns:
        The Evaluation (evaluation.json's content; None in the processes other than the main one).

    Raises:
        training.data.DataProblemsError: problems in the data, every one listed.
        models.ModelLoadError: a model for another number of categories.
        ValueError: no model, labels that repeat, a threshold outside [0, 1].
    """
    labels = check_models(models)
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be between 0 and 1 (got {threshold}).")
    require_valid((json_path, image_dir))
    num_categories = len(read_categories(json_path))
    for m in models:
        if m.cfg.MODEL.ROI_HEADS.NUM_CLASSES != num_categories:
            raise ConfigError(f"{m.label}: the model predicts {m.cfg.MODEL.ROI_HEADS.NUM_CLASSES} classes but "
                              f"{Path(json_path).name} has {num_categories} categories.")
    models = [at_score_threshold(m, threshold) for m in models]

    name = register_coco_dataset(json_path, image_dir)
    dataset = DatasetCatalog.get(name)  # also gives the metadata COCOEvaluator maps ids with
    gt_positive = [len(d.get("annotations", [])) > 0 for d in dataset]
    evaluators = {}
    for label in labels:
        # distributed: its evaluate() gathers every process's predictions (a no-op in one process)
        evaluators[label] = _KeepingCOCOEvaluator(name, tasks=("bbox", "segm"), distributed=True,
                                                  output_dir=None, use_fast_impl=False)
        evaluators[label].reset()
    max_scores: dict[int, dict[str, float]] = {}  # per dataset index, for this process's share of the images
    watch = Stopwatch(labels)  # in each process (those sharing a CPU are each slower)

    share = range(comm.get_rank(), len(dataset), comm.get_world_size())  # all of them in one process
    processes = comm.get_world_size()
    for index, image in each_image(share, models, lambda i: {key: dataset[i][key] for key in _RECORD_KEYS},
                                   desc="Evaluating" + (f" (the share of 1 of {processes} processes)"
                                                        if processes > 1 else ""),
                                   progress=progress and comm.is_main_process(), on_progress=on_progress,
                                   workers=workers):
        inputs = [{key: image[key] for key in _RECORD_KEYS}]
        max_scores[index] = {}
        for m in models:
            kept = (known or {}).get(m.label)
            if kept is None or index not in kept:
                with watch.timing(m.label):
                    output = predict(m.model, model_input(image, m.cfg))
                instances = output["instances"].to("cpu")
                found = max_score(instances), evaluators[m.label].predictions_of(inputs, instances)
                if kept is not None:
                    kept[index] = found
            else:
                found = kept[index]
            max_scores[index][m.label] = found[0]
            evaluators[m.label].add(found[1])

    coco = {}
    for label in labels:  # every process takes part in each gather, in the same order
        with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its own tables
            coco[label] = evaluators[label].evaluate() or {}
    gathered = comm.gather((max_scores, watch.seconds), dst=0)
    if not comm.is_main_process():
        return None
    max_scores = {index: found for part, _ in gathered for index, found in part.items()}
    scores = {label: [max_scores[i][label] for i in range(len(dataset))] for label in labels}
    watch = Stopwatch(labels)  # every process's timings: the median is of all images
    for _, seconds in gathered:
        for label, values in seconds.items():
            watch.seconds[label] += values

    extras = _image_extras(json_path)
    images = [{"image_id": d["image_id"], "file_name": Path(d["file_name"]).name,
               **({"image_info": extras[d["image_id"]]} if extras.get(d["image_id"]) else {})}
              for d in dataset]
    disagreements = find_disagreements(images, gt_positive, scores, threshold)
    results = Evaluation(
        EvaluatedSet(str(json_path), str(image_dir), len(dataset), sum(gt_positive), len(dataset) - sum(gt_positive),
                     name=dataset_name),
        threshold=threshold,
        rule=f"an image is predicted 'crack' when any detection scores >= {threshold}; "
             "it is a crack in truth when it has at least one annotation",
        models={m.label: ModelEvaluation(
            config=str(m.spec.config), weights=m.spec.weights_text, model=str(m.summary),
            image_level=image_level_counts(gt_positive, scores[m.label], threshold),
            coco={task: {metric: _finite(coco[m.label].get(task, {}).get(metric)) for metric in COCO_METRICS}
                  for task, _ in COCO_TASKS},
            pr_curve=pr_curve(evaluators[m.label].coco_evals),
            seconds_per_image=watch.median(m.label)) for m in models},
        disagreements=len(disagreements),
        paired=paired_statistics(labels, gt_positive, scores, threshold, [d["image_id"] for d in dataset], evaluators)
        if len(labels) == 2 else None)
    write_reports(results, disagreements, out_dir)
    write_image_scores(images, gt_positive, scores, out_dir)
    return results


def pr_curve(coco_evals: dict) -> dict:
    """Instance-level precision-recall curves at IoU 0.5 from pycocotools' accumulated arrays
    (`eval["precision"]`: IoU x recall x class x area x max-detections): all areas, 100
    detections, averaged over the classes. {"recall": the 101 recall thresholds, "bbox" / "segm":
    the precision at each (None where no detection reaches that recall)}. With one class, their
    mean over the defined points is COCO's AP50."""
    curve = {}
    for task, coco_eval in coco_evals.items():
        if coco_eval is None or not getattr(coco_eval, "eval", None):
            continue
        precision = np.asarray(coco_eval.eval["precision"])[0, :, :, 0, -1]  # IoU 0.5, all areas, 100 dets
        defined = precision > -1
        means = [float(row[ok].mean()) if ok.any() else None for row, ok in zip(precision, defined)]
        curve["recall"] = [round(float(r), 2) for r in coco_eval.params.recThrs]
        curve[task] = means
    return curve


class _KeepingCOCOEvaluator(COCOEvaluator):
    """detectron2's COCOEvaluator, keeping each task's pycocotools COCOeval (None when the model made
    no detection): its per-image matches feed the AP bootstrap."""

    def reset(self):
        super().reset()
        self.coco_evals = {}

    def predictions_of(self, inputs: list[dict], instances) -> list[dict]:
        """What `process` keeps of one image's instances (COCO json results), without keeping it."""
        kept, self._predictions = self._predictions, []
        try:
            self.process(inputs, [{"instances": instances}])
            return self._predictions
        finally:
            self._predictions = kept

    def add(self, predictions: list[dict]) -> None:
        """Keep an image's predictions as `process` would (from `predictions_of`, maybe an earlier run):
        copies, as `evaluate` rewrites their category ids in place."""
        self._predictions.extend(copy.deepcopy(predictions))

    def _derive_coco_results(self, coco_eval, iou_type, class_names=None):
        self.coco_evals[iou_type] = coco_eval
        return super()._derive_coco_results(coco_eval, iou_type, class_names=class_names)


def paired_statistics(labels: Sequence[str], gt_positive: Sequence[bool], scores: dict[str, Sequence[float]],
                      threshold: float, image_ids: Sequence[int], evaluators: dict) -> PairedStatistics:
    """evaluation.significance's paired statistics of two evaluated models.

    Args:
        labels: (before, after).
        gt_positive, scores, threshold: the truth and each model's max scores per image, the
            image-level threshold: McNemar and the accuracy bootstrap on the verdicts.
        image_ids: the dataset's image ids, in the order of the scores.
        evaluators: each model's _KeepingCOCOEvaluator: the AP bootstrap, for the tasks where
            both models have a COCOeval.

    Returns:
        PairedStatistics.
    """
    correct = [[(s >= threshold) == truth for s, truth in zip(scores[label], gt_positive)] for label in labels]
    ap = {}
    for task, name in COCO_TASKS:
        evals = [evaluators[label].coco_evals.get(task) for label in labels]
        if all(e is not None and e.evalImgs for e in evals):
            ap[name] = tuple(significance.APResampler(e, image_ids) for e in evals)
    return significance.paired_statistics(tuple(labels), *correct, ap=ap)


def _finite(value) -> float | None:
    """A metric as a JSON-safe number: NaN (undefined, e.g. no annotations at all) becomes None."""
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def _image_extras(json_path) -> dict[int, dict]:
    """Non-standard keys of each image entry (e.g. the demo's "surface", "distractors")."""
    data = read_dataset_json(json_path)
    return {img["id"]: {k: v for k, v in img.items() if k not in _STANDARD_IMAGE_KEYS}
            for img in data["images"]}


# ---------------------------------------------------------------------------------------------
# Reports

def write_image_scores(images: Sequence[dict], gt_positive: Sequence[bool], scores: dict[str, Sequence[float]],
                       out_dir: str | Path) -> Path:
    """Write images.json: what any threshold's verdicts and the image-level precision-recall curve
    are computed from.

    Args:
        images: per image, what identifies it; gt_positive: per image, the truth.
        scores: {model label: the per-image max scores}.
        out_dir: the folder.

    Returns:
        Its path. The file: {"models": [labels], "images": [{the image's fields, "crack",
        "max_scores": {label: score}}]}.
    """
    path = Path(out_dir) / "images.json"
    rows = [{**image, "crack": bool(truth), "max_scores": {label: round(float(s[i]), 6) for label, s in scores.items()}}
            for i, (image, truth) in enumerate(zip(images, gt_positive))]
    path.write_text(json.dumps({"models": list(scores), "images": rows}, allow_nan=False) + "\n")
    return path


def write_reports(results: Evaluation, disagreements: list[dict], out_dir: str | Path) -> list[Path]:
    """evaluation.json, evaluation.csv, evaluation.md and disagreements.json in `out_dir`."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / name for name in ("evaluation.json", "evaluation.csv", "evaluation.md",
                                         "disagreements.json")]
    paths[0].write_text(json.dumps(results.to_json(), indent=2, allow_nan=False) + "\n")
    with paths[1].open("w", newline="") as f:
        csv.writer(f).writerows(evaluation_csv_rows(results))
    paths[2].write_text(evaluation_markdown(results))
    paths[3].write_text(json.dumps({"threshold": results.threshold, "models": results.labels,
                                    "count": len(disagreements), "images": disagreements},
                                   indent=2, allow_nan=False) + "\n")
    return paths
