"""A tiny COCO crack dataset drawn on the fly (dark lines, the instances, on a noisy grey
surface, plus negatives with no line), independent of demo/, and the small test sizes of the R-18
configs. The fixtures built on it (tiny_coco, shared_coco, trained_run, random_baseline) are in
tests/conftest.py."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
from pycocotools import mask as mask_util

import models

SIZE = 128
# Shrink the R-18 configs for tests: 128 px inputs, 2 images per batch, checkpoints every 2 iterations.
SMALL = ["INPUT.MIN_SIZE_TRAIN", f"({SIZE},)", "INPUT.MAX_SIZE_TRAIN", str(SIZE),
         "INPUT.MIN_SIZE_TEST", str(SIZE), "INPUT.MAX_SIZE_TEST", str(SIZE),
         "SOLVER.IMS_PER_BATCH", "2", "SOLVER.CHECKPOINT_PERIOD", "2"]
BAM_CONFIG = models.CONFIG_DIR / "mask_rcnn_R_18_FPN_bam.yaml"
BASELINE_CONFIG = models.CONFIG_DIR / "mask_rcnn_R_18_FPN.yaml"


def rle(mask: np.ndarray) -> dict:
    encoded = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in encoded["size"]], "counts": encoded["counts"].decode("ascii")}


def make_coco_dataset(root: Path, *, n_positive: int = 4, n_negative: int = 2, size: int = SIZE,
                      seed: int = 0) -> tuple[Path, Path]:
    """root/images/img_XXX.png + root/annotations.json; returns (json_path, image_dir).

    Images 1..n_positive carry one or two lines each (RLE masks); the others are negatives."""
    image_dir = root / "images"
    image_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    images, annotations = [], []
    for i in range(n_positive + n_negative):
        image = rng.normal(150, 12, (size, size, 3)).clip(0, 255).astype(np.uint8)
        file_name = f"img_{i:03d}.png"
        images.append({"id": i + 1, "file_name": file_name, "width": size, "height": size})
        for _ in range(int(rng.integers(1, 3)) if i < n_positive else 0):
            mask = np.zeros((size, size), np.uint8)
            x0, y0 = (int(v) for v in rng.integers(8, size // 2, 2))
            x1, y1 = x0 + int(rng.integers(20, size // 2 - 8)), y0 + int(rng.integers(-8, size // 2 - 8))
            cv2.line(mask, (x0, y0), (x1, y1), 1, thickness=int(rng.integers(3, 6)))
            image[mask.astype(bool)] = int(rng.integers(20, 60))
            ys, xs = np.nonzero(mask)
            annotations.append({
                "id": len(annotations) + 1, "image_id": i + 1, "category_id": 1,
                "segmentation": rle(mask), "area": float(mask.sum()), "iscrowd": 0,
                "bbox": [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1),
                         float(ys.max() - ys.min() + 1)]})
        cv2.imwrite(str(image_dir / file_name), image)
    json_path = root / "annotations.json"
    json_path.write_text(json.dumps({"images": images, "annotations": annotations,
                                     "categories": [{"id": 1, "name": "crack"}]}))
    return json_path, image_dir
