"""What the subcommands share: printing user-fixable problems without a traceback."""

from __future__ import annotations

import argparse
import sys

EXIT_OK, EXIT_USAGE, EXIT_INTERRUPTED = 0, 2, 130


def add_device_argument(parser) -> None:
    """--device: the one device rule of models.device (default auto: CUDA when there, else CPU)."""
    parser.add_argument("--device", default="auto", metavar="DEVICE",
                        help="auto (default: CUDA when this machine has it, else the CPU), cpu, cuda or cuda:N")


def add_cpu_arguments(parser, threads_note: str = "") -> None:
    """--threads (torch's CPU threads) and --workers (image-decoding processes, evaluation.loader)."""
    parser.add_argument("--threads", type=positive_int, metavar="N",
                        help="CPU threads for torch (default: one per core)" + threads_note)
    parser.add_argument("--workers", type=non_negative_int, metavar="N",
                        help="processes that decode and resize the images while the models run, as detectron2's "
                             "test loader (default: the config's DATALOADER.NUM_WORKERS, at most one per core; "
                             "0: none, the images are read between the models' runs)")


def add_set_arguments(parser, annotations: str = "COCO annotations") -> None:
    """--json and --images: a labelled COCO set; neither, the demo's test split (`use_demo_set_unless_given`)."""
    parser.add_argument("--json", metavar="JSON", help=f"{annotations} (default: the demo's held-out test split, "
                                                       "regenerated into demo/data/ on first use)")
    parser.add_argument("--images", metavar="DIR", help="folder of its images (give it with --json)")


def set_arguments_problem(args) -> str | None:
    """The sentence for --json without --images or the reverse; None when both or neither are given."""
    if (args.json is None) != (args.images is None):
        return "give both --json and --images, or neither (the demo test split)."
    return None


def use_demo_set_unless_given(args) -> bool:
    """Without --json / --images, points them at the demo's held-out test split (regenerated into
    demo/data/ on first use). True when it did."""
    if args.json is not None:
        return False
    from demo.dataset import demo_split

    args.json, args.images = demo_split("test")
    return True


def set_threads(args) -> None:
    """Applies --threads, in the process that runs the models."""
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)


def add_launch_arguments(parser) -> None:
    """detectron2's launcher options (tools/train_net.py), run by training.launch."""
    group = parser.add_argument_group(
        "several processes (GPUs or machines)",
        "As detectron2's tools/train_net.py. One machine with 8 GPUs: --num-gpus 8. Two machines: on "
        "each, --num-machines 2 --machine-rank 0 (resp. 1) --dist-url tcp://IP-OF-MACHINE-0:PORT.")
    group.add_argument("--num-gpus", "--num-processes", dest="num_processes", type=positive_int, default=1,
                       metavar="N",
                       help="processes on this machine (default 1): one per GPU where the model runs on CUDA; "
                            "on a CPU (no GPU, or --device cpu), N CPU processes sharing the cores")
    group.add_argument("--num-machines", type=positive_int, default=1, metavar="M",
                       help="machines taking part (default 1)")
    group.add_argument("--machine-rank", type=non_negative_int, default=0, metavar="R",
                       help="this machine's rank, 0 to M-1 (default 0)")
    group.add_argument("--dist-url", default="auto", metavar="URL",
                       help="where the processes meet: tcp://HOST:PORT of machine 0 (needed with several "
                            "machines); default auto, a free port on this machine")


def launch_command(main_func, args, *func_args) -> int:
    """`main_func(args, *func_args) -> exit status` in the processes asked for by args (see
    add_launch_arguments), through training.launch; a LaunchError becomes a one-line error."""
    from training.launch import LaunchError, launch

    try:
        return launch(main_func, args.num_processes, num_machines=args.num_machines,
                      machine_rank=args.machine_rank, dist_url=args.dist_url, device=args.device,
                      args=(args, *func_args))
    except LaunchError as e:
        return fail(str(e))


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
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be at least {minimum} (got {value})")
    return value


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def unit_float(text: str) -> float:
    """A number from 0 to 1 (a score threshold), for argparse."""
    value = _number(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (got {value})")
    return value


def non_negative_float(text: str) -> float:
    """A number of 0 or more (e.g. a tolerance in pixels), for argparse."""
    value = _number(text)
    if not value >= 0.0:  # also refuses NaN
        raise argparse.ArgumentTypeError(f"must be 0 or more (got {text})")
    return value


def colormap_name(text: str) -> str:
    """A matplotlib colormap's name, for argparse (checked before any model loads)."""
    import matplotlib

    if text not in matplotlib.colormaps:
        raise argparse.ArgumentTypeError(f"{text!r} is not a matplotlib colormap (e.g. inferno, viridis, magma)")
    return text


def positive_int(text: str) -> int:
    return _int_at_least(text, 1)


def non_negative_int(text: str) -> int:
    return _int_at_least(text, 0)
