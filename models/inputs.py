"""From an RGB image to what a detectron2 model takes, as detectron2's DefaultPredictor does it.

The image is resized with ResizeShortestEdge(INPUT.MIN_SIZE_TEST, INPUT.MAX_SIZE_TEST) and put in
the channel order of INPUT.FORMAT. The model pads it further (to the FPN's size divisibility);
`valid_size` tells how much of a stride-s feature map is image rather than padding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from models import detectron2_compat  # noqa: F401  (must precede detectron2)

from detectron2.config import CfgNode
from detectron2.data import transforms as T


@dataclass(frozen=True)
class ModelInput:
    image: torch.Tensor  # (3, h, w) float32, resized, in the model's channel order
    height: int  # the original image's size: predictions come back at this size
    width: int

    @property
    def input_size(self) -> tuple[int, int]:
        return int(self.image.shape[1]), int(self.image.shape[2])

    def batch(self) -> list[dict]:
        return [{"image": self.image, "height": self.height, "width": self.width}]

    def valid_size(self, stride: int) -> tuple[int, int]:
        """(rows, cols) of a stride-`stride` feature map that cover the image, not the padding."""
        h, w = self.input_size
        return math.ceil(h / stride), math.ceil(w / stride)

    def to_input_coords(self, boxes: np.ndarray) -> np.ndarray:
        """XYXY boxes from original-image pixels to the resized input's pixels."""
        h, w = self.input_size
        return np.asarray(boxes, dtype=np.float32) * np.array([w / self.width, h / self.height] * 2, dtype=np.float32)


def input_size_for(height: int, width: int, cfg: CfgNode) -> tuple[int, int]:
    """(h, w) at which the model of `cfg` sees an image of height x width (its test resize)."""
    h, w = T.ResizeShortestEdge.get_output_shape(height, width, cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MAX_SIZE_TEST)
    return int(h), int(w)


SHRINK_NOTED = 2.0  # a model that sees the image this many times smaller (per side) is worth a note


def shrink_note(height: int, width: int, cfg: CfgNode, label: str) -> str | None:
    """A sentence where the model of `cfg` sees an image of height x width much smaller (its
    INPUT.MIN_SIZE_TEST): details a few pixels wide, such as thin cracks in a photo, may not
    survive the resize.

    Args:
        height, width: the image as analysed; cfg: the model's config; label: its name.

    Returns:
        The sentence (no final stop), or None where the model sees it less than SHRINK_NOTED
        times smaller.
    """
    seen_h, seen_w = input_size_for(height, width, cfg)
    factor = width / seen_w
    if factor < SHRINK_NOTED:
        return None
    return (f"{label} sees it at {seen_w} × {seen_h} pixels ({factor:.1f}x smaller, its INPUT.MIN_SIZE_TEST "
            f"{cfg.INPUT.MIN_SIZE_TEST}): cracks thinner than {factor:.0f} pixels may not survive the resize")


def prepare_input(image_rgb: np.ndarray, cfg: CfgNode) -> ModelInput:
    """`image_rgb`: (H, W, 3) uint8."""
    if image_rgb.ndim != 3 or image_rgb.shape[2] != 3 or image_rgb.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {image_rgb.shape} {image_rgb.dtype}")
    image = image_rgb[:, :, ::-1] if cfg.INPUT.FORMAT == "BGR" else image_rgb
    resize = T.ResizeShortestEdge([cfg.INPUT.MIN_SIZE_TEST] * 2, cfg.INPUT.MAX_SIZE_TEST)
    resized = resize.get_transform(image).apply_image(image)
    tensor = torch.as_tensor(np.ascontiguousarray(resized.transpose(2, 0, 1)), dtype=torch.float32)
    return ModelInput(image=tensor, height=image_rgb.shape[0], width=image_rgb.shape[1])
