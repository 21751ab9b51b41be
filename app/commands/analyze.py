"""`python -m app analyze IMAGE ... --out DIR`: every figure and one summary.json, headless."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
from tqdm import tqdm

from app.commands._common import add_device_argument, colormap_name, fail, note, positive_int, unit_float


def add_parser(subparsers) -> argparse.ArgumentParser:
    from viz.gradcam import CAM_METHODS, DEFAULT_LAYERS, TARGETS

    p = subparsers.add_parser(
        "analyze", help="write attention, Grad-CAM, detection and comparison figures for images",
        description="For each image: detections, the hierarchical attention figure, channel grids, CAMs "
                    "and the with/without comparison (PNG and PDF), plus OUT/summary.json.")
    p.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    p.add_argument("--model", default="demo-bam",
                   help="a named model (demo-bam, demo-baseline) or CONFIG.yaml:WEIGHTS.pth (default: demo-bam)")
    p.add_argument("--compare", default="demo-baseline",
                   help="the model to compare with, same forms, or 'none' (default: demo-baseline)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--threshold", type=unit_float, default=0.5, help="detection score threshold (default: 0.5)")
    p.add_argument("--cam-method", default="GradCAM", choices=list(CAM_METHODS))
    p.add_argument("--cam-target", default="score", choices=list(TARGETS))
    p.add_argument("--cam-layers", nargs="+", default=list(DEFAULT_LAYERS), metavar="LAYER")
    p.add_argument("--cmap", type=colormap_name, default="inferno",
                   help="matplotlib colormap of the attention maps (default: inferno)")
    p.add_argument("--top-k", type=positive_int, default=16, help="channels in each feature-map grid (default: 16)")
    p.add_argument("--class-names", metavar="NAMES", default="",
                   help='comma-separated class names in the model\'s class order, e.g. "crack, scratch" '
                        "(default: metadata.json beside the weights, written by train; else class 0, class 1, ...)")
    add_device_argument(p)
    return p


def _load(name: str, device: str, given_names: tuple[str, ...] = ()):
    """The LoadedModel of a command-line model name, its notes printed. Class names: the given
    ones (which must be one per class), else the named model's, else metadata.json beside the
    weights, else "class N" (models.load's rule)."""
    from dataclasses import replace

    import models
    from models import metadata
    from models.zoo import NAMED, resolve

    found = resolve(name)
    loaded = models.load(replace(found, device=device, class_names=given_names or found.class_names))
    problem = metadata.count_problem(given_names, loaded.cfg.MODEL.ROI_HEADS.NUM_CLASSES)
    if problem:
        raise models.ModelLoadError(f"--class-names: {problem} ({loaded.label}).")
    hint = " (give CONFIG.yaml:WEIGHTS.pth)" if loaded.spec.weights is None and name not in NAMED else ""
    for message in filter(None, (loaded.spec.note and loaded.spec.note + hint, *loaded.notes)):
        note(f"{loaded.label}: {message}")
    return loaded


def shrink_notes(image, loaded: list) -> list[str]:
    """models.inputs.shrink_note for each model that sees `image` much smaller than it is."""
    from models.inputs import shrink_note

    h, w = image.shape[:2]
    return [note for m in loaded if (note := shrink_note(h, w, m.cfg, m.label))]


def _write_image(path: Path, rgb) -> None:
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def analyze_one(image, stem: Path, loaded: list, args) -> dict:
    from viz import analysis as A
    from viz import figures as F
    from viz.render import channel_grid, top_channels

    results = [A.analyze(m.model, m.cfg, image, label=m.label, class_names=m.class_names,
                         score_threshold=args.threshold, cam_method=args.cam_method, cam_target=args.cam_target,
                         cam_layers=tuple(args.cam_layers))
               for m in loaded]
    comparison = None
    if len(results) == 2:
        comparison = A.compare(results[0], results[1], (loaded[0].model, loaded[1].model),
                               cam_layers=tuple(args.cam_layers))
        results = [A.with_cams(result, cams) for result, cams in zip(results, comparison.cams)]
        F.save_figure(F.comparison_figure(results[0], results[1], comparison, image, image_name=stem.name),
                      f"{stem}_comparison")
    F.save_figure(F.detections_figure(results[0], results[1] if len(results) == 2 else None, image,
                                        image_name=stem.name), f"{stem}_detections")
    for tag, result in zip(("model", "compare"), results):
        if result.capture.attention:
            figure = F.hierarchical_attention_figure(result, image, cmap=args.cmap, image_name=stem.name)
            F.save_figure(figure, f"{stem}_{tag}_attention")
        if result.cams:
            F.save_figure(F.cam_figure([result], image, image_name=stem.name), f"{stem}_{tag}_cam")
        for stage in A.STAGES:
            features = result.capture.features[stage]
            weights = result.capture.attention[stage].channel if stage in result.capture.attention else None
            _write_image(Path(f"{stem}_{tag}_{stage}_channels.png"),
                         channel_grid(features, top_channels(features, args.top_k, weights=weights)))
    return A.summary(results, comparison)


def run(args: argparse.Namespace) -> int:
    from app.model_choice import parse_class_names
    from models import ModelLoadError
    from viz.catalogue import UnknownLayerError, get_layer, layer_catalogue
    from viz.images import ImageError, load_for_analysis

    specs = [args.model] + ([] if args.compare.lower() == "none" else [args.compare])
    given = parse_class_names(args.class_names)
    try:
        loaded = [_load(spec, args.device, given) for spec in specs]
        for m in loaded:  # an unknown --cam-layers name fails now, not once per image
            catalogue = layer_catalogue(m.model)
            for layer in args.cam_layers:
                get_layer(catalogue, layer)
    except (ModelLoadError, UnknownLayerError) as e:
        return fail(str(e))
    args.out.mkdir(parents=True, exist_ok=True)
    report = {"models": [{"spec": s, "label": m.label, "description": str(m.summary),
                          "class_names": list(m.class_names)} for s, m in zip(specs, loaded)],
              "images": {}, "failed": {}}
    for path in tqdm(args.images, unit="image", desc="analyze", disable=len(args.images) < 2):
        try:
            image, downscaled = load_for_analysis(path)
            if downscaled:
                tqdm.write(f"note: {path.name}: {downscaled}", file=sys.stderr)
            for message in shrink_notes(image, loaded):
                tqdm.write(f"note: {path.name}: {message}", file=sys.stderr)
            report["images"][path.name] = analyze_one(image, args.out / path.stem, loaded, args)
            if downscaled:
                report["images"][path.name]["note"] = downscaled
        except (ImageError, UnknownLayerError, ValueError) as e:
            message = str(e) if isinstance(e, ImageError) else f"{path.name}: {e}"
            report["failed"][path.name] = message
            tqdm.write(f"skipped {message}", file=sys.stderr)
    (args.out / "summary.json").write_text(json.dumps(report, indent=2))
    print(f"{len(report['images'])} analysed, {len(report['failed'])} failed -> {args.out}")
    return 1 if report["failed"] else 0
