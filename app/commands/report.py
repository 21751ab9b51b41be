"""`python -m app report --out DIR`: one PDF (and HTML) to hand out on a before / after pair."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.commands._common import (
    EXIT_OK,
    add_device_argument,
    add_set_arguments,
    fail,
    positive_int,
    set_arguments_problem,
    unit_float,
    use_demo_set_unless_given,
)
from app.commands._dataset import DEFAULT_MODELS, add_models_arguments, resolve_specs, run_measure

DESCRIPTION = """\
Write DIR/report.pdf and DIR/report.html (the same content, images embedded): the two models
described (architecture, parameters, weights file, classes), the before / after table of
`evaluate` with its paired statistics (McNemar's exact test, bootstrap intervals; a difference
that is not significant is said to be), the per-stage attention figure of `attention-report`
with the paired AUROC differences, and a few example images with each model's detections, maps
at c2..c4 and Grad-CAM side by side. The runs behind it are kept in DIR/report_parts/.

Without --models, the shipped demo pair (demo-baseline before, demo-bam after); without --json /
--images, the demo's held-out test split, and the examples come from the demo gallery.
Every image of the set by default; a quick version: --limit 20 --example-count 2 (a sample of 20
images, as many with cracks as without, spread evenly over the set). Reuse earlier runs with
--evaluation and --attention (their model labels must match). --dissection adds the pages of a
`dissect` run of the same models: crack units per layer, the attention's correlation, the knock-outs.
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("report", help="one PDF and HTML to hand out: models, before/after, "
                                                  "attention per stage, examples",
                                   description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_models_arguments(parser, nargs=2, metavar=("BEFORE", "AFTER"),
                         models_help="the two models, each CONFIG.yaml:WEIGHTS.pth or a named model "
                                     f"(default: {' '.join(DEFAULT_MODELS)})",
                         labels_help="a name per model")
    add_set_arguments(parser)
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for report.pdf and report.html")
    parser.add_argument("--limit", type=positive_int, metavar="N",
                        help="evaluate and measure a sample of N images (a quick version): as many with cracks "
                             "as without, spread evenly over the set")
    parser.add_argument("--examples", nargs="+", metavar="IMAGE",
                        help="the example images to show (default: images with cracks of the demo gallery, "
                             "or of --json)")
    parser.add_argument("--example-count", type=positive_int, default=3, metavar="N",
                        help="how many example images to pick when --examples is not given (default 3)")
    parser.add_argument("--evaluation", metavar="JSON", help="an evaluation.json written by `evaluate`, used as is")
    parser.add_argument("--attention", metavar="JSON",
                        help="an attention_report.json written by `attention-report`, used as is")
    parser.add_argument("--dissection", metavar="JSON",
                        help="a dissection.json written by `dissect`: adds its pages (crack units per layer, the "
                             "attention's correlation, the knock-outs)")
    parser.add_argument("--threshold", type=unit_float, default=0.5,
                        help="detection score from which an image counts as 'crack' (default 0.5)")
    parser.add_argument("--resamples", type=positive_int, default=1000,
                        help="bootstrap resamples of the attention intervals (default 1000)")
    add_device_argument(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    if problem := set_arguments_problem(args):
        return fail(problem)
    for option, path in (("--evaluation", args.evaluation), ("--attention", args.attention),
                         ("--dissection", args.dissection),
                         *(("--examples", p) for p in args.examples or ())):
        if path and not Path(path).is_file():
            return fail(f"{option}: file not found: {path}")
    try:
        specs = resolve_specs(args)
    except ValueError as e:
        return fail(str(e))
    examples_json = None
    if use_demo_set_unless_given(args) and not args.examples:
        from demo.dataset import SAMPLES_DIR

        examples_json = SAMPLES_DIR / "annotations.json"

    from tqdm import tqdm

    from evaluation.handout import HandoutRequest, build_report

    bar = tqdm(total=100, unit="%", bar_format="{percentage:3.0f}% |{bar:30}| {desc} [{elapsed}]")

    def progress(fraction: float, text: str) -> None:
        bar.set_description_str(text, refresh=False)
        bar.update(round(100 * fraction) - bar.n)

    request = HandoutRequest(Path(args.json), Path(args.images), Path(args.out), limit=args.limit,
                             examples=tuple(map(Path, args.examples)) if args.examples else None,
                             example_count=args.example_count, examples_json=examples_json,
                             evaluation_json=args.evaluation, attention_json=args.attention,
                             dissection_json=args.dissection, threshold=args.threshold,
                             resamples=args.resamples)
    status, report = run_measure(specs, lambda models: build_report(models, request, progress),
                                 nothing="no report was written")
    bar.close()
    if report is None:
        return status
    took = ", ".join(f"{name} {s:.1f} s" for name, s in report.seconds.items())
    print(f"Report: {report.pdf} ({report.pages} pages), {report.html}. Took {sum(report.seconds.values()):.0f} s "
          f"({took}).")
    if report.evaluation.paired:
        from evaluation.significance import paired_summary

        print(paired_summary(report.evaluation.paired))  # by today's rule, also for a reused evaluation
    return EXIT_OK
