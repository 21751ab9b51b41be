"""What the dataset commands (evaluate, attention-report, report) share: which models, under
which labels, loaded, and the run of a measure with its user-fixable problems as one line each.

A dataset command is its arguments and one call: `run_measure(resolve_specs(args), lambda models:
measure(models, args.json, args.images, args.out, ...), nothing="nothing was measured")`; one that
takes detectron2's launcher options runs that call in each process through `launch_measure`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from app.commands._common import (
    fail,
    fail_with_problems,
    launch_command,
    note,
    set_arguments_problem,
    use_demo_set_unless_given,
)

# The shipped demo pair (names in models.zoo.NAMED): baseline first, as in the BAM experiment.
DEFAULT_MODELS = ("demo-baseline", "demo-bam")

Result = TypeVar("Result")


def add_models_arguments(parser, *, nargs="+", metavar="MODEL", models_help: str, labels_help: str) -> None:
    """--models (named models or CONFIG.yaml:WEIGHTS.pth; default the demo pair) and --labels."""
    parser.add_argument("--models", nargs=nargs, metavar=metavar, help=models_help)
    parser.add_argument("--labels", nargs=nargs, metavar=metavar if nargs != "+" else "NAME", help=labels_help)


def default_labels(weights: list[Path]) -> list[str]:
    """Column names from the weights files: the file name, with its folder where names repeat
    (e.g. runs/bam/model_final_fp16.pth and runs/baseline/model_final_fp16.pth)."""
    labels = [w.stem for w in weights]
    if len(set(labels)) < len(labels):
        labels = [f"{w.parent.name}/{w.stem}" if w.parent.name else w.stem for w in weights]
    if len(set(labels)) < len(labels):
        labels = [f"{label} #{i + 1}" for i, label in enumerate(labels)]
    return labels


def resolve_specs(args: argparse.Namespace):
    """The specs of --models (default: the demo pair), labelled by --labels, else a named model's
    own label, else the weights' file names; on --device.

    Returns:
        A list of models.ModelSpec, the first the reference (the baseline).

    Raises:
        ValueError: with a message for the user (a file not there, no weights, labels that repeat).
    """
    from models.zoo import NAMED, resolve

    names = args.models or list(DEFAULT_MODELS)
    specs, problems = [], []
    for name in names:
        try:
            found = resolve(name)
        except ValueError as e:  # models.ModelLoadError: a file is not there
            problems.append(str(e))
            continue
        if found.weights is None:
            problems.append(f"{name!r}: give each model as CONFIG.yaml:WEIGHTS.pth.")
        specs.append((name in NAMED, replace(found, device=args.device)))
    if problems and not args.models:
        raise ValueError("the demo models are not there (" + " ".join(problems) + "). "
                         "Give your own with --models CONFIG.yaml:WEIGHTS.pth ...")
    if problems:
        raise ValueError(" ".join(problems))
    if args.labels:
        labels = list(args.labels)
    else:
        unnamed = iter(default_labels([spec.weights for named, spec in specs if not named]))
        labels = [spec.label if named else next(unnamed) for named, spec in specs]
    if len(labels) != len(specs):
        raise ValueError(f"{len(labels)} labels for {len(specs)} models.")
    if len(set(labels)) != len(labels):
        raise ValueError(f"labels must differ: {' '.join(labels)}")
    return [replace(spec, label=label) for label, (_, spec) in zip(labels, specs)]


def load_models(specs) -> list:
    """Each spec loaded (models.load), its notes printed; raises models.ModelLoadError."""
    import models

    loaded = [models.load(spec) for spec in specs]
    for m in loaded:
        for message in filter(None, (m.spec.note, *m.notes)):
            note(f"{m.label}: {message}")
    return loaded


def run_measure(specs, measure: Callable[[list], Result], *, nothing: str) -> tuple[int, Result | None]:
    """Load the models and run `measure(models)`.

    Args:
        specs: the models.ModelSpec of each model.
        measure: the dataset measure, given the loaded models.
        nothing: what did not happen on a problem, e.g. "nothing was evaluated".

    Returns:
        (exit status, the measure's result or None): a problem of the data or a model, or a CAM
        layer a model lacks, is printed (every data problem listed) with status 2.
    """
    import models
    from training.data import DataProblemsError
    from viz.catalogue import UnknownLayerError

    try:
        return 0, measure(load_models(specs))
    except DataProblemsError as e:
        return fail_with_problems(e.problems, nothing), None
    except (models.ModelLoadError, UnknownLayerError, ValueError) as e:
        return fail(str(e)), None


def launch_measure(args: argparse.Namespace, in_process: Callable[..., int]) -> int:
    """The dataset checked, the models resolved and the demo split chosen here, then
    `in_process(args, specs)` in each process asked for (app.commands._common.add_launch_arguments).

    Returns:
        The exit status; a problem with the arguments is one line, status 2.
    """
    if problem := set_arguments_problem(args):
        return fail(problem)
    try:
        specs = resolve_specs(args)
    except ValueError as e:
        return fail(str(e))
    use_demo_set_unless_given(args)  # here, before the processes start
    return launch_command(in_process, args, specs)
