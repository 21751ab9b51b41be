"""A report to hand out: one PDF (and the same as one self-contained HTML file) on a before /
after pair of models.

What it holds, in order:

1. the two models described (architecture from `models.describe`, parameters, weights file,
   class names) and the dataset;
2. the before / after table of `evaluation.evaluate` (image-level counts and rates, COCO AP) with
   its paired statistics (`evaluation.significance`: McNemar's exact test, bootstrap intervals),
   saying in words when a difference is not significant;
3. the per-stage attention figure of `evaluation.attention_report` with the paired differences of
   its AUROC per map, each marked significant or not (does its interval exclude 0?);
4. a few example images: for each model its detections, its maps at c2..c4 (the spatial
   attention where the model has attention, the feature energy where it has none) and the
   Grad-CAM of its best detection, the crack outlined where the image's annotations are known.

The evaluation and the attention report are run here (on every image, or on a stratified sample of
`limit` images: as many with cracks as without), or read from the JSON files those commands wrote
(the app passes its finished evaluation). `build_report(models, HandoutRequest(...))` gathers
the content (a `Report`); evaluation.handout_pages draws it as A4 pages (PDF) and one HTML file,
with the tables of evaluation.formatting.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from evaluation.masks import AnnotationMasks, outlined
from evaluation.results import Alignment, Evaluation
from evaluation.text_safety import figure_text
from models import LoadedModel  # (models makes detectron2 importable: before it)
from training.data import coco_subset, dataset_image_path, read_dataset_json

REPORT_PDF, REPORT_HTML = "report.pdf", "report.html"
EXAMPLE_STAGES = ("c2", "c3", "c4")
CAM_LAYER = "c4"  # the last attention stage's output
FIGURE_DPI = 130

Progress = Callable[[float, str], None]  # (fraction done in [0, 1], what is being done)


@dataclass(frozen=True)
class HandoutRequest:
    """What a report to hand out is made of, but the models (`build_report` takes those)."""

    json_path: Path  # the labelled COCO set
    image_dir: Path
    out_dir: Path  # for report.pdf and report.html; the runs behind them go to out_dir/report_parts
    limit: int | None = None  # a stratified sample of `limit` images (sampled_dataset); None: all
    examples: tuple[Path, ...] | None = None  # image files to show; None: picked from examples_json
    example_count: int = 3  # how many to pick
    examples_json: Path | None = None  # where to pick them (and their outlines) from; None: json_path
    evaluation_json: Path | None = None  # an evaluation.json to reuse instead of evaluating
    attention_json: Path | None = None  # an attention_report.json to reuse instead of measuring
    dissection_json: Path | None = None  # a dissection.json of `python -m app dissect`: its pages are added
    threshold: float = 0.5  # an image is "crack" from this detection score
    resamples: int = 1000  # the attention intervals' bootstrap resamples
    workers: int | None = None  # decoding processes of the runs (0: none, as a server wants)
    title: str | None = None
    dataset_name: str | None = None  # what the user calls the set (an upload's "name (hash)"); None: its file


@dataclass
class ModelInfo:
    """One model, as the report describes it."""

    label: str
    config: Path
    weights: Path | None  # None: random weights
    description: str
    parameters: int
    attention_parameters: int
    weights_bytes: int
    class_names: tuple[str, ...]


@dataclass
class Example:
    """One example image: its name and the figure of both models on it (PNG bytes)."""

    name: str
    png: bytes
    note: str = ""


@dataclass
class Report:
    """What `build_report` made: the files and what went into them."""

    pdf: Path
    html: Path
    models: list[ModelInfo]
    evaluation: Evaluation
    attention: Alignment | None
    examples: list[Example] = field(default_factory=list)
    pages: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    dissection: object | None = None  # an evaluation.dissection_report.DissectionReport, or None


# ---------------------------------------------------------------------------------------------
# Inputs


def _spread(items: list, count: int) -> list:
    """`count` of `items`, evenly spread over their order (all of them when there are fewer)."""
    if count >= len(items):
        return list(items)
    return [items[(2 * i + 1) * len(items) // (2 * count)] for i in range(count)]


def sampled_dataset(json_path: str | Path, limit: int | None, folder: str | Path) -> Path:
    """A stratified sample of a COCO file: as many images with cracks (an annotation) as without,
    each half spread evenly over the file's order; where one kind has too few, the other fills in.

    Args:
        json_path: the COCO file; limit: how many images (None: all).
        folder: where the sample's copy goes.

    Returns:
        The file itself, or (with `limit` below its image count) a copy holding the sample's
        images (in the file's order) and their annotations; the image folder stays the same.
    """
    data = read_dataset_json(json_path)
    if limit is None or not isinstance(data, dict) or not isinstance(data.get("images"), list) \
            or not isinstance(data.get("annotations"), list) or limit >= len(data["images"]):
        return Path(json_path)  # what is not a COCO file is for the evaluation's check to say
    annotated = {a.get("image_id") for a in data["annotations"] if isinstance(a, dict)}
    cracks = [im for im in data["images"] if isinstance(im, dict) and im.get("id") in annotated]
    clean = [im for im in data["images"] if not (isinstance(im, dict) and im.get("id") in annotated)]
    with_cracks = max(limit - len(clean), min(len(cracks), (limit + 1) // 2))
    chosen = {id(im) for im in _spread(cracks, with_cracks) + _spread(clean, limit - with_cracks)}
    path = Path(folder) / f"sample_{limit}_{Path(json_path).name}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(coco_subset(data, [im for im in data["images"] if id(im) in chosen])))
    return path


def pick_examples(json_path: str | Path, image_dir: str | Path, count: int) -> list[Path]:
    """Example images with cracks.

    Args:
        json_path, image_dir: the COCO file and its image folder.
        count: how many.

    Returns:
        The paths of `count` images with at least one annotation, spread evenly over the file's
        order (all of them when there are fewer).
    """
    data = read_dataset_json(json_path)
    annotated = {a["image_id"] for a in data.get("annotations", [])}
    names = [im["file_name"] for im in data.get("images", []) if im["id"] in annotated]
    if len(names) > count:
        names = [names[round(i * (len(names) - 1) / max(count - 1, 1))] for i in range(count)]
    return [dataset_image_path(image_dir, name) for name in names]


def describe_model(loaded: LoadedModel) -> ModelInfo:
    """What the report says about a loaded model: its summary in words, its parameter count (and
    how many of them are the attention modules'), its weights file and its class names."""
    from models import ATTENTION_REGISTRY

    attention = sum(p.numel() for module in loaded.model.modules()
                    if ATTENTION_REGISTRY.of_module(module) is not None for p in module.parameters())
    weights = loaded.spec.weights
    return ModelInfo(loaded.label, loaded.spec.config, weights, str(loaded.summary),
                     sum(p.numel() for p in loaded.model.parameters()), attention,
                     weights.stat().st_size if weights else 0, loaded.class_names)


def _reused(request: HandoutRequest, labels: list[str]) -> dict[str, Evaluation | Alignment]:
    """The evaluation and attention results the request gives files of, checked to be of these models."""
    reused = {}
    for key, path, kind in (("evaluation", request.evaluation_json, Evaluation),
                            ("attention", request.attention_json, Alignment)):
        if path:
            results = reused[key] = kind.from_json(json.loads(Path(path).read_text(encoding="utf-8")))
            found = ", ".join(results.models) or "no model"
            if sorted(results.models) != sorted(labels):
                raise ValueError(f"the {key} file {Path(path).name} compares {found}, but the report's models are "
                                 f"{', '.join(labels)}: give the same models (and labels), or let the report run it.")
    return reused


# ---------------------------------------------------------------------------------------------
# Building


def build_report(models: Sequence[LoadedModel], request: HandoutRequest, on_progress: Progress | None = None) -> Report:
    """Write report.pdf and report.html into request.out_dir (see the module docstring).

    Args:
        models: the two loaded models, before (the baseline) first.
        request: the dataset, examples, reused results and settings.
        on_progress: (fraction done, what is being done) after each step and image.

    Returns:
        The Report: its files, what went into them, its page count and the seconds of each step.

    Raises:
        ValueError: a sentence for the user (not two models, the same label twice, reused
            results of other models).
        training.data.DataProblemsError: problems in the data.
    """
    from evaluation.attention_report import attention_report
    from evaluation.evaluate import evaluate
    from evaluation.handout_pages import write_report

    if len(models) != 2:
        raise ValueError(f"the report compares two models (before, after); got {len(models)}.")
    labels = [m.label for m in models]
    if labels[0] == labels[1]:
        raise ValueError(f"the two models need different labels (both are {labels[0]!r}).")
    json_path, image_dir = Path(request.json_path), Path(request.image_dir)
    work = Path(request.out_dir) / "report_parts"
    work.mkdir(parents=True, exist_ok=True)
    say = on_progress or (lambda fraction, text: None)
    seconds: dict[str, float] = {}
    reused = _reused(request, labels)
    if request.dissection_json:  # checked before anything runs
        from evaluation.dissection_report import read_report

        dissection = read_report(request.dissection_json, labels)
    subset = sampled_dataset(json_path, request.limit, work) if len(reused) < 2 else json_path

    def stage(low: float, high: float, text: str) -> Callable[[int, int], None]:
        return lambda done, total: say(low + (high - low) * done / max(total, 1), f"{text}: {done} of {total} images")

    start = time.perf_counter()
    evaluation = reused.get("evaluation")
    if evaluation is None:
        say(0.05, "Evaluating both models…")
        evaluation = evaluate(models, subset, image_dir, work / "evaluation", threshold=request.threshold,
                              progress=False, on_progress=stage(0.05, 0.4, "Evaluating"), workers=request.workers,
                              dataset_name=request.dataset_name)
    seconds["evaluation"] = time.perf_counter() - start

    start = time.perf_counter()
    attention = reused.get("attention")
    if attention is None:
        say(0.4, "Measuring the attention per stage…")
        attention = attention_report(models, subset, image_dir, work / "attention", resamples=request.resamples,
                                     progress=False, on_progress=stage(0.4, 0.75, "Measuring the attention"),
                                     workers=request.workers, dataset_name=request.dataset_name)
    seconds["attention"] = time.perf_counter() - start
    for key, results in (("evaluation", evaluation), ("attention", attention)):
        if key not in reused and subset != json_path:  # name the set, not its cut copy
            results.dataset.json = str(json_path)

    start = time.perf_counter()
    examples, outline_json = request.examples, request.examples_json
    if examples is None:
        outline_json = Path(request.examples_json or json_path)
        examples = pick_examples(outline_json, image_dir if outline_json == json_path else outline_json.parent,
                                 request.example_count)
    shown = []
    truth = AnnotationMasks(outline_json) if outline_json is not None else None  # the file read once
    for k, path in enumerate(examples):
        say(0.75 + 0.2 * k / max(len(examples), 1), f"Example images: {k + 1} of {len(examples)}")
        shown.append(example_figure(Path(path), models, threshold=request.threshold, truth=truth))
    seconds["examples"] = time.perf_counter() - start

    start = time.perf_counter()
    say(0.95, "Writing the PDF and HTML…")
    out_dir = Path(request.out_dir)
    report = Report(out_dir / REPORT_PDF, out_dir / REPORT_HTML, [describe_model(m) for m in models], evaluation,
                    attention, shown, seconds=seconds,
                    dissection=dissection if request.dissection_json else None)
    write_report(report, title=request.title, limit=request.limit if "evaluation" not in reused else None)
    seconds["writing"] = time.perf_counter() - start
    say(1.0, "Done.")
    return report


def example_figure(path: Path, loaded: Sequence[LoadedModel], *, threshold: float,
                   truth: AnnotationMasks | None) -> Example:
    """Both models on one image: a row per model with its detections, its maps at c2..c4 and the
    Grad-CAM of its best detection.

    Args:
        path: the image file; loaded: the models, before first.
        threshold: the detections shown score at least this.
        truth: the annotations of a COCO file listing the image: its crack is outlined (None, or
            not listed: no outline).

    Returns:
        The Example (the figure as PNG bytes, and a note where the image was downscaled).
    """
    from evaluation.attention_report import image_maps
    from viz.analysis import analyze
    from viz.figures import figure_bytes, panels_figure
    from viz.images import load_for_analysis
    from viz.render import draw_instances, normalize, overlay

    image, downscaled = load_for_analysis(path)
    mask = truth.crack_of(path.name) if truth is not None else None  # outlined() fits it to each picture
    panels = []
    for m in loaded:
        found = analyze(m.model, m.cfg, image, label=m.label, class_names=m.class_names,
                        score_threshold=threshold, cam_layers=(CAM_LAYER,), cam_instances=1)
        kept = len(found.detections)
        panels.append((draw_instances(image, found.capture.instances, list(m.class_names),
                                      score_threshold=threshold),
                       f"{figure_text(m.label)}\n{kept} detection{'s' if kept != 1 else ''} ≥ {threshold:.2f}"))
        maps = image_maps(found.capture)
        for stage in EXAMPLE_STAGES:
            if f"attention {stage}" in maps:
                values, words = maps[f"attention {stage}"], f"{stage}: spatial attention"
            else:
                values, words = maps[f"feature {stage}"], f"{stage}: feature energy\n(no attention here)"
            panels.append((outlined(overlay(image, normalize(values), alpha=0.55), mask), words))
        if found.cams:
            (index, layer), cam = next(iter(found.cams.items()))
            score = float(found.capture.instances.scores[index])
            panels.append((outlined(overlay(image, cam, alpha=0.5, cmap="jet"), mask),
                           f"Grad-CAM at {layer}\nbest detection ({score:.2f})"))
        else:
            panels.append((image, f"no Grad-CAM:\nno detection ≥ {threshold:.2f}"))
    outline = " Green: the annotated crack." if mask is not None else ""
    fig = panels_figure(panels, cols=len(panels) // len(loaded), panel_width=2.2,
                        title=f"{figure_text(path.name)}: detections, maps at c2–c4 (brighter: more), "
                              f"Grad-CAM.{outline}")  # a dataset's file name: no mathtext
    return Example(path.name, figure_bytes(fig, "png", dpi=FIGURE_DPI), downscaled or "")
