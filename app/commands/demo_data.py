"""`python -m app demo-data`: write the synthetic crack dataset (COCO format, three splits)."""

from __future__ import annotations

import argparse
from pathlib import Path

from tqdm import tqdm


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("demo-data", help="write a synthetic crack dataset (COCO instance segmentation)",
                              description="Write OUT/{train,val,test}/images/*.png and annotations.json.")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--n", type=int, nargs=3, default=(800, 100, 130), metavar=("TRAIN", "VAL", "TEST"),
                   help="images per split (default: 800 100 130)")
    p.add_argument("--seed", type=int, default=0, help="generator seed (default: 0)")
    p.add_argument("--size", type=int, nargs=2, default=(320, 320), metavar=("H", "W"), help="image size")
    return p


def run(args: argparse.Namespace) -> int:
    from demo.generator import generate_dataset

    n_train, n_val, n_test = args.n
    with tqdm(total=n_train + n_val + n_test, unit="img", desc="demo-data") as bar:
        summary = generate_dataset(args.out, n_train=n_train, n_val=n_val, n_test=n_test, seed=args.seed,
                                   size=tuple(args.size), progress=lambda done, _total: bar.update(done - bar.n))
    for split, info in summary.items():
        print(f"{split}: {info['images']} images, {info['annotations']} cracks, {info['negatives']} without "
              f"cracks -> {info['annotation_file']}")
    return 0
