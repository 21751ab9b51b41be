"""Compose synthetic crack images and write them as COCO instance-segmentation splits."""

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from demo.camera import capture
from demo.coco import annotation_entry, image_entry, write_coco
from demo.cracks import make_crack
from demo.distractors import DISTRACTORS, UNDER_CRACKS
from demo.surfaces import SURFACES

SPLITS = ("train", "val", "test")
# Plastic (the toothbrush-handle case) is the focus; the others add variety.
SURFACE_WEIGHTS = {"plastic": 0.4, "concrete": 0.2, "painted_metal": 0.2, "ceramic": 0.2}
# P(0, 1, 2, 3 distractors): negatives get more, since they are the hard case.
DISTRACTOR_COUNTS_NEGATIVE = (0.15, 0.4, 0.3, 0.15)
DISTRACTOR_COUNTS_POSITIVE = (0.35, 0.35, 0.2, 0.1)
CRACK_TRIES = 5


@dataclass
class Sample:
    image: np.ndarray                     # HxWx3 uint8 RGB
    masks: list[np.ndarray]               # one HxW bool mask per crack; [] for negatives
    surface: str
    distractors: list[str] = field(default_factory=list)


def sample_seed(seed: int, split: str, index: int) -> np.random.SeedSequence:
    """Seed of image `index` of `split`: child `index` of the split's child of `seed`.

    Equivalent to SeedSequence(seed).spawn(3)[split].spawn(...)[index], but
    independent of how many images any split has.
    """
    return np.random.SeedSequence(seed, spawn_key=(SPLITS.index(split), index))


def _crack_count(rng: np.random.Generator, max_cracks: int) -> int:
    weights = 0.5 ** np.arange(1, max_cracks + 1)  # 1 crack is the most common
    return int(rng.choice(np.arange(1, max_cracks + 1), p=weights / weights.sum()))


def make_sample(
    rng: np.random.Generator,
    *,
    size: tuple[int, int] = (320, 320),
    p_negative: float = 0.35,
    max_cracks: int = 3,
) -> Sample:
    """One image of `size` (height, width) with 0..max_cracks labelled cracks."""
    surface = str(rng.choice(list(SURFACE_WEIGHTS), p=list(SURFACE_WEIGHTS.values())))
    scene = SURFACES[surface](rng, size).astype(np.float32) / 255
    base = np.array(cv2.mean(scene)[:3], np.float32)  # mean colour, for tinted distractors
    negative = max_cracks < 1 or rng.random() < p_negative
    n_cracks = 0 if negative else _crack_count(rng, max_cracks)
    counts = DISTRACTOR_COUNTS_NEGATIVE if negative else DISTRACTOR_COUNTS_POSITIVE
    names = [str(n) for n in rng.choice(list(DISTRACTORS), size=rng.choice(4, p=counts))]
    overlays = {name: [] for name in ("under", "over")}
    for name in names:
        layer = "under" if name in UNDER_CRACKS else "over"
        overlays[layer] += DISTRACTORS[name](rng, size, base)

    for overlay in overlays["under"]:
        scene = overlay.apply(scene)
    masks = []
    for _ in range(n_cracks):
        for _ in range(CRACK_TRIES):
            crack = make_crack(rng, size)
            if crack is not None:
                scene = scene * (1 - crack.shade[..., None])
                masks.append(crack.mask)
                break
    for overlay in overlays["over"]:
        scene = overlay.apply(scene)
    return Sample(capture(rng, scene), masks, surface, names)


def generate_dataset(
    out_dir: str | Path,
    *,
    n_train: int,
    n_val: int,
    n_test: int,
    seed: int = 0,
    size: tuple[int, int] = (320, 320),
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Write out_dir/{train,val,test}/images/*.png and annotations.json (COCO).

    Returns {split: {"images", "annotations", "negatives", "annotation_file"}}.
    """
    out_dir = Path(out_dir)
    counts = dict(zip(SPLITS, (n_train, n_val, n_test)))
    total, done = sum(counts.values()), 0
    summary = {}
    for split, n in counts.items():
        image_dir = out_dir / split / "images"
        image_dir.mkdir(parents=True, exist_ok=True)
        images, annotations = [], []
        for i in range(n):
            sample = make_sample(np.random.default_rng(sample_seed(seed, split, i)), size=size)
            file_name = f"{i:06d}.png"
            cv2.imwrite(str(image_dir / file_name), cv2.cvtColor(sample.image, cv2.COLOR_RGB2BGR))
            images.append(image_entry(i + 1, file_name, size, sample.surface, sample.distractors))
            for mask in sample.masks:
                annotations.append(annotation_entry(len(annotations) + 1, i + 1, mask))
            done += 1
            if progress is not None:
                progress(done, total)
        ann_file = out_dir / split / "annotations.json"
        info = {"description": "synthetic cracks", "split": split, "seed": seed, "size": list(size)}
        write_coco(ann_file, images, annotations, info)
        summary[split] = {
            "images": n,
            "annotations": len(annotations),
            "negatives": n - len({a["image_id"] for a in annotations}),
            "annotation_file": str(ann_file),
        }
    return summary
