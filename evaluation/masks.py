"""The ground truth the measures compare maps with: each image's annotation masks from a COCO
file (the union of them is "the crack"), and their outline drawn on a picture."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from pycocotools.coco import COCO

OUTLINE_COLOUR = (0, 255, 0)  # green: the annotated crack


class AnnotationMasks:
    """The image entries of a COCO file (or those of `image_ids`; at most `limit`), in file order,
    and each one's annotation masks, decoded on demand: a large set does not sit in memory."""

    def __init__(self, json_path: str | Path, image_ids: Sequence[int] | None = None, limit: int | None = None):
        with contextlib.redirect_stdout(io.StringIO()):  # pycocotools announces what it loads
            self._coco = COCO(str(json_path))
        self.entries = [self._coco.imgs[i] for i in self._coco.getImgIds(imgIds=image_ids or [])[:limit]]

    def annotated(self, entry: dict) -> bool:
        """Whether the image has at least one annotation."""
        return bool(self._coco.getAnnIds(imgIds=[entry["id"]]))

    def crack_of(self, file_name: str) -> np.ndarray | None:
        """The crack of the image the file lists as `file_name`, (H, W) bool; None where it lists
        no such image."""
        entry = next((im for im in self._coco.imgs.values() if im["file_name"] == file_name), None)
        return None if entry is None else union(self.masks(entry), entry)

    def masks(self, entry: dict) -> list[np.ndarray]:
        """One (H, W) bool mask per annotation of the image."""
        return [self._coco.annToMask(ann).astype(bool) for ann in self._coco.loadAnns(self._coco.getAnnIds(
            imgIds=[entry["id"]]))]


def union(masks: list[np.ndarray], entry: dict) -> np.ndarray:
    """The union of an image's masks, (H, W) bool: its crack (all False without annotations)."""
    return np.logical_or.reduce(masks) if masks else np.zeros((entry["height"], entry["width"]), bool)


def crack_masks(json_path: str | Path, image_ids: Sequence[int] | None = None) -> list[tuple[dict, np.ndarray]]:
    """Each image's crack.

    Args:
        json_path: a COCO file.
        image_ids: only these images (None: all).

    Returns:
        (image entry, union of its annotation masks as (H, W) bool) per image, in file order.
    """
    found = AnnotationMasks(json_path, image_ids)
    return [(entry, union(found.masks(entry), entry)) for entry in found.entries]


def outlined(picture: np.ndarray, mask: np.ndarray | None, *, thickness: int | None = None) -> np.ndarray:
    """A copy of an (H, W, 3) uint8 picture with the mask's outline drawn in green.

    Args:
        picture: the picture (e.g. a map over the image).
        mask: (h, w) bool, resized to the picture where its size differs; None: the picture as is.
        thickness: the line's width in pixels (None: one per 320 pixels of the longer side, at least 1).

    Returns:
        The outlined picture.
    """
    if mask is None:
        return picture
    if mask.shape != picture.shape[:2]:
        mask = cv2.resize(mask.astype(np.uint8), picture.shape[1::-1], interpolation=cv2.INTER_NEAREST).astype(bool)
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    out = np.ascontiguousarray(picture).copy()
    width = thickness if thickness is not None else max(1, round(max(out.shape[:2]) / 320))
    cv2.drawContours(out, contours, -1, OUTLINE_COLOUR, width)
    return out
