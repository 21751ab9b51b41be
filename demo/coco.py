"""COCO instance-segmentation records (RLE masks) for the crack dataset."""

import json
from pathlib import Path

import numpy as np
from pycocotools import mask as mask_utils

CATEGORIES = [{"id": 1, "name": "crack", "supercategory": "defect"}]


def encode_mask(mask: np.ndarray) -> dict:
    """COCO RLE of a bool HxW mask, with `counts` as str so it is JSON-serialisable."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def mask_bbox(mask: np.ndarray) -> list[float]:
    """Tight [x, y, width, height] of the True pixels (COCO convention)."""
    ys, xs = np.nonzero(mask)
    x0, y0 = int(xs.min()), int(ys.min())
    return [float(x0), float(y0), float(xs.max() - x0 + 1), float(ys.max() - y0 + 1)]


def annotation_entry(ann_id: int, image_id: int, mask: np.ndarray) -> dict:
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": 1,
        "segmentation": encode_mask(mask),
        "area": float(mask.sum()),
        "bbox": mask_bbox(mask),
        "iscrowd": 0,
    }


def image_entry(
    image_id: int, file_name: str, shape: tuple[int, int], surface: str, distractors: list[str]
) -> dict:
    return {
        "id": image_id,
        "file_name": file_name,
        "height": shape[0],
        "width": shape[1],
        "surface": surface,
        "distractors": distractors,
    }


def write_coco(path: Path, images: list[dict], annotations: list[dict], info: dict) -> None:
    data = {
        "info": info,
        "licenses": [],
        "categories": CATEGORIES,
        "images": images,
        "annotations": annotations,
    }
    path.write_text(json.dumps(data))
