"""Turning maps into pictures: numpy in, numpy (H, W, 3) uint8 RGB out. No figures, no UI."""

from __future__ import annotations

import cv2
import matplotlib
import numpy as np

from models import detectron2_compat  # noqa: F401  (must precede detectron2)
from detectron2.data import Metadata
from detectron2.structures import Instances
from detectron2.utils.visualizer import ColorMode, Visualizer

SEQUENTIAL_CMAPS = ("inferno", "viridis", "magma", "plasma", "jet", "gray")
DIVERGING_CMAP = "RdBu_r"


def normalize(values: np.ndarray, *, low_pct: float = 0.0, high_pct: float = 100.0) -> np.ndarray:
    """Scale to [0, 1] between two percentiles; a flat map becomes all zeros."""
    values = np.asarray(values, dtype=np.float32)
    lo, hi = np.percentile(values, [low_pct, high_pct]) if values.size else (0.0, 0.0)
    if hi - lo < 1e-12:
        return np.zeros_like(values)
    return np.clip((values - lo) / (hi - lo), 0.0, 1.0)


def colorize(map01: np.ndarray, cmap: str = "inferno") -> np.ndarray:
    """A [0, 1] map through a matplotlib colormap."""
    rgba = matplotlib.colormaps[cmap](np.clip(map01, 0.0, 1.0))
    return (rgba[..., :3] * 255).round().astype(np.uint8)


def resize_to(array: np.ndarray, height: int, width: int, *, nearest: bool = False) -> np.ndarray:
    interpolation = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    return cv2.resize(array, (width, height), interpolation=interpolation)


def overlay(image: np.ndarray, map01: np.ndarray, *, alpha: float = 0.5, cmap: str = "inferno") -> np.ndarray:
    """A heatmap over the image; the map is resized to the image if needed."""
    h, w = image.shape[:2]
    if map01.shape != (h, w):
        map01 = resize_to(map01.astype(np.float32), h, w)
    heat = colorize(map01, cmap).astype(np.float32)
    return ((1 - alpha) * image.astype(np.float32) + alpha * heat).round().astype(np.uint8)


def diverging(diff: np.ndarray, *, limit: float | None = None, cmap: str = DIVERGING_CMAP) -> np.ndarray:
    """A signed map on a diverging colormap, symmetric around zero (white = no difference)."""
    limit = limit if limit is not None else float(np.abs(diff).max(initial=0.0))
    scaled = 0.5 + 0.5 * np.asarray(diff, np.float32) / max(limit, 1e-12)
    return colorize(scaled, cmap)


def activation_energy(features: np.ndarray) -> np.ndarray:
    """Per-pixel summary of a (C, h, w) feature map: mean absolute activation, (h, w)."""
    return np.abs(features).mean(axis=0)


def top_channels(features: np.ndarray | None, k: int | None = None, *,
                 weights: np.ndarray | None = None) -> np.ndarray:
    """Indices of the k strongest channels (None: all), strongest first, ties in channel order:
    by the given (C,) per-channel `weights` (e.g. the channel attention), else by the mean
    absolute activation of the (C, h, w) `features`. The one channel ranking of the project."""
    score = np.asarray(weights if weights is not None else np.abs(features).mean(axis=(1, 2)))
    order = np.argsort(-score, kind="stable")
    return order if k is None else order[: min(k, len(score))]


def channel_grid(features: np.ndarray, channels: np.ndarray, *, cols: int = 4, cell: int = 96,
                 cmap: str = "viridis", gap: int = 2, labels: bool = False) -> np.ndarray:
    """The chosen channels side by side, each normalised on its own, as one RGB image.
    With `labels`, each tile carries its channel index in its top-left corner."""
    channels = list(channels)
    rows = max(1, -(-len(channels) // cols))
    h, w = features.shape[1:]
    cell_h, cell_w = (cell, max(1, round(cell * w / h))) if h >= w else (max(1, round(cell * h / w)), cell)
    grid = np.full((rows * (cell_h + gap) - gap, cols * (cell_w + gap) - gap, 3), 255, np.uint8)
    for i, c in enumerate(channels):
        r, q = divmod(i, cols)
        tile = colorize(normalize(resize_to(features[c], cell_h, cell_w, nearest=True)), cmap)
        if labels:
            _label_tile(tile, str(c))
        grid[r * (cell_h + gap): r * (cell_h + gap) + cell_h, q * (cell_w + gap): q * (cell_w + gap) + cell_w] = tile
    return grid


def _label_tile(tile: np.ndarray, text: str) -> None:
    """Write `text` into the tile's top-left corner, white on a dark outline, in place."""
    scale = max(0.3, min(tile.shape[:2]) / 260)
    thickness = max(1, round(scale * 1.5))
    (_, text_h), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    origin = (3, 3 + text_h)
    cv2.putText(tile, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness + 2, cv2.LINE_AA)
    cv2.putText(tile, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thickness, cv2.LINE_AA)


def draw_instances(image: np.ndarray, instances: Instances, class_names: list[str], *,
                   score_threshold: float = 0.5) -> np.ndarray:
    """Masks, boxes, classes and scores drawn by detectron2's Visualizer."""
    keep = instances[instances.scores >= score_threshold] if len(instances) else instances
    visualizer = Visualizer(image, Metadata(thing_classes=list(class_names)), instance_mode=ColorMode.IMAGE)
    return visualizer.draw_instance_predictions(keep).get_image()
