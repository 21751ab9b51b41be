"""`python -m app COMMAND ...`: the command-line front end. Each command lives in app/commands/
with `add_parser(subparsers)` and `run(args) -> exit status`."""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {"demo-data": "demo_data", "train": "train", "evaluate": "evaluate", "analyze": "analyze",
            "attention-report": "attention_report", "dissect": "dissect", "report": "report",
            "import-masks": "import_masks"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m app",
                                     description="Mask R-CNN with BAM: data, training, evaluation and analysis.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"app.commands.{module_name}")
        module.add_parser(subparsers)
        subparsers.choices[name].set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
