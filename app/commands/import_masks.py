"""`python -m app import-masks`: binary crack masks (image files or CrackForest's .mat) to a COCO
instances dataset the other commands and the app read."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.commands._common import EXIT_OK, fail, fail_with_problems, non_negative_int, positive_int

DESCRIPTION = """\
Pair each image of --images with its mask in --masks (same file stem, optionally with a suffix such
as _mask or _gt; masks as PNG, BMP, TIFF, JPEG: crack = a value above half the range; or
CrackForest's groundTruth/NNN.mat), turn each mask into instances (8-connected components after
a closing, small ones dropped) and write OUT/annotations.json (COCO instances, RLE masks) and
OUT/images/, or with --split one such folder per split. Every problem (an image without a mask,
a mask without an image, sizes that differ, an unreadable file) is listed and nothing is written.

Examples:
  python -m app import-masks --images crackforest/image --masks crackforest/groundTruth \\
      --out data/crackforest --split train=001-064 val=065-072 test=073-118
  python -m app import-masks --images photos --masks labels --out data/mine --split train=0.8 test=0.2
  python -m app import-masks --images crackforest/image --masks crackforest/groundTruth \\
      --out data/cf_tiles --split test=073-118 --tile 160
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("import-masks", help="binary crack masks to a COCO instances dataset",
                              description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=Path, required=True, metavar="DIR", help="folder of the photos")
    p.add_argument("--masks", type=Path, required=True, metavar="DIR", help="folder of their masks")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder (new or empty)")
    p.add_argument("--split", nargs="+", default=[], metavar="NAME=SPEC",
                   help="splits, each a fraction (train=0.8 test=0.2, drawn with --seed) or a list / range of "
                        "file stems (train=001-072 test=073-118,120); default: one dataset in OUT")
    p.add_argument("--seed", type=non_negative_int, default=0, help="seed of a split by fractions (default 0)")
    p.add_argument("--close", type=non_negative_int, default=5, metavar="PX",
                   help="side of the square closing that joins touching fragments into one crack (default 5; 0: none)")
    p.add_argument("--min-area", type=positive_int, default=30, metavar="PX",
                   help="instances with fewer pixels are dropped (default 30)")
    p.add_argument("--category", default="crack", help="the category's name (default crack)")
    p.add_argument("--mask-suffix", metavar="SUFFIX",
                   help="the suffix of the masks' stems (default: none or one of _mask, _gt, _label, ...)")
    p.add_argument("--tile", type=positive_int, metavar="PX",
                   help="cut the photos into PX x PX tiles at native scale, keeping clearly positive and clearly "
                        "negative ones, as many of each (an image-level crack / no-crack test set)")
    p.add_argument("--tile-min-crack", type=positive_int, default=40, metavar="PX",
                   help="a positive tile holds at least this many crack pixels (default 40)")
    p.add_argument("--tile-margin", type=non_negative_int, default=12, metavar="PX",
                   help="a negative tile has no crack pixel within this distance (default 12)")
    p.add_argument("--skip-problems", action="store_true",
                   help="write the pairs that are fine and list the others, instead of writing nothing")
    return p


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from training.import_masks import (
        ImportProblemsError,
        InstanceRule,
        TileRule,
        import_masks,
        parse_split,
        stem_ranges,
    )

    try:
        splits = [parse_split(text) for text in args.split]
    except ValueError as e:
        return fail(str(e))
    tiles = TileRule(args.tile, args.tile_min_crack, args.tile_margin) if args.tile else None
    with tqdm(unit="img", desc="import-masks") as bar:
        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        try:
            summary = import_masks(args.images, args.masks, args.out, rule=InstanceRule(args.close, args.min_area),
                                   splits=splits, seed=args.seed, category=args.category,
                                   mask_suffix=args.mask_suffix, tiles=tiles, skip_problems=args.skip_problems,
                                   progress=progress)
        except ImportProblemsError as e:
            return fail_with_problems(e.problems, "nothing was written")
    for s in summary.splits:
        label = f"{s.name}: " if s.name else ""
        print(f"{label}{s.images} images, {s.instances} instances, {s.negatives} without any -> "
              f"{s.folder / 'annotations.json'}")
    if summary.left_out:
        print(f"in no split (left out), {len(summary.left_out)}: {stem_ranges(summary.left_out)}")
    if summary.ignored:
        print(f"ignored ({len(summary.ignored)}): " + "; ".join(summary.ignored))
    return EXIT_OK
