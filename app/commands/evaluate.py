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
    fail_with_problems,
    launch_command,
    set_arguments_problem,
    set_threads,
    unit_float,
    use_demo_set_unless_given,
)

# The shipped demo pair (names in models.zoo.NAMED): baseline first, as in the BAM experiment.
DEFAULT_MODELS = ("demo-baseline", "demo-bam")

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
    parser.add_argument("--models", nargs="+", metavar="MODEL",
                        help="the models: each CONFIG.yaml:WEIGHTS.pth (a config and its weights joined "
                             "by ':') or a named model (demo-baseline, demo-bam); default: those two")
    parser.add_argument("--labels", nargs="+", metavar="NAME",
                        help="a column name per model (default: from the weights file names)")
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


def parse_model_spec(spec: str) -> tuple[Path, Path]:
    """'CONFIG.yaml:WEIGHTS.pth' -> (config, weights), split as everywhere (models.zoo.split_spec).
    Raises ValueError otherwise."""
    from models.zoo import split_spec

    config, weights = split_spec(spec)  # raises ModelLoadError (a ValueError) for anything else
    if weights is None:
        raise ValueError(f"{spec!r}: give each model as CONFIG.yaml:WEIGHTS.pth.")
    return config, weights


def default_labels(weights: list[Path]) -> list[str]:
    """Column names from the weights files: the file name, with its folder where names repeat
    (e.g. runs/bam/model_final_fp16.pth and runs/baseline/model_final_fp16.pth)."""
    labels = [w.stem for w in weights]
    if len(set(labels)) < len(labels):
        labels = [f"{w.parent.name}/{w.stem}" if w.parent.name else w.stem for w in weights]
    if len(set(labels)) < len(labels):
        labels = [f"{label} #{i + 1}" for i, label in enumerate(labels)]
    return labels


def resolve_models(args: argparse.Namespace) -> list[tuple[str, Path, Path]]:
    """The (label, config, weights) to evaluate, resolved by models.zoo.resolve. Raises ValueError
    with a message for the user."""
    from models.zoo import NAMED, resolve

    specs = args.models or list(DEFAULT_MODELS)
    chosen, problems = [], []
    for spec in specs:
        try:
            found = resolve(spec)
        except ValueError as e:  # models.ModelLoadError: a file is not there
            problems.append(str(e))
            continue
        if found.weights is None:
            problems.append(f"{spec!r}: give each model as CONFIG.yaml:WEIGHTS.pth.")
        chosen.append((found.label if spec in NAMED else None, found.config, found.weights))
    if problems and not args.models:
        raise ValueError("the demo models are not there (" + " ".join(problems) + "). "
                         "Give your own with --models CONFIG.yaml:WEIGHTS.pth ...")
    if problems:
        raise ValueError(" ".join(problems))
    if args.labels:
        labels = list(args.labels)
    else:
        unnamed = iter(default_labels([w for label, _, w in chosen if label is None]))
        labels = [label or next(unnamed) for label, _, _ in chosen]
    if len(labels) != len(chosen):
        raise ValueError(f"{len(labels)} labels for {len(chosen)} models.")
    if len(set(labels)) != len(labels):
        raise ValueError(f"labels must differ: {' '.join(labels)}")
    return [(label, c, w) for label, (_, c, w) in zip(labels, chosen)]


def run_from_counts(args: argparse.Namespace) -> int:
    """Prints what the two tables of --from-counts allow (evaluation.significance.pairing_from_counts)."""
    from evaluation.significance import counts_markdown, pairing_from_counts

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
    if problem := set_arguments_problem(args):
        return fail(problem)
    try:
        chosen = resolve_models(args)
    except ValueError as e:
        return fail(str(e))
    use_demo_set_unless_given(args)  # here, before the processes start
    return launch_command(evaluate_in_process, args, chosen)


def evaluate_in_process(args: argparse.Namespace, chosen: list[tuple[str, Path, Path]]) -> int:
    """The evaluation, in each process of training.launch (the only one by default)."""
    import models
    from evaluation.evaluate import evaluate
    from training.data import DataProblemsError

    set_threads(args)
    try:
        results = evaluate(chosen, args.json, args.images, args.out, threshold=args.threshold, device=args.device,
                           workers=args.workers)
    except DataProblemsError as e:
        return fail_with_problems(e.problems, "nothing was evaluated")
    except models.ModelLoadError as e:
        return fail(str(e))
    if not results:  # a process other than the main one, which writes and shows the reports
        return EXIT_OK
    out = Path(args.out)
    print((out / "evaluation.md").read_text())
    print(f"Reports: {out / 'evaluation.md'}, evaluation.csv, evaluation.json, disagreements.json "
          f"({results['disagreements']} images on which the models disagree).")
    return EXIT_OK
