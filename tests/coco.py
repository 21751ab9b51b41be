"""Fixtures for tests/training: a tiny COCO crack dataset drawn on the fly (dark lines, the
instances, on a noisy grey surface, plus negatives with no line), independent of demo/; and one
short training run shared by the tests that need a trained model."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
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


@pytest.fixture
def tiny_coco(tmp_path):
    """A fresh tiny dataset per test (tests may break it): (json_path, image_dir)."""
    return make_coco_dataset(tmp_path / "data")


@pytest.fixture(scope="session")
def shared_coco(tmp_path_factory):
    """One tiny dataset for the tests that only read it: (json_path, image_dir)."""
    return make_coco_dataset(tmp_path_factory.mktemp("coco"))


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, shared_coco):
    """The R-18 BAM config trained for 4 iterations with train(), then resumed to 6 through the
    `train` command (with a validation set). Records what each phase left behind."""
    from app.commands import train as train_command
    from training.train import train

    json_path, image_dir = shared_coco
    out = tmp_path_factory.mktemp("run")
    first = train(BAM_CONFIG, json_path, image_dir, out, iters=4, seed=0, opts=SMALL)
    phase1 = {"final": first, "metrics": _read_lines(out / "metrics.json"),
              "last_checkpoint": (out / "last_checkpoint").read_text().strip(),
              "files": sorted(p.name for p in out.iterdir())}
    args = argparse.Namespace(config=str(BAM_CONFIG), train_json=str(json_path), train_images=str(image_dir),
                              val_json=str(json_path), val_images=str(image_dir), out=str(out), iters=6,
                              resume=True, init_weights=None, seed=0, threads=None, opts=SMALL, device="auto",
                              augment="standard",
                              num_processes=1, num_machines=1, machine_rank=0, dist_url="auto")  # one process
    status = train_command.run(args)
    yield {"out": out, "phase1": phase1, "resume_status": status,
           "metrics": _read_lines(out / "metrics.json")}
    for checkpoint in out.glob("model_*.pth"):  # ~60 MB each; keep the temp folders small
        checkpoint.unlink()


def _read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="session")
def random_baseline(tmp_path_factory):
    """An untrained R-18 baseline saved as (config.yaml, weights.pth), at most 10 detections per image."""
    import torch

    out = tmp_path_factory.mktemp("baseline")
    cfg = models.get_config(BASELINE_CONFIG, SMALL + ["TEST.DETECTIONS_PER_IMAGE", "10"])
    torch.manual_seed(1)
    config = out / "config.yaml"
    config.write_text(cfg.dump())
    return config, models.save_weights(models.build_model(cfg), out / "weights.pth")

