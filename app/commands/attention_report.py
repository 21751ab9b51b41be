"""`python -m app attention-report`: do the models look at the cracks? Per stage, over a labelled set."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.commands._common import (
    EXIT_OK,
    add_cpu_arguments,
    add_device_argument,
    add_launch_arguments,
    add_set_arguments,
    non_negative_float,
    non_negative_int,
    positive_int,
    set_threads,
)
from app.commands._dataset import DEFAULT_MODELS, add_models_arguments, launch_measure, run_measure

DESCRIPTION = """\
Measure, for every image with cracks in a labelled COCO set, how well each model's maps line up
with the crack masks: the spatial attention of every attention stage (c2, c3, c4) and the
activation energy of the feature maps c2..c5 (so a model without attention is measured too).
Per map: the lift (share of the map's mass on crack pixels / their share of the image), the
AUROC of the map as a crack-pixel detector, and the pointing game (is the maximum on a crack,
within --tolerance pixels). Dataset means with seeded bootstrap intervals; the differences of
each model from the first one listed are paired per image. Images without cracks are skipped.
Writes attention_report.json, .csv (per image), .md, .png and .pdf to --out.
Without --models, the shipped demo pair (demo-baseline first, then demo-bam); without --json /
--images, the demo's held-out synthetic test split. With --num-gpus N (processes), the images are
shared between the processes; the reports are those of one process. `dissect --attention-report
DIR` writes the same report from the dissection's pass over the images.
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    from viz.gradcam import CAM_METHODS, FAITHFULNESS

    parser = subparsers.add_parser(
        "attention-report", help="per-stage alignment of attention and feature maps with the cracks",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_models_arguments(parser, models_help="the models: each CONFIG.yaml:WEIGHTS.pth or a named model; the first "
                                             "is the reference for the differences (default: "
                                             f"{' '.join(DEFAULT_MODELS)})",
                         labels_help="a name per model (default: from the models)")
    add_set_arguments(parser)
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the reports")
    parser.add_argument("--limit", type=positive_int, metavar="N", help="only the first N images of the set")
    parser.add_argument("--tolerance", type=non_negative_float, default=15.0, metavar="PX",
                        help="pointing game: a hit when the maximum is within PX pixels of a crack (default 15)")
    parser.add_argument("--cams", nargs="+", metavar="LAYER", default=[],
                        help="also a CAM of every detection matched to an annotation, at these layers "
                             "(e.g. c4 c5), measured against that annotation's mask, with the grad-cam library's "
                             "faithfulness metrics and a sanity check; RandomCAM is added as the floor "
                             "(slow: seconds per detection, mostly ROAD)")
    parser.add_argument("--cam-methods", nargs="+", metavar="METHOD", default=["GradCAM"], choices=list(CAM_METHODS),
                        help="the CAM methods for --cams (default GradCAM; ScoreCAM and AblationCAM make a "
                             "forward pass per channel of the layer: minutes per image on a CPU)")
    parser.add_argument("--faithfulness", nargs="*", metavar="METRIC", choices=list(FAITHFULNESS),
                        help=f"the faithfulness metrics for --cams (default all: {', '.join(FAITHFULNESS)}; "
                             "none when given without a name)")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="bootstrap seed (default 0)")
    parser.add_argument("--resamples", type=positive_int, default=2000, help="bootstrap resamples (default 2000)")
    add_cpu_arguments(parser, " in each process")
    add_device_argument(parser)
    add_launch_arguments(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    return launch_measure(args, report_in_process)


def report_in_process(args: argparse.Namespace, specs: list) -> int:
    """The report, in each process of training.launch (the only one by default): each loads the
    models and measures its share of the images; the main one writes and shows the reports."""
    from evaluation.attention_report import REPORT_FILES, attention_report

    set_threads(args)
    status, results = run_measure(
        specs, lambda models: attention_report(models, args.json, args.images, args.out, limit=args.limit,
                                               tolerance=args.tolerance, cam_layers=args.cams,
                                               cam_methods=args.cam_methods, faithfulness=args.faithfulness,
                                               seed=args.seed, resamples=args.resamples, workers=args.workers),
        nothing="nothing was measured")
    if results is None:
        return status
    out = Path(args.out)
    print((out / REPORT_FILES[2]).read_text())
    print(f"Reports: {', '.join(str(out / name) for name in REPORT_FILES)} "
          f"({results.dataset.measured} images measured, {results.dataset.skipped_no_crack} without cracks "
          "skipped).")
    return EXIT_OK
