"""The Grad-CAM view: a CAM over the image, with the explained box."""

from __future__ import annotations

import cv2
import numpy as np

from viz.render import overlay
from viz.views import Panel, Scale, absolute_scale


def cam_picture(image: np.ndarray, cam: np.ndarray, *, alpha: float = 0.5, cmap: str = "jet",
                box=None) -> np.ndarray:
    """The (H, W) CAM in [0, 1] over the (H, W, 3) image; with `box` (XYXY), the explained box
    outlined in white. (H, W, 3) uint8."""
    picture = overlay(image, cam, alpha=alpha, cmap=cmap)
    if box is not None:
        x0, y0, x1, y1 = (int(round(float(v))) for v in box)
        thickness = max(1, round(max(image.shape[:2]) / 300))
        cv2.rectangle(picture, (x0, y0), (x1, y1), (0, 0, 0), thickness + 2)
        cv2.rectangle(picture, (x0, y0), (x1, y1), (255, 255, 255), thickness)
    return picture


def cam_scale(cmap: str = "jet") -> Scale:
    """grad-cam min-max scales each CAM to [0, 1]: every CAM is drawn on that range, but 1 is each
    CAM's own peak, so levels do not compare across CAMs."""
    return absolute_scale(cmap, label="relative: each CAM scaled to [0, 1] by grad-cam (1: its own peak)")


def cam_panel(title: str, image: np.ndarray, cam: np.ndarray, caption: str = "", *, alpha: float = 0.5,
              cmap: str = "jet", box=None) -> Panel:
    """A CAM (H, W, in [0, 1]) over the image with its box, as a panel with its scale."""
    return Panel(title, cam_picture(image, cam, alpha=alpha, cmap=cmap, box=box), caption, cam, cam_scale(cmap))
