"""What each view of the app shows, built from analyses: panels (titled RGB pictures with their
numbers and colour scale), tables as rows, all plain numpy (no Streamlit). One module per view;
the pages show these panels, and viz/figures.py arranges the very same panels into PNG / PDF
figures (one rendering path, as detectron2's single Visualizer).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from viz.render import colorbar, colorize, overlay

ABSOLUTE = "absolute [0, 1]"
STRETCHED = "stretched to this map's min–max"


@dataclass(frozen=True)
class Scale:
    """How a map's true values become colours: `vmin`..`vmax` through `cmap`, clipped; `label`
    says which range it is (ABSOLUTE, STRETCHED, a shared ±limit...), for the colour bar."""

    vmin: float
    vmax: float
    cmap: str
    label: str

    def to_unit(self, values: np.ndarray) -> np.ndarray:
        """The values mapped to [0, 1] on this scale (a flat scale gives zeros)."""
        span = self.vmax - self.vmin
        values = np.asarray(values, np.float32)
        return np.zeros_like(values) if span < 1e-12 else np.clip((values - self.vmin) / span, 0.0, 1.0)


def absolute_scale(cmap: str, vmin: float = 0.0, vmax: float = 1.0, label: str = ABSOLUTE) -> Scale:
    """A fixed range, the same for every map drawn on it (attention and CAMs: [0, 1])."""
    return Scale(float(vmin), float(vmax), cmap, label)


def stretched_scale(values: np.ndarray, cmap: str, *, high_pct: float = 100.0, label: str = STRETCHED) -> Scale:
    """The map's own range: min to max (or to the `high_pct` percentile, against a few hot pixels)."""
    values = np.asarray(values, np.float32)
    if not values.size:
        return Scale(0.0, 0.0, cmap, label)
    top = float(values.max()) if high_pct >= 100 else float(np.percentile(values, high_pct))
    return Scale(float(values.min()), top, cmap, label)


@dataclass(frozen=True)
class Panel:
    """One picture of a view: a title, an (H, W, 3) uint8 image and a caption with its numbers.
    `values`: the (H, W) map the picture shows, at its true values; `scale`: how those values
    were coloured (for the colour bar under the picture, on the page and in figures)."""

    title: str
    image: np.ndarray
    caption: str = ""
    values: np.ndarray | None = None
    scale: Scale | None = None


def map_picture(values: np.ndarray, image: np.ndarray, scale: Scale, *, on_image: bool, alpha: float) -> np.ndarray:
    """An (H, W) map at the image's size coloured on `scale`: (H, W, 3) uint8, over the image or alone."""
    unit = scale.to_unit(values)
    return overlay(image, unit, alpha=alpha, cmap=scale.cmap) if on_image else colorize(unit, scale.cmap)


def with_colorbar(panel: Panel) -> np.ndarray:
    """The panel's picture with its colour bar (and the scale's name) underneath, as one
    (H + h, W, 3) uint8 picture to save: an export carries its scale."""
    if panel.scale is None:
        return panel.image
    bar = colorbar(panel.scale.vmin, panel.scale.vmax, panel.scale.cmap, label=panel.scale.label,
                   width=panel.image.shape[1])
    return np.vstack([panel.image, bar])


def value_range(values: np.ndarray) -> str:
    """'min – max' of a map, for captions."""
    return f"{float(values.min()):.3f} – {float(values.max()):.3f}"


def clip_note(values: np.ndarray, scale: Scale) -> str:
    """What a caption adds when its colour bar stops below the map's maximum (a percentile scale):
    the caption's range and the bar then tell the same story."""
    top = float(np.max(values)) if np.size(values) else 0.0
    if scale.vmax >= top - 1e-6:
        return ""
    return f"; the colours stop at {scale.vmax:.3f} (99.5th percentile): values above it take the top colour"
