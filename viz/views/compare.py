"""The with-vs-without view: signed differences of the two models' maps."""

from __future__ import annotations

from collections.abc import Mapping

import cv2
import numpy as np

from viz.analysis import ModelAnalysis
from viz.render import diverging, overlay
from viz.views import Panel, Scale


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


CONTRASTS = ("shared", "full ±1")


def difference_scale(limit: float, label: str) -> Scale:
    """The diverging scale ±limit of a signed map (red: stronger with attention)."""
    return Scale(-limit, limit, "RdBu_r", label)


def difference_panel(title: str, image: np.ndarray, diff: np.ndarray, scale: Scale, caption: str = "", *,
                     on_image: bool = False, alpha: float = 0.6) -> Panel:
    """A signed (H, W) map as a panel on its diverging `scale`."""
    picture = difference_picture(image, diff, on_image=on_image, alpha=alpha, limit=scale.vmax)
    return Panel(title, picture, caption, diff, scale)


def feature_difference_panels(with_att: ModelAnalysis, feature_diffs: Mapping[str, np.ndarray], image: np.ndarray,
                              *, on_image: bool = False, alpha: float = 0.6,
                              contrast: str = "shared") -> list[Panel]:
    """One panel per stage of (normalised activation with − without), in the order of
    `feature_diffs`, all on one scale: "shared" (±the largest difference of any stage) or
    "full ±1" (the full possible range). `values`: the difference at image size."""
    if contrast not in CONTRASTS:
        raise ValueError(f"unknown colour scale {contrast!r}; choose one of {', '.join(CONTRASTS)}")
    cap = with_att.capture
    if contrast == "shared":
        limit = max((difference_limit(d) for d in feature_diffs.values()), default=1.0)
        scale = difference_scale(limit, f"shared by every stage: ±{limit:.2f}")
    else:
        scale = difference_scale(1.0, "full range ±1")
    panels = []
    for stage, diff in feature_diffs.items():
        full = cap.to_image(diff, cap.strides[stage])
        panels.append(difference_panel(f"{stage}: with − without", image, full, scale,
                                       f"mean {float(diff.mean()):+.3f} · mean |Δ| {float(np.abs(diff).mean()):.3f}",
                                       on_image=on_image, alpha=alpha))
    return panels


def cam_difference_panel(image: np.ndarray, diff: np.ndarray) -> Panel:
    """The CAM with attention minus the CAM without (viz.compare.cam_difference) as a panel. Each
    CAM is scaled to its own peak by grad-cam, so the difference compares where each model looks
    relative to its own strongest evidence, not how strong that evidence is."""
    limit = difference_limit(diff)
    return difference_panel("with − without", image, diff,
                            difference_scale(limit, f"±{limit:.2f} (red: more weight with attention)"),
                            "each CAM relative to its own peak")
