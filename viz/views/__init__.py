"""What each view of the app shows, built from analyses: panels (titled RGB pictures with their
numbers), tables as rows, all plain numpy (no Streamlit). One module per view; the pages show
these panels, and viz/figures.py arranges the very same panels into PNG / PDF figures (one
rendering path, as detectron2's single Visualizer).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from viz.render import colorize, normalize, overlay


@dataclass(frozen=True)
class Panel:
    """One picture of a view: a title, an (H, W, 3) uint8 image and a caption with its numbers.
    `values`: the (H, W) map the picture shows, at its true values, for a figure's colour bar."""

    title: str
    image: np.ndarray
    caption: str = ""
    values: np.ndarray | None = None


def map_picture(values: np.ndarray, image: np.ndarray, *, on_image: bool, alpha: float, cmap: str) -> np.ndarray:
    """An (H, W) map at the image's size, stretched to its own range, coloured: (H, W, 3) uint8,
    over the image or alone."""
    values = normalize(values)
    return overlay(image, values, alpha=alpha, cmap=cmap) if on_image else colorize(values, cmap)


def value_range(values: np.ndarray) -> str:
    """'min – max' of a map, for captions."""
    return f"{float(values.min()):.3f} – {float(values.max()):.3f}"
