"""`python -m app evaluate`: compare trained models on a labelled COCO set, side by side."""

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
    set_threads,
    unit_float,
)
from app.commands._dataset import add_models_arguments, launch_measure, run_measure

DESCRIPTION = """\
Run each model over a labelled COCO set and compare them: image-level crack / no-crack counts
(TP, TN, FP, FN, accuracy, precision, recall; an image is "crack" when any detection scores
>= --threshold, and truly one when it has an annotation) and COCO box / mask AP. Writes
evaluation.json, evaluation.csv, evaluation.md and disagreements.json to --out.
Without --models, the shipped demo pair (demo-baseline and demo-bam) is compared; without
--json / --images, on the demo's held-out synthetic test split. With two models, the reports
end with paired statistics: the images each model alone gets right, McNemar's exact test and
bootstrap intervals of the accuracy and AP differences (second model minus first).
With --num-gpus N (processes), the images are shared between the processes; the reports are
the same as from one process.

With only the two tables at hand, --from-counts says what they allow, without running a model:
  python -m app evaluate --from-counts 38,81,0,11 41,81,0,8 --labels "Mask R-CNN" "with BAM"
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "evaluate", help="compare trained models on a labelled COCO set",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_models_arguments(parser, models_help="the models: each CONFIG.yaml:WEIGHTS.pth (a config and its weights "
                                             "joined by ':') or a named model (demo-baseline, demo-bam); default: "
                                             "those two",
                         labels_help="a column name per model (default: from the weights file names)")
    add_set_arguments(parser, "COCO annotations of the evaluation set")
    parser.add_argument("--out", metavar="DIR", help="folder for the reports (required unless --from-counts)")
    parser.add_argument("--threshold", type=unit_float, default=0.5,
                        help="detection score from which an image counts as 'crack' (default 0.5)")
    parser.add_argument("--from-counts", nargs=2, type=_counts, metavar=("BEFORE", "AFTER"),
                        help="no evaluation: the image-level tables of two models on the same images, each "
                             "TP,TN,FP,FN (e.g. 38,81,0,11 41,81,0,8); prints which McNemar p-values "
                             "these counts allow (best and worst pairing of the images)")
    add_cpu_arguments(parser, " in each process")
    add_device_argument(parser)
    add_launch_arguments(parser)
    return parser


def _counts(text: str) -> dict:
    """'TP,TN,FP,FN' -> {"tp", "tn", "fp", "fn"}."""
    from evaluation.significance import COUNT_KEYS

    parts = text.replace(" ", "").split(",")
    if len(parts) != 4 or not all(p.isdigit() for p in parts):
        raise argparse.ArgumentTypeError(f"{text!r}: give four whole numbers TP,TN,FP,FN, e.g. 38,81,0,11")
    return dict(zip(COUNT_KEYS, map(int, parts)))


def run_from_counts(args: argparse.Namespace) -> int:
    """Prints what the two tables of --from-counts allow (evaluation.significance.pairing_from_counts)."""
    from evaluation.formatting import counts_markdown
    from evaluation.significance import pairing_from_counts

    if args.models or args.json or args.images or args.out:
        return fail("--from-counts runs no model: give it without --models, --json, --images or --out.")
    labels = tuple(args.labels or ("model A", "model B"))
    if len(labels) != 2:
        return fail(f"{len(labels)} labels for the 2 tables of --from-counts.")
    try:
        result = pairing_from_counts(*args.from_counts)
    except ValueError as e:
        return fail(str(e))
    print(counts_markdown(result, labels))
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    if getattr(args, "from_counts", None):
        return run_from_counts(args)
    if not args.out:
        return fail("give --out DIR, the folder for the reports.")
    return launch_measure(args, evaluate_in_process)


def evaluate_in_process(args: argparse.Namespace, specs: list) -> int:
    """The evaluation, in each process of training.launch (the only one by default): each loads
    the models and runs them on its share of the images."""
    from evaluation.evaluate import evaluate

    set_threads(args)
    status, results = run_measure(specs, lambda models: evaluate(models, args.json, args.images, args.out,
                                                                  threshold=args.threshold, workers=args.workers),
                                  nothing="nothing was evaluated")
    if not results:  # a problem, or a process other than the main one, which writes and shows the reports
        return status
    out = Path(args.out)
    print((out / "evaluation.md").read_text())
    print(f"Reports: {out / 'evaluation.md'}, evaluation.csv, evaluation.json, disagreements.json "
          f"({results.disagreements} images on which the models disagree).")
    return EXIT_OK
