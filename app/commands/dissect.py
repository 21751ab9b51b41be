"""`python -m app dissect`: which channels see cracks, does the attention favour them, and what
happens without it (Network Dissection and knock-outs over a labelled set)."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.commands._common import (
    EXIT_OK,
    add_cpu_arguments,
    add_device_argument,
    add_launch_arguments,
    add_set_arguments,
    fail,
    non_negative_float,
    non_negative_int,
    positive_int,
    set_threads,
    unit_float,
)
from app.commands._dataset import DEFAULT_MODELS, add_models_arguments, launch_measure, run_measure

DESCRIPTION = """\
Network Dissection (Bau et al., CVPR 2017) of each model over a labelled COCO set, with the crack
masks as the concept: per channel of c2..c5, its activation thresholded at its own top --quantile
over the dataset (a per-channel log-bin histogram: no activation is held in memory; its error is
stated), upsampled to the image and compared by IoU with the crack masks dilated by --dilation
pixels; a channel with IoU > --iou-threshold is a crack unit. Per attention stage, Spearman's rho
of the channel-attention weights vs the IoU (bootstrap over images), and the weight change on
images with vs without cracks. Then the knock-outs, each evaluated with the model through
`evaluate` (paired statistics): each attention module's maps replaced by their dataset mean, one
stage at a time and all at once; the --k best crack units of each --knockout-layers layer zeroed
vs --k random units (--draws draws). Knock-outs cost an evaluation of two models each: skip them
with --no-knockouts.

Writes dissection.json, dissection.csv (per channel), dissection.md, a figure per model and layer
and dissection_units (PNG and PDF), and knockouts.csv to --out. With --attention-report DIR, the
attention report too, from the same pass over the images. Without --models, the shipped demo
pair (baseline first); without --json / --images, the demo's held-out test split. With --num-gpus
N (processes), the images are shared between the processes; the results are those of one process.
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "dissect", help="which channels see cracks, does the attention favour them, knock-outs",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_models_arguments(parser, models_help="the models: each CONFIG.yaml:WEIGHTS.pth or a named model (default: "
                                             f"{' '.join(DEFAULT_MODELS)})",
                         labels_help="a name per model (default: from the models)")
    add_set_arguments(parser)
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the reports")
    parser.add_argument("--limit", type=positive_int, metavar="N", help="only the first N images of the set")
    group = parser.add_argument_group("dissection")
    group.add_argument("--quantile", type=_percent, default="0.5", metavar="PERCENT",
                       help="a channel is active on its top PERCENT of cells over the dataset (default 0.5)")
    group.add_argument("--iou-threshold", type=unit_float, default=0.04, metavar="IOU",
                       help="a channel with crack IoU above this is a crack unit (default 0.04, the paper's)")
    group.add_argument("--dilation", type=non_negative_float, default=2.0, metavar="PX",
                       help="the crack masks dilated by PX pixels of the original image (thin cracks; default 2)")
    group.add_argument("--layers", nargs="+", default=["c2", "c3", "c4", "c5"], metavar="LAYER",
                       help="the layers to dissect (default c2 c3 c4 c5; c2_pre ...: the maps entering attention)")
    group.add_argument("--seed", type=non_negative_int, default=0, help="bootstrap and random units' seed (default 0)")
    group.add_argument("--resamples", type=positive_int, default=1000, help="bootstrap resamples (default 1000)")
    group = parser.add_argument_group("knock-outs")
    group.add_argument("--no-knockouts", action="store_true", help="skip the knock-outs (the costly part)")
    group.add_argument("--knockout-layers", nargs="+", default=["c2", "c3", "c4"], metavar="LAYER",
                       help="the layers whose best and random units are zeroed (default c2 c3 c4)")
    group.add_argument("--k", type=positive_int, default=8, help="units zeroed per knock-out (default 8)")
    group.add_argument("--draws", type=positive_int, default=3, help="random draws of k units (default 3)")
    group.add_argument("--threshold", type=unit_float, default=0.5,
                       help="the evaluation's detection score from which an image counts as 'crack' (default 0.5)")
    group = parser.add_argument_group("the attention report from the same pass")
    group.add_argument("--attention-report", metavar="DIR",
                       help="also write the attention report (as `attention-report` without CAMs) to DIR")
    group.add_argument("--tolerance", type=non_negative_float, default=15.0, metavar="PX",
                       help="its pointing game's tolerance (default 15)")
    add_cpu_arguments(parser, " in each process")
    add_device_argument(parser)
    add_launch_arguments(parser)
    return parser


def _percent(text: str) -> float:
    """A share in percent, strictly between 0 and 100, as a fraction (for argparse)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < 100:
        raise argparse.ArgumentTypeError(f"must be between 0 and 100, exclusive (got {text})")
    return value / 100


def run(args: argparse.Namespace) -> int:
    if args.attention_report and Path(args.attention_report).resolve() == Path(args.out).resolve():
        return fail("give --attention-report another folder than --out.")
    return launch_measure(args, dissect_in_process)


def dissect_in_process(args: argparse.Namespace, specs: list) -> int:
    """The dissection, in each process of training.launch (the only one by default)."""
    from evaluation.dissect import dissect
    from evaluation.dissection import DissectionSettings
    from evaluation.dissection_report import FILES, KnockOutSettings

    set_threads(args)
    try:
        settings = DissectionSettings(quantile=args.quantile, iou_threshold=args.iou_threshold,
                                      dilation_px=args.dilation, layers=tuple(args.layers), resamples=args.resamples,
                                      seed=args.seed)
    except ValueError as e:
        return fail(str(e))
    knockouts = None if args.no_knockouts else KnockOutSettings(
        layers=tuple(args.knockout_layers), k=args.k, draws=args.draws, seed=args.seed, threshold=args.threshold)
    status, report = run_measure(
        specs, lambda models: dissect(models, args.json, args.images, args.out, settings=settings, knockouts=knockouts,
                                      limit=args.limit, alignment_out=args.attention_report, tolerance=args.tolerance,
                                      workers=args.workers),
        nothing="nothing was dissected")
    if report is None:  # a problem, or a process other than the main one
        return status
    out = Path(args.out)
    print((out / FILES[2]).read_text())
    took = ", ".join(f"{name} {s:.0f} s" for name, s in report.seconds.items())
    print(f"Reports: {', '.join(str(out / name) for name in FILES)}, figures in {out} ({took}).")
    if args.attention_report:
        print(f"Attention report: {Path(args.attention_report) / 'attention_report.md'}.")
    return EXIT_OK
