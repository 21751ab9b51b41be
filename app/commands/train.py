"""`python -m app train`: train a Mask R-CNN config (plain, BAM or CBAM) on a COCO dataset."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.commands._common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    add_device_argument,
    add_launch_arguments,
    fail,
    fail_with_problems,
    launch_command,
    non_negative_int,
    positive_int,
    set_threads,
)

DESCRIPTION = """\
Train a Mask R-CNN config on a COCO instance-segmentation dataset (images with no annotations
are kept as negatives). The data is checked first; every problem found is listed and nothing is
trained. OUT receives checkpoints, metrics.json, log.txt, config.yaml and model_final_fp16.pth
(the weights to load in the app or to evaluate). Train each variant (e.g. configs/
mask_rcnn_R_18_FPN.yaml and configs/mask_rcnn_R_18_FPN_bam.yaml) with the same --seed and
--iters for a fair comparison. With several processes (--num-gpus), SOLVER.IMS_PER_BATCH is
the batch of all processes together, as in detectron2: each process takes its share.
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "train", help="train a Mask R-CNN (with or without attention) on a COCO dataset",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, metavar="CONFIG.yaml",
                        help="detectron2 config, e.g. configs/mask_rcnn_R_18_FPN_bam.yaml")
    parser.add_argument("--train-json", required=True, action="append", metavar="JSON",
                        help="COCO annotations of the training set; give it again (with --train-images) to train "
                             "on several sets together, e.g. real photos and synthetic images")
    parser.add_argument("--train-images", required=True, action="append", metavar="DIR",
                        help="folder of the training images (one per --train-json, in the same order)")
    parser.add_argument("--repeat", type=positive_int, nargs="+", metavar="N",
                        help="with several training sets: how often each set's images enter one pass over the "
                             "data, one count per set (default 1 each), e.g. --repeat 8 1 for 64 photos beside "
                             "800 synthetic images. Give the same when resuming")
    parser.add_argument("--val-json", metavar="JSON",
                        help="COCO annotations of a validation set (evaluated at the end)")
    parser.add_argument("--val-images", metavar="DIR", help="folder of the validation images")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--iters", type=positive_int, metavar="N",
                        help="training iterations (default: the config's SOLVER.MAX_ITER; "
                             "the LR steps are scaled to match)")
    parser.add_argument("--resume", action="store_true",
                        help="continue from the last checkpoint in --out")
    parser.add_argument("--init-weights", metavar="PATH",
                        help="start from these weights (.pth, or a detectron2 model-zoo .pkl): tensors that "
                             "fit are loaded; those whose shapes differ (another model's class-specific heads) "
                             "are skipped and listed. Default: from scratch")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="random seed (default 0)")
    parser.add_argument("--augment", choices=("standard", "photo", "zoom"), default="standard",
                        help="augmentations (training.data.AUGMENTATIONS): standard (the config's resize and "
                             "horizontal flip; default), photo (also vertical flips, small rotations, zoom-in crops, "
                             "brightness, contrast and saturation) or zoom (photo with more and closer zoom-ins). "
                             "Give the same when resuming")
    parser.add_argument("--threads", type=positive_int, metavar="N",
                        help="CPU threads for torch (default: one per core). Two trainings side by side on "
                             "a 2-core machine: give each --threads 1")
    parser.add_argument("--opts", nargs="+", default=[], metavar="KEY VALUE",
                        help="detectron2 config overrides, e.g. --opts SOLVER.IMS_PER_BATCH 2 SOLVER.BASE_LR 0.005")
    add_device_argument(parser)
    add_launch_arguments(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    if (args.val_json is None) != (args.val_images is None):
        return fail("give both --val-json and --val-images, or neither.")
    if len(args.train_json) != len(args.train_images):
        return fail(f"give one --train-images per --train-json (got {len(args.train_json)} and "
                    f"{len(args.train_images)}).")
    if args.repeat is not None and len(args.repeat) != len(args.train_json):
        return fail(f"--repeat takes one count per training set ({len(args.train_json)}); got {len(args.repeat)}.")
    if len(args.opts) % 2:
        return fail(f"--opts takes KEY VALUE pairs; got an odd number of items: {' '.join(args.opts)}")
    status = launch_command(train_in_process, args)
    if status == EXIT_INTERRUPTED:
        print(f"\nInterrupted. To continue from the last checkpoint, run the same command with --resume "
              f"(checkpoints are in {args.out}).")
    return status


def train_in_process(args: argparse.Namespace) -> int:
    """The training, in each process of training.launch (the only one by default)."""
    import models
    from training.data import DataProblemsError
    from training.train import RunExistsError, train

    from detectron2.utils import comm

    set_threads(args)

    try:
        final = train(args.config, args.train_json, args.train_images, args.out,
                      val_json=args.val_json, val_images=args.val_images, iters=args.iters,
                      resume=args.resume, init_weights=args.init_weights, seed=args.seed,
                      opts=list(args.opts), device=args.device, augment=args.augment, repeat=args.repeat)
    except DataProblemsError as e:
        return fail_with_problems(e.problems, "nothing was trained")
    except (models.ModelLoadError, RunExistsError) as e:
        return fail(str(e))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED  # run() says how to continue
    if args.val_json:
        validate(args, Path(final))
    if not comm.is_main_process():  # the main process shows the results
        return EXIT_OK
    print(f"\nWeights: {final}\nConfig:  {Path(final).parent / 'config.yaml'}")
    if args.val_json:
        report = Path(args.out) / "validation" / "evaluation.md"
        print(f"\nValidation ({report}):\n")
        print(report.read_text())
    return EXIT_OK


def validate(args: argparse.Namespace, final: Path) -> None:
    """The final weights evaluated on the validation set, into OUT/validation (in every process,
    as evaluation.evaluate shares the images between them)."""
    import models
    from evaluation.evaluate import evaluate

    spec = models.ModelSpec(Path(args.config).stem, final.parent / "config.yaml", final, device=args.device)
    evaluate([models.load(spec)], args.val_json, args.val_images, Path(args.out) / "validation", progress=False)
