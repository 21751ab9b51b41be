"""The demo dataset: the synthetic crack splits the shipped models were trained and tested on.

It is not stored in git: every image is a deterministic function of (seed, split, index), so
`demo_split("test")` regenerates exactly the held-out test split (130 images, a few seconds)
into demo/data/ the first time it is asked for.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from demo.generator import generate_dataset

DEMO_SEED = 0
DEMO_SIZE = (320, 320)
DEMO_COUNTS = {"train": 800, "val": 100, "test": 130}  # the test split has the size of the seed's
DATA_DIR = Path(__file__).resolve().parent / "data"
SAMPLES_DIR = Path(__file__).resolve().parent / "samples"


def demo_split(split: str = "test", root: str | Path = DATA_DIR, progress=None) -> tuple[Path, Path]:
    """(annotations.json, image folder) of a demo split, generated on first use.

    Safe when two processes or threads ask at once: each generates into its own temporary folder
    and the first to finish is renamed into place (atomic); the other keeps the first's, so a split
    in use is never removed or half-written.

    Args:
        split: "train", "val" or "test"; root: where the splits go; progress: (done, total) per image.

    Returns:
        The split's annotation file and image folder.
    """
    if split not in DEMO_COUNTS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(DEMO_COUNTS)}")
    root = Path(root)
    json_path, image_dir = root / split / "annotations.json", root / split / "images"
    if not json_path.is_file():
        counts = {f"n_{name}": (n if name == split else 0) for name, n in DEMO_COUNTS.items()}
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=root, prefix=f".{split}-") as tmp:
            generate_dataset(tmp, seed=DEMO_SEED, size=DEMO_SIZE, progress=progress, **counts)
            if (root / split).exists() and not json_path.is_file():  # left half-written by an older version
                shutil.rmtree(root / split, ignore_errors=True)
            try:
                os.rename(Path(tmp) / split, root / split)  # complete splits only, never half-written
            except OSError:
                if not json_path.is_file():
                    raise  # not another session's finished split: a real failure
    return json_path, image_dir
