"""The with-vs-without view: signed differences of the two models' maps."""

from __future__ import annotations

from collections.abc import Mapping

import cv2
import numpy as np

from viz.analysis import ModelAnalysis
from viz.render import diverging, overlay
from viz.views import Panel


def difference_limit(diff: np.ndarray) -> float:
    """The colour scale of a signed map: its largest |value| (robustly: the 99.5th percentile)."""
    return max(float(np.percentile(np.abs(diff), 99.5)) if diff.size else 0.0, 1e-3)


def difference_picture(image: np.ndarray, diff: np.ndarray, *, on_image: bool, alpha: float,
                       limit: float = 1.0) -> np.ndarray:
    """A signed (h, w) map on a diverging scale ±limit, (H, W, 3) uint8: red where the model with
    attention is stronger, blue where weaker, white (or the image) where they agree."""
    scaled = np.clip(np.asarray(diff, np.float32) / limit, -1, 1)
    if on_image:
        h, w = image.shape[:2]
        if scaled.shape != (h, w):
            scaled = cv2.resize(scaled, (w, h), interpolation=cv2.INTER_LINEAR)
        return overlay(image, 0.5 + 0.5 * scaled, alpha=alpha, cmap="RdBu_r")
    return diverging(scaled, limit=1.0)


def feature_difference_panels(with_att: ModelAnalysis, feature_diffs: Mapping[str, np.ndarray], image: np.ndarray,
                              *, on_image: bool = False, alpha: float = 0.6,
                              contrast: str = "per stage") -> list[Panel]:
    """One panel per stage of (normalised activation with − without), in the order of
    `feature_diffs`. `contrast`: "per stage" (each scaled to its own largest difference) or
    "fixed" (±1, the full possible range). `values`: the difference at image size."""
    cap = with_att.capture
    panels = []
    for stage, diff in feature_diffs.items():
        full = cap.to_image(diff, cap.strides[stage])
        limit = difference_limit(diff) if contrast == "per stage" else 1.0
        panels.append(Panel(f"{stage}: with − without",
                            difference_picture(image, full, on_image=on_image, alpha=alpha, limit=limit),
                            f"scale ±{limit:.2f} · mean {float(diff.mean()):+.3f} · "
                            f"mean |Δ| {float(np.abs(diff).mean()):.3f}", full))
    return panels
