"""Does the network look at the cracks? Per-stage alignment of maps with ground-truth masks,
over a labelled COCO set, for one or more models.

For every image with at least one annotation (the union of its masks is "the crack") and every
model, the maps of `viz.capture.capture` are measured with `evaluation.alignment`:

- "attention cN": the spatial attention map of each attention stage (BAM's sigmoid(Ms), CBAM's
  spatial gate); only models with attention have these;
- "feature cN": the activation energy (mean absolute activation over channels,
  `viz.render.activation_energy`) of the stage outputs c2..c5; every model has these, so the
  baseline gets a column and the difference between models is measured on the same images;
- "gradcam LAYER" (only with `cam_layers`): the Grad-CAM of each detection matched to an
  annotation, against that annotation's own mask (its mass share: the energy-based pointing game).

Maps are compared with masks at the original image's size: each map, already cropped to the part
that covers the image (not detectron2's padding), is resized bilinearly to the image
(`Capture.to_image`, as the app draws it). So thin cracks keep their true area share, and a coarse
map's cell counts in proportion to how much of it is crack. Images without annotations are
skipped (counted in the results): no crack, nothing to align with.

Dataset means come with seeded percentile-bootstrap intervals; differences between a model and the
first one listed (the reference, e.g. the baseline) are paired per image, then bootstrapped.
`attention_report()` returns an `evaluation.results.Alignment` and writes attention_report.json,
attention_report.csv (one row per image, model and map), attention_report.md (evaluation.formatting)
and attention_report.png / .pdf (the figure, evaluation.alignment_figure).
"""

from __future__ import annotations

import csv
import json
import math
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from evaluation.alignment import ALL_MEASURES, STAGES, alignment, area_share, map_name, mean_with_ci, within
from evaluation.formatting import alignment_csv_rows, alignment_markdown
from evaluation.image_pass import PassImage, capture_pass, gather, image_share
from evaluation.masks import AnnotationMasks
from evaluation.results import Alignment, AlignmentSettings, ImageAlignment, MeasuredSet, ModelAlignment
from evaluation.runner import Progress, Stopwatch, check_models
from models import LoadedModel  # (models makes detectron2 importable: before it)
from training.data import require_valid
from viz.capture import Capture
from viz.catalogue import get_layer, layer_catalogue
from viz.render import activation_energy

REPORT_FILES = Alignment.FILES


def image_maps(cap: Capture) -> dict[str, np.ndarray]:
    """The maps measured for one capture, by name ("attention c2", "feature c3", ...), each
    (H, W) float at the original image's size, non-negative."""
    maps = {}
    for stage, att in cap.attention.items():
        maps[map_name("attention", stage)] = cap.to_image(att.spatial, cap.strides[stage])
    for stage in STAGES:
        if stage in cap.features:
            maps[map_name("feature", stage)] = cap.to_image(activation_energy(cap.features[stage]),
                                                            cap.strides[stage])
    # bilinear resizing keeps values >= 0 up to rounding; clip so the measures' check holds
    return {name: np.maximum(values, 0.0) for name, values in maps.items()}


def measure_capture(cap: Capture, mask: np.ndarray, *, tolerance: float,
                    near: np.ndarray | None = None) -> dict[str, dict[str, float]]:
    """Every map of one capture measured against the image's crack.

    Args:
        cap: a viz.capture.Capture of the image.
        mask: its crack, (H, W) bool, not empty.
        tolerance: the pointing game's, in pixels.
        near: `within(mask, tolerance)` when already computed (the same for every map and model).

    Returns:
        {map name: {measure: value}}.
    """
    near = within(mask, tolerance) if near is None else near
    return {name: alignment(values, mask, tolerance=tolerance, near=near) for name, values in image_maps(cap).items()}


def match_detections(instances, masks: list[np.ndarray], *, score_threshold: float = 0.5,
                     iou_threshold: float = 0.5) -> list[tuple[int, int]]:
    """Each annotation, in turn, takes the best-scoring unused detection (score >= score_threshold)
    whose box overlaps the annotation's box with IoU >= iou_threshold.

    Args:
        instances: detectron2 Instances at the image's size.
        masks: one (H, W) bool mask per annotation.
        score_threshold, iou_threshold: what a match needs.

    Returns:
        (annotation index, detection index) pairs.
    """
    from detectron2.structures import Boxes, pairwise_iou

    if not masks or not len(instances):
        return []
    gt = []
    for mask in masks:
        ys, xs = np.nonzero(mask)
        gt.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
    iou = pairwise_iou(Boxes(torch.tensor(gt, dtype=torch.float32)), instances.pred_boxes).numpy()
    scores = instances.scores.numpy()
    used, pairs = set(), []
    for k in range(len(masks)):
        candidates = [d for d in np.argsort(-scores, kind="stable")
                      if d not in used and scores[d] >= score_threshold and iou[k, d] >= iou_threshold]
        if candidates:
            used.add(int(candidates[0]))
            pairs.append((k, int(candidates[0])))
    return pairs


def cam_map_name(method: str, layer: str) -> str:
    """"gradcam c4", "randomcam c4": a CAM method's row in the report."""
    return map_name(method.lower(), layer)


def measure_cams(model, cap: Capture, masks: list[np.ndarray], layers: Sequence[str], *, tolerance: float,
                 methods: Sequence[str] = ("GradCAM",), faithfulness: Sequence[str] | None = None,
                 randomized=None, seed: int = 0, image_id: int = 0
                 ) -> tuple[dict[str, dict[str, float]], int, dict[str, float]]:
    """CAMs (score target) of every detection matched to an annotation, each measured against its
    own annotation's mask (the mass share is the energy-based pointing game), averaged over the
    image's matched detections.

    Args:
        model: the model; cap: its capture of the image; masks: one per annotation.
        layers, methods: the CAMs (viz.gradcam.CamRequest's), RandomCAM (the floor) after them.
        tolerance: the pointing game's, in pixels.
        faithfulness: keys of viz.gradcam.FAITHFULNESS (None: all).
        randomized: a randomize_heads copy of the model for the sanity check (None: none).
        seed, image_id: RandomCAM's draw is seeded by (seed, image_id, annotation index); ROAD's by seed.

    Returns:
        ({"gradcam c4": {measure: value}, ...}, number matched, {method: seconds spent on this image}).
    """
    from viz.gradcam import FAITHFULNESS, CamRequest, cam_faithfulness, instance_cam, sanity_check

    faithfulness = tuple(FAITHFULNESS) if faithfulness is None else tuple(faithfulness)
    pairs = match_detections(cap.instances, masks)
    per_map: dict[str, list[dict]] = {}
    seconds: dict[str, float] = {}
    for k, d in pairs:
        box = cap.instances.pred_boxes.tensor[d].numpy()
        class_id = int(cap.instances.pred_classes[d])
        for layer in layers:
            for method in (*methods, "RandomCAM"):
                start = time.perf_counter()
                request = CamRequest(box, class_id, method=method, layer=layer, seed=(seed, int(image_id), k))
                cam = instance_cam(model, cap.model_input, request)
                values = alignment(cam, masks[k], tolerance=tolerance)
                values.update(cam_faithfulness(model, cap.model_input, request, cam, metrics=faithfulness, seed=seed))
                if randomized is not None:
                    check = sanity_check(model, cap.model_input, request, original=cam, randomized=randomized)
                    values.update(sanity_rho=check.correlation, sanity_pass=float(check.passed))
                seconds[method] = seconds.get(method, 0.0) + time.perf_counter() - start
                per_map.setdefault(cam_map_name(method, layer), []).append(values)
    means = {name: {m: _nanmean([v[m] for v in found]) for m in found[0]} for name, found in per_map.items()}
    return means, len(pairs), seconds


def _nanmean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.nan


def measures_of(rows: Sequence[dict]) -> list[str]:
    """The measures that some of these {measure: value} rows have, in ALL_MEASURES order."""
    return [m for m in ALL_MEASURES if any(m in row for row in rows)]


def _summaries(per_image: list[dict], labels: list[str], *, seed: int, resamples: int,
               confidence: float) -> tuple[dict, dict]:
    """Dataset means with intervals per model, map and measure; and the paired differences of
    each later model from the first on the maps both have."""
    def ci(values):
        return mean_with_ci(values, confidence=confidence, resamples=resamples, seed=seed)

    def rows(label, name):
        return [row["models"][label][name] for row in per_image if name in row["models"][label]]

    summary = {}
    for label in labels:
        names = list(dict.fromkeys(n for row in per_image for n in row["models"][label]))
        summary[label] = {name: {m: ci([values[m] for values in rows(label, name)])
                                 for m in measures_of(rows(label, name))} for name in names}
    differences = {}
    reference = labels[0]
    for label in labels[1:]:
        shared = [n for n in summary[label] if n in summary[reference]]
        differences[f"{label} - {reference}"] = {
            name: {m: ci([row["models"][label][name][m] - row["models"][reference][name][m]
                          for row in per_image
                          if name in row["models"][label] and name in row["models"][reference]])
                   for m in summary[label][name] if m in summary[reference][name]}
            for name in shared}
    return summary, differences


class AlignmentMeasure:
    """The attention report as a measure of the shared pass (evaluation.image_pass): `add` each
    image's captures, `finish` once every process is done.

    Args:
        models: the loaded models, labels distinct; the first is the reference the others'
            differences are taken from.
        json_path, image_dir: the labelled COCO set (the results name them); limit: the first N.
        dataset_name: what the user calls the set (an upload's "name (hash)"); None: its file.
        Others: as `attention_report`'s.

    Raises:
        viz.catalogue.UnknownLayerError: a CAM layer a model does not have (with the valid ones).
        ValueError: no model, labels that repeat, an unknown CAM method or faithfulness metric.
    """

    def __init__(self, models: Sequence[LoadedModel], json_path: str | Path, image_dir: str | Path, *,
                 limit: int | None = None, tolerance: float = 15.0, cam_layers: Sequence[str] = (),
                 cam_methods: Sequence[str] = ("GradCAM",), faithfulness: Sequence[str] | None = None,
                 seed: int = 0, resamples: int = 2000, confidence: float = 0.95, dataset_name: str | None = None):
        self.labels = check_models(models, "measure")
        self.dataset_name = dataset_name
        if cam_layers:
            from viz.gradcam import CAM_METHODS, FAITHFULNESS

            for name, known, what in [*((m, CAM_METHODS, "CAM method") for m in cam_methods),
                                      *((m, FAITHFULNESS, "faithfulness metric") for m in faithfulness or ())]:
                if name not in known:
                    raise ValueError(f"unknown {what} {name!r}; choose from {', '.join(known)}.")
        for m in models:
            catalogue = layer_catalogue(m.model)
            for layer in cam_layers:
                get_layer(catalogue, layer)  # an unknown layer fails now, with the valid names, not mid-run
        self.models, self.json_path, self.image_dir, self.limit = list(models), json_path, image_dir, limit
        self.tolerance, self.cam_layers, self.cam_methods = tolerance, tuple(cam_layers), tuple(cam_methods)
        self.faithfulness, self.seed, self.resamples, self.confidence = faithfulness, seed, resamples, confidence
        self.randomized = {}
        if cam_layers:
            from viz.gradcam import randomize_heads

            self.randomized = {m.label: randomize_heads(m.model, seed=seed) for m in models}
        self.rows: list[tuple[int, dict]] = []  # (position in the file, the image's row)
        self.skipped: list[tuple[int, dict]] = []
        self.cam_seconds: dict[str, dict[str, list[float]]] = {label: {} for label in self.labels}

    @property
    def maps_only(self) -> bool:
        """Whether captures of the ResNet alone do (the CAMs need the predictions)."""
        return not self.cam_layers

    def add(self, item: PassImage) -> None:
        """Measure one image (one without a crack pixel is counted as skipped)."""
        entry = item.entry
        mask = item.crack
        if not mask.any():
            self.skip(item.index, entry)
            return
        ident = {"image_id": entry["id"], "file_name": entry["file_name"]}
        near = within(mask, self.tolerance)
        row = {**ident, "area_share": area_share(mask), "pointing_chance": float(near.mean()), "models": {}}
        for m in self.models:
            cap = item.captures[m.label]
            row["models"][m.label] = measure_capture(cap, mask, tolerance=self.tolerance, near=near)
            if self.cam_layers:
                cams, matched, spent = measure_cams(
                    m.model, cap, item.masks, self.cam_layers, tolerance=self.tolerance, methods=self.cam_methods,
                    faithfulness=self.faithfulness, randomized=self.randomized[m.label], seed=self.seed,
                    image_id=entry["id"])
                row["models"][m.label].update(cams)
                for method, value in spent.items():
                    self.cam_seconds[m.label].setdefault(method, []).append(value)
                row.setdefault("matched_detections", {})[m.label] = {"instances": len(item.masks), "matched": matched}
        self.rows.append((item.index, row))

    def skip(self, index: int, entry: dict) -> None:
        """Count an image without a crack as skipped (the pass need not decode it)."""
        self.skipped.append((index, {"image_id": entry["id"], "file_name": entry["file_name"]}))

    def finish(self, total: int, watch: Stopwatch, out_dir: str | Path | None) -> Alignment | None:
        """Every process's rows gathered on the main process, summarised and written.

        Args:
            total: the images of the set (within the limit).
            watch: this process's timings of the models.
            out_dir: where REPORT_FILES go (None: nowhere).

        Returns:
            The Alignment on the main process (the same as one process gives); None on the others.
        """
        parts, watch = gather((self.rows, self.skipped, self.cam_seconds), watch)
        if parts is None:
            return None
        per_image = [row for _, row in sorted(r for rows, _, _ in parts for r in rows)]
        skipped = [ident for _, ident in sorted(s for _, found, _ in parts for s in found)]
        cam_seconds = {label: {} for label in self.labels}
        for _, _, seconds in parts:
            for label, methods in seconds.items():
                for method, values in methods.items():
                    cam_seconds[label].setdefault(method, []).extend(values)
        results = self._results(per_image, skipped, total, watch, cam_seconds)
        if out_dir is not None:
            write_reports(results, out_dir)
        return results

    def _results(self, per_image: list[dict], skipped: list[dict], total: int, watch: Stopwatch,
                 cam_seconds: dict[str, dict[str, list[float]]]) -> Alignment:
        labels, confidence, resamples, seed = self.labels, self.confidence, self.resamples, self.seed
        summary, differences = _summaries(per_image, labels, seed=seed, resamples=resamples, confidence=confidence)
        cams = bool(self.cam_layers)
        return Alignment(
            dataset=MeasuredSet(str(self.json_path), str(self.image_dir), total, len(per_image), len(skipped),
                                self.limit, name=self.dataset_name),
            settings=AlignmentSettings(
                tolerance_px=self.tolerance,
                bootstrap={"method": "percentile", "resamples": resamples, "confidence": confidence, "seed": seed},
                maps="attention cN: spatial attention map of stage N; feature cN: mean absolute "
                     "activation over channels of stage output cN",
                comparison="maps cropped to the image region and resized bilinearly to the original "
                           "image; the crack is the union of the image's annotation masks",
                reference=labels[0],
                cams=CAMS_SETTING if cams else None,
                cam_methods=[*self.cam_methods, "RandomCAM"] if cams else []),
            models={m.label: ModelAlignment(str(m.spec.config), m.spec.weights_text, str(m.summary),
                                            watch.median(m.label),
                                            **(_cam_totals(per_image, m.label, cam_seconds[m.label]) if cams else {}))
                    for m in self.models},
            chance={"area_share": mean_with_ci([r["area_share"] for r in per_image], confidence=confidence,
                                               resamples=resamples, seed=seed),
                    "pointing": mean_with_ci([r["pointing_chance"] for r in per_image], confidence=confidence,
                                             resamples=resamples, seed=seed)},
            summary=summary,
            differences=differences,
            images=[ImageAlignment.from_json(row) for row in _json_safe(per_image)],
            skipped=skipped)


def attention_report(models: Sequence[LoadedModel], json_path: str | Path, image_dir: str | Path,
                     out_dir: str | Path, *, limit: int | None = None, tolerance: float = 15.0,
                     cam_layers: Sequence[str] = (), cam_methods: Sequence[str] = ("GradCAM",),
                     faithfulness: Sequence[str] | None = None, seed: int = 0, resamples: int = 2000,
                     confidence: float = 0.95, progress: bool = True, on_progress: Progress | None = None,
                     workers: int | None = None, dataset_name: str | None = None) -> Alignment | None:
    """Measure every model's maps against the crack masks of a COCO set and write the reports.

    Under training.launch (several processes), every process calls this: each captures its share
    of the images, the main process gathers the rows and writes the same reports as one process
    would; the others return None. Only the images with annotations are decoded; without
    `cam_layers` the models run their ResNet only (evaluation.image_pass).

    Args:
        models: the loaded models, labels distinct; the first is the reference the others'
            differences are taken from.
        json_path, image_dir: the labelled COCO set; out_dir: where REPORT_FILES go.
        limit: only the first `limit` images of the file (with or without cracks).
        tolerance: the pointing game's tolerance in pixels of the original image.
        cam_layers: also a CAM per matched detection at these layers, for each of `cam_methods`
            (keys of viz.gradcam.CAM_METHODS) and RandomCAM (the floor), measured against its own
            annotation's mask, with the faithfulness metrics `faithfulness` (keys of
            viz.gradcam.FAITHFULNESS; None: all; ROAD is the slow one, seconds per CAM) and the
            sanity check (see measure_cams).
        seed: the bootstrap's, RandomCAM's and ROAD's; resamples, confidence: the bootstrap's.
        progress: a tqdm bar; on_progress(done, total) after each image (the app's progress bar).
        workers: processes decoding and resizing the images while the models run
            (evaluation.loader.load_images; 0: this process); each image is decoded once for all models.
        dataset_name: what the user calls the set (an upload's "name (hash)"), written with the
            results; None: the reports name its file.

    Returns:
        The Alignment (attention_report.json's content; None in the processes other than the main one).

    Raises:
        training.data.DataProblemsError: problems in the data.
        viz.catalogue.UnknownLayerError: a CAM layer a model does not have (with the valid ones).
        ValueError: no model, labels that repeat, an unknown CAM method or faithfulness metric.
    """
    measure = AlignmentMeasure(models, json_path, image_dir, limit=limit, tolerance=tolerance, cam_layers=cam_layers,
                               cam_methods=cam_methods, faithfulness=faithfulness, seed=seed, resamples=resamples,
                               confidence=confidence, dataset_name=dataset_name)
    require_valid((json_path, image_dir))
    found = AnnotationMasks(json_path, limit=limit)
    watch = Stopwatch(measure.labels)
    for item in capture_pass(models, found, image_dir, wanted=found.annotated, watch=watch,
                             maps_only=measure.maps_only, desc="Attention report", progress=progress,
                             on_progress=on_progress, workers=workers):
        measure.add(item)
    for index in image_share(len(found.entries)):
        if not found.annotated(found.entries[index]):
            measure.skip(index, found.entries[index])
    return measure.finish(len(found.entries), watch, out_dir)


CAMS_SETTING = (
    "CAM rows (method LAYER, e.g. gradcam c4): the CAM (score target) of each detection matched "
    "to an annotation (score >= 0.5, box IoU >= 0.5), against that annotation's mask, averaged "
    "per image; its mass share is the energy-based pointing game. randomcam: the grad-cam "
    "library's RandomCAM (random channel weights), the floor every method should beat. "
    "Faithfulness: the grad-cam library's metrics on the detection's softmax score for the fixed "
    "box (ROAD combined over percentiles 20/40/60/80 with noisy linear imputation; the image "
    "multiplied by the CAM for the confidence changes). Sanity check: Spearman ρ between the CAM "
    "and the same CAM with the box and mask heads randomized (one randomized copy per model, "
    "seeded); it passes below 0.5")


def _cam_totals(per_image: list[dict], label: str, cam_seconds: dict[str, list[float]]) -> dict:
    """A model's matched detections and annotations over the images, and its median CAM seconds."""
    return {"matched_detections": sum(r["matched_detections"][label]["matched"] for r in per_image),
            "annotations": sum(r["matched_detections"][label]["instances"] for r in per_image),
            "cam_seconds_per_image": {method: round(statistics.median(values), 3)
                                      for method, values in cam_seconds.items()}}


def _json_safe(value):
    """NaN (undefined, e.g. an all-zero map's mass share) as None, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


# ---------------------------------------------------------------------------------------------
# Reports


def write_reports(results: Alignment, out_dir: str | Path) -> list[Path]:
    """REPORT_FILES in `out_dir`: the JSON (`results.to_json()`), the CSV and Markdown of
    evaluation.formatting and the figure (evaluation.alignment_figure) as PNG and PDF."""
    from evaluation.alignment_figure import alignment_figure

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / name for name in REPORT_FILES]
    paths[0].write_text(json.dumps(results.to_json(), indent=2, allow_nan=False) + "\n")
    with paths[1].open("w", newline="") as f:
        csv.writer(f).writerows(alignment_csv_rows(results))
    paths[2].write_text(alignment_markdown(results))
    figure = alignment_figure(results)
    for path in paths[3:]:
        figure.savefig(path, dpi=200)
    return paths
