"""All benchmarks in one report: `python -m benchmarks [--output benchmarks/RESULTS.md]` (`make bench`)."""

from __future__ import annotations

import argparse
import datetime
import os
from pathlib import Path

from benchmarks import analysis, dataset, inference, startup
from benchmarks.common import machine


def load_average() -> str:
    """The machine's 1-minute load average: above the core count, other work competed for the CPU."""
    return f"{os.getloadavg()[0]:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", type=Path, help="also write the report to this Markdown file")
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--note", default="", help="a sentence on the conditions, e.g. what else ran")
    args = parser.parse_args()
    started, load_before = datetime.datetime.now(), load_average()
    sections = [inference.report(512, args.repetitions), analysis.report(512, args.repetitions, 1024),
                dataset.report(24, args.repetitions), startup.report(args.repetitions)]
    lines = ["# Benchmark results", "",
             "Written by `make bench` (`python -m benchmarks --output benchmarks/RESULTS.md`).",
             "", f"- {started:%Y-%m-%d %H:%M}, {machine()}",
             f"- load average (1 min) {load_before} at the start, {load_average()} at the end"]
    lines += [f"- {args.note}"] if args.note else []
    for section in sections:
        lines += ["", *section]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if args.output:
        args.output.write_text(text)


if __name__ == "__main__":
    main()
