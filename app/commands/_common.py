"""What the subcommands share: printing user-fixable problems without a traceback."""

from __future__ import annotations

import sys

EXIT_OK, EXIT_USAGE, EXIT_INTERRUPTED = 0, 2, 130


def add_device_argument(parser) -> None:
    """--device: the one device rule of models.device (default auto: CUDA when there, else CPU)."""
    parser.add_argument("--device", default="auto", metavar="DEVICE",
                        help="auto (default: CUDA when this machine has it, else the CPU), cpu, cuda or cuda:N")


def note(message: str) -> None:
    print(f"note: {message}", file=sys.stderr)


def fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_USAGE


def fail_with_problems(problems: list[str], what: str) -> int:
    count = len(problems)
    print(f"error: {count} problem{'s' if count != 1 else ''} in the data; {what}:", file=sys.stderr)
    for problem in problems:
        print(f"  - {problem}", file=sys.stderr)
    return EXIT_USAGE


def _int_at_least(text: str, minimum: int) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be at least {minimum} (got {value})")
    return value


def positive_int(text: str) -> int:
    return _int_at_least(text, 1)


def non_negative_int(text: str) -> int:
    return _int_at_least(text, 0)
