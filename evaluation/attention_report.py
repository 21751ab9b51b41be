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
`attention_report()` writes attention_report.json, attention_report.csv (one row per image, model
and map), attention_report.md and attention_report.png / .pdf (the figure).
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

from evaluation.alignment import MEASURES, alignment, area_share, mean_with_ci, within
from evaluation.loader import model_input
from evaluation.masks import AnnotationMasks, union
from evaluation.runner import Progress, Stopwatch, check_models, each_image
from evaluation.text_safety import csv_row, markdown_code, markdown_text
from models import LoadedModel  # (models makes detectron2 importable: before it)
from training.data import dataset_image_path, require_valid
from viz.capture import Capture, capture_input
from viz.catalogue import get_layer, layer_catalogue
from viz.render import activation_energy

STAGES = ("c2", "c3", "c4", "c5")
MEASURE_NAMES = {"mass_share": "mass share on crack", "lift": "lift (mass share / area share)",
                 "auroc": "AUROC (crack pixels)", "pointing": "pointing game"}
# Measures of the CAM rows only: the grad-cam library's faithfulness metrics on the detection
# score (viz.gradcam.FAITHFULNESS) and the sanity check against randomized heads.
CAM_MEASURE_NAMES = {
    "road": "ROAD combined (higher: more faithful)",
    "confidence_change": "confidence change, image × CAM (higher: more faithful)",
    "drop_in_confidence": "drop in confidence, image × CAM (lower: more faithful)",
    "increase_in_confidence": "increase in confidence, image × CAM (share)",
    "sanity_pass": "sanity check passed (share)",
    "sanity_rho": "sanity check: Spearman ρ with randomized heads (lower: depends more on the heads)",
}
MEASURE_NAMES.update(CAM_MEASURE_NAMES)
ALL_MEASURES = (*MEASURES, *CAM_MEASURE_NAMES)
REPORT_FILES = ("attention_report.json", "attention_report.csv", "attention_report.md",
                "attention_report.png", "attention_report.pdf")


def map_name(source: str, stage: str) -> str:
    """The report's name of a map: ("attention" | "feature" | a CAM method, "c3") -> "attention c3"."""
    return f"{source} {stage}"


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
    """map name -> {measure: value} for one capture and its crack mask ((H, W) bool, not empty).
    near: `within(mask, tolerance)` when already computed (the same for every map and model)."""
    near = within(mask, tolerance) if near is None else near
    return {name: alignment(values, mask, tolerance=tolerance, near=near) for name, values in image_maps(cap).items()}


def match_detections(instances, masks: list[np.ndarray], *, score_threshold: float = 0.5,
                     iou_threshold: float = 0.5) -> list[tuple[int, int]]:
    """(annotation index, detection index) pairs: each annotation, in turn, takes the best-scoring
    unused detection (score >= score_threshold) whose box overlaps the annotation's box with
    IoU >= iou_threshold. `instances`: detectron2 Instances at the image's size."""
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
    """CAMs (score target) of every detection matched to an annotation, per layer and method, and
    RandomCAM (the floor) after them; each measured against its own annotation's mask (MEASURES:
    the mass share is the energy-based pointing game), with the library's faithfulness metrics
    (`faithfulness`, keys of viz.gradcam.FAITHFULNESS; None: all) and the sanity check against
    `randomized` (a randomize_heads copy of the model; None: no sanity check). Values are averaged
    over the image's matched detections.

    Returns ({"gradcam c4": {measure: value}, ...}, number matched, {method: seconds spent on
    this image}). RandomCAM's draw is seeded by (seed, image_id, annotation index).
    """
    from viz.gradcam import FAITHFULNESS, cam_faithfulness, instance_cam, sanity_check

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
                draw = [seed, int(image_id), k]
                cam = instance_cam(model, cap.model_input, box, class_id, method=method, layer=layer, seed=draw)
                values = alignment(cam, masks[k], tolerance=tolerance)
                values.update(cam_faithfulness(model, cap.model_input, box, class_id, cam, metrics=faithfulness,
                                               seed=seed))
                if randomized is not None:
                    check = sanity_check(model, cap.model_input, box, class_id, method=method, layer=layer,
                                         original=cam, randomized=randomized, cam_seed=draw)
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


def attention_report(models: Sequence[LoadedModel], json_path: str | Path, image_dir: str | Path,
                     out_dir: str | Path, *, limit: int | None = None, tolerance: float = 15.0,
                     cam_layers: Sequence[str] = (), cam_methods: Sequence[str] = ("GradCAM",),
                     faithfulness: Sequence[str] | None = None, seed: int = 0, resamples: int = 2000,
                     confidence: float = 0.95, progress: bool = True, on_progress: Progress | None = None,
                     workers: int | None = None) -> dict:
    """Measure every model's maps against the crack masks of a COCO set and write the reports.

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

    Returns:
        The content of attention_report.json.

    Raises:
        training.data.DataProblemsError: problems in the data.
        viz.catalogue.UnknownLayerError: a CAM layer a model does not have (with the valid ones).
        ValueError: no model, labels that repeat, an unknown CAM method or faithfulness metric.
    """
    labels = check_models(models, "measure")
    if cam_layers:
        from viz.gradcam import CAM_METHODS, FAITHFULNESS

        for name, known, what in [*((m, CAM_METHODS, "CAM method") for m in cam_methods),
                                  *((m, FAITHFULNESS, "faithfulness metric") for m in faithfulness or ())]:
            if name not in known:
                raise ValueError(f"unknown {what} {name!r}; choose from {', '.join(known)}.")
    require_valid((json_path, image_dir))
    for m in models:
        catalogue = layer_catalogue(m.model)
        for layer in cam_layers:
            get_layer(catalogue, layer)  # an unknown layer fails now, with the valid names, not mid-run
    randomized = {}
    if cam_layers:
        from viz.gradcam import randomize_heads

        randomized = {m.label: randomize_heads(m.model, seed=seed) for m in models}

    found = AnnotationMasks(json_path, limit=limit)
    total = len(found.entries)
    per_image, skipped = [], []
    watch = Stopwatch(labels)
    cam_seconds: dict[str, dict[str, list[float]]] = {label: {} for label in labels}

    def record(entry: dict) -> dict | None:  # only the images with annotations are decoded
        return ({"image_id": entry["id"], "file_name": str(dataset_image_path(image_dir, entry["file_name"]))}
                if found.annotated(entry) else None)

    for entry, image in each_image(found.entries, models, record, desc="Attention report", progress=progress,
                                   on_progress=on_progress, workers=workers):
        ident = {"image_id": entry["id"], "file_name": entry["file_name"]}
        masks = found.masks(entry)
        mask = union(masks, entry)
        if not mask.any():
            skipped.append(ident)
            continue
        near = within(mask, tolerance)
        row = {**ident, "area_share": area_share(mask), "pointing_chance": float(near.mean()), "models": {}}
        for m in models:
            with watch.timing(m.label):
                cap = capture_input(m.model, model_input(image, m.cfg))
                row["models"][m.label] = measure_capture(cap, mask, tolerance=tolerance, near=near)
            if cam_layers:
                cams, matched, spent = measure_cams(
                    m.model, cap, masks, cam_layers, tolerance=tolerance, methods=cam_methods,
                    faithfulness=faithfulness, randomized=randomized[m.label], seed=seed, image_id=entry["id"])
                row["models"][m.label].update(cams)
                for method, value in spent.items():
                    cam_seconds[m.label].setdefault(method, []).append(value)
                row.setdefault("matched_detections", {})[m.label] = {"instances": len(masks), "matched": matched}
        per_image.append(row)

    summary, differences = _summaries(per_image, labels, seed=seed, resamples=resamples, confidence=confidence)
    results = {
        "dataset": {"json": str(json_path), "images": str(image_dir), "num_images": total,
                    "measured": len(per_image), "skipped_no_crack": len(skipped), "limit": limit},
        "settings": {
            "tolerance_px": tolerance, "bootstrap": {"method": "percentile", "resamples": resamples,
                                                     "confidence": confidence, "seed": seed},
            "maps": "attention cN: spatial attention map of stage N; feature cN: mean absolute "
                    "activation over channels of stage output cN",
            "comparison": "maps cropped to the image region and resized bilinearly to the original "
                          "image; the crack is the union of the image's annotation masks",
            "reference": labels[0],
            "cams": ("CAM rows (method LAYER, e.g. gradcam c4): the CAM (score target) of each detection matched "
                     "to an annotation (score >= 0.5, box IoU >= 0.5), against that annotation's mask, averaged "
                     "per image; its mass share is the energy-based pointing game. randomcam: the grad-cam "
                     "library's RandomCAM (random channel weights), the floor every method should beat. "
                     "Faithfulness: the grad-cam library's metrics on the detection's softmax score for the fixed "
                     "box (ROAD combined over percentiles 20/40/60/80 with noisy linear imputation; the image "
                     "multiplied by the CAM for the confidence changes). Sanity check: Spearman ρ between the CAM "
                     "and the same CAM with the box and mask heads randomized (one randomized copy per model, "
                     "seeded); it passes below 0.5") if cam_layers else None,
            "cam_methods": [*cam_methods, "RandomCAM"] if cam_layers else [],
        },
        "models": {m.label: {"config": str(m.spec.config), "weights": m.spec.weights_text, "model": str(m.summary),
                             "seconds_per_image": watch.median(m.label),
                             **({"matched_detections": sum(r["matched_detections"][m.label]["matched"]
                                                           for r in per_image),
                                 "annotations": sum(r["matched_detections"][m.label]["instances"] for r in per_image),
                                 "cam_seconds_per_image": {method: round(statistics.median(values), 3)
                                                           for method, values in cam_seconds[m.label].items()}}
                                if cam_layers else {})}
                   for m in models},
        "chance": {"area_share": mean_with_ci([r["area_share"] for r in per_image], confidence=confidence,
                                              resamples=resamples, seed=seed),
                   "pointing": mean_with_ci([r["pointing_chance"] for r in per_image], confidence=confidence,
                                            resamples=resamples, seed=seed)},
        "summary": summary,
        "differences": differences,
        "images": _json_safe(per_image),
        "skipped": skipped,
    }
    write_reports(results, out_dir)
    return results


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


def map_order(results: dict) -> list[str]:
    """Every measured map name: attention stages first, then features, by stage; then the CAM rows
    by layer, in the order of their methods (RandomCAM, the floor, last)."""
    names = {n for per_model in results["summary"].values() for n in per_model}
    captured = [map_name(source, stage) for source in ("attention", "feature") for stage in STAGES
                if map_name(source, stage) in names]
    methods = [m.lower() for m in results.get("settings", {}).get("cam_methods") or ["GradCAM"]]
    cams = sorted(names - set(captured), key=lambda n: (n.split(" ")[-1], methods.index(n.split(" ")[0])
                                                         if n.split(" ")[0] in methods else len(methods), n))
    return captured + cams


def format_stat(stat: dict | None, digits: int = 3) -> str:
    """"0.912 [0.900, 0.923]": a mean and its interval; "—" where there is none."""
    if not stat or stat["mean"] is None:
        return "—"
    text = f"{stat['mean']:.{digits}f}"
    if stat["low"] is not None:
        text += f" [{stat['low']:.{digits}f}, {stat['high']:.{digits}f}]"
    return text


def markdown_report(results: dict) -> str:
    """One table per measure: a row per map (stage), a column per model and per difference."""
    ds, settings = results["dataset"], results["settings"]
    labels = list(results["models"])
    diffs = list(results["differences"])
    boot = settings["bootstrap"]
    lines = [
        f"# Attention alignment on {markdown_text(Path(ds['json']).name)}",
        "",
        f"{ds['measured']} images with cracks measured; {ds['skipped_no_crack']} without cracks skipped "
        f"(nothing to align with). Means over images with {round(100 * boot['confidence'])}% percentile "
        f"bootstrap intervals ({boot['resamples']} resamples, seed {boot['seed']}); differences are paired "
        "per image. " + settings["maps"] + ". " + settings["comparison"][0].upper() + settings["comparison"][1:]
        + f". Pointing game: the map's maximum within {settings['tolerance_px']:g} px of a crack pixel.",
        "",
        f"Chance: crack area share {format_stat(results['chance']['area_share'], 4)} (lift 1 and AUROC 0.5 are "
        f"chance); pointing game by chance {format_stat(results['chance']['pointing'])}.",
    ]
    header = ["map", *map(markdown_text, labels + diffs)]  # names from visitors and files: as text
    for measure in ("lift", "auroc", "pointing", "mass_share"):
        lines += ["", f"## {MEASURE_NAMES[measure]}", "",
                  "| " + " | ".join(header) + " |", "| --- |" + " ---: |" * (len(header) - 1)]
        for name in map_order(results):
            cells = [format_stat(results["summary"][label].get(name, {}).get(measure)) for label in labels]
            cells += [format_stat(results["differences"][d].get(name, {}).get(measure)) for d in diffs]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    cam_rows = [n for n in map_order(results) if not n.startswith(("attention ", "feature "))]
    for measure in CAM_MEASURE_NAMES:
        if not any(measure in results["summary"][label].get(n, {}) for label in labels for n in cam_rows):
            continue
        lines += ["", f"## CAMs: {MEASURE_NAMES[measure]}", "",
                  "| " + " | ".join(header) + " |", "| --- |" + " ---: |" * (len(header) - 1)]
        for name in cam_rows:
            cells = [format_stat(results["summary"][label].get(name, {}).get(measure)) for label in labels]
            cells += [format_stat(results["differences"][d].get(name, {}).get(measure)) for d in diffs]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("")
    if settings.get("cams"):
        lines.append(settings["cams"][0].upper() + settings["cams"][1:] + ". Matched: " + ", ".join(
            f"{markdown_text(label)}: {m['matched_detections']} of {m['annotations']} annotations"
            for label, m in results["models"].items()) + ".")
        lines.append("")
        lines.append("CAM seconds per image (median over images with a matched detection; the CAM, its "
                     "faithfulness metrics and sanity check, all layers): " + "; ".join(
                         f"{markdown_text(label)}: " + ", ".join(f"{method} {value:g} s"
                                                  for method, value in m["cam_seconds_per_image"].items())
                         for label, m in results["models"].items()) + ".")
        lines.append("")
    for label, m in results["models"].items():
        lines.append(f"- **{markdown_text(label)}**: {markdown_text(m['model'])}; {m['seconds_per_image']} s per "
                     f"image (median; capture and map measures, CAMs not included); config "
                     f"{markdown_code(m['config'])}, weights {markdown_code(m['weights'])}")
    return "\n".join(lines) + "\n"


def csv_rows(results: dict) -> list[list]:
    """One row per image, model and map: the per-image values behind the means."""
    rows = [["image_id", "file_name", "area_share", "pointing_chance", "model", "map", *ALL_MEASURES]]
    for image in results["images"]:
        for label, maps in image["models"].items():
            for name, values in maps.items():
                rows.append([image["image_id"], image["file_name"], image["area_share"],
                             image["pointing_chance"], label, name,
                             *("" if values.get(m) is None else values[m] for m in ALL_MEASURES)])
    return rows


def write_reports(results: dict, out_dir: str | Path) -> list[Path]:
    """REPORT_FILES in `out_dir`."""
    from evaluation.alignment_figure import alignment_figure

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / name for name in REPORT_FILES]
    paths[0].write_text(json.dumps(results, indent=2, allow_nan=False) + "\n")
    with paths[1].open("w", newline="") as f:
        csv.writer(f).writerows(map(csv_row, csv_rows(results)))  # labels, file names: text, not formulas
    paths[2].write_text(markdown_report(results))
    figure = alignment_figure(results)
    for path in paths[3:]:
        figure.savefig(path, dpi=200)
    return paths
