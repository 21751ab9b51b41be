"""`python -m app demo-data`: write the synthetic crack dataset (COCO format, three or four splits)."""

from __future__ import annotations

import argparse
from pathlib import Path

from tqdm import tqdm

from app.commands._common import fail

RECIPE_HELP = ("v1 (default): the data of the shipped demo pair, 320x320 PNGs, splits train/val/test. "
               "v2: many more surface families, crack styles and distractors, photo effects, photo-sized JPEGs, "
               "and a fourth split, unseen, of surface families and crack styles that train/val/test never hold "
               "(demo/README.md, 'Recipe v2')")


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("demo-data", help="write a synthetic crack dataset (COCO instance segmentation)",
                              description="Write OUT/{train,val,test}/images/* and annotations.json "
                                          "(recipe v2 also OUT/unseen/).")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--recipe", choices=("v1", "v2"), default="v1", help=RECIPE_HELP)
    p.add_argument("--n", type=int, nargs=3, default=(800, 100, 130), metavar=("TRAIN", "VAL", "TEST"),
                   help="images per split (default: 800 100 130)")
    p.add_argument("--n-unseen", type=int, default=None, metavar="N",
                   help="images in the unseen split (recipe v2 only; default 130)")
    p.add_argument("--seed", type=int, default=0, help="generator seed (default: 0)")
    p.add_argument("--size", type=int, nargs=2, default=None, metavar=("H", "W"),
                   help="image size (default: 320 320 for v1; v2 draws photo-like sizes, 512-1600 px long side)")
    return p


def run(args: argparse.Namespace) -> int:
    if min(args.n) < 0 or (args.n_unseen or 0) < 0:
        return fail("image counts must be 0 or more.")
    if args.size is not None and min(args.size) < 32:
        return fail(f"--size {args.size[0]} {args.size[1]} is too small; give at least 32 x 32 pixels.")
    if args.recipe == "v1" and args.n_unseen:
        return fail("recipe v1 has no unseen split; use --recipe v2 for one.")

    n_train, n_val, n_test = args.n
    n_unseen = (130 if args.n_unseen is None else args.n_unseen) if args.recipe == "v2" else 0
    with tqdm(total=n_train + n_val + n_test + n_unseen, unit="img", desc=f"demo-data {args.recipe}") as bar:
        progress = lambda done, _total: bar.update(done - bar.n)  # noqa: E731
        if args.recipe == "v1":
            from demo.generator import generate_dataset

            summary = generate_dataset(args.out, n_train=n_train, n_val=n_val, n_test=n_test, seed=args.seed,
                                       size=tuple(args.size or (320, 320)), progress=progress)
        else:
            from demo.v2.generator import generate_dataset

            summary = generate_dataset(args.out, n_train=n_train, n_val=n_val, n_test=n_test, n_unseen=n_unseen,
                                       seed=args.seed, size=tuple(args.size) if args.size else None,
                                       progress=progress)
    for split, info in summary.items():
        print(f"{split}: {info['images']} images, {info['annotations']} cracks, {info['negatives']} without "
              f"cracks -> {info['annotation_file']}")
    return 0
