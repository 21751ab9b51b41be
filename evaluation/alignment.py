"""How well a map lines up with a ground-truth mask: numpy in, numbers out.

A "map" is any non-negative (H, W) array of where a model looks (a spatial attention map, the
activation energy of a feature map), at the size of its boolean (H, W) mask. Three measures:

- mass share and lift: the share of the map's total on mask pixels, and that share divided by
  the mask's share of the image (lift 1: no better than a uniform map);
- AUROC: the map's values as scores of a mask-pixel detector (0.5: chance; 1: every mask pixel
  above every other pixel; 0: the reverse);
- pointing game (Zhang et al., 2016): whether the map's maximum falls on the mask, within a
  tolerance in pixels. Where several pixels share the maximum, the share of them that hit (the
  expected hit with ties broken at random), so a uniform map scores the chance level.

And a seeded bootstrap confidence interval for the mean of per-image values (scipy's bootstrap),
and the names the reports give maps and measures.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from scipy.stats import bootstrap

from evaluation.results import Stat

MEASURES = ("mass_share", "lift", "auroc", "pointing")
STAGES = ("c2", "c3", "c4", "c5")  # the stage outputs whose feature energy is measured
MEASURE_NAMES = {"mass_share": "mass share on crack", "lift": "lift (mass share / area share)",
                 "auroc": "AUROC (crack pixels)", "pointing": "pointing game"}
# Measures of the CAM rows only: the grad-cam library's faithfulness metrics on the detection
# score (viz.gradcam.FAITHFULNESS) and the sanity check against randomized heads.
CAM_MEASURE_NAMES = {
    "road": "ROAD combined (higher: more faithful)",
    "confidence_change": "confidence change, image × CAM (higher: more faithful)",
    "drop_in_confidence": "drop in confidence, image × CAM (lower: more faithful)",
    "increase_in_confidence": "increase in confidence, image × CAM (share)",
    "sanity_pass": "sanity check passed (share)",
    "sanity_rho": "sanity check: Spearman ρ with randomized heads (lower: depends more on the heads)",
}
MEASURE_NAMES.update(CAM_MEASURE_NAMES)
ALL_MEASURES = (*MEASURES, *CAM_MEASURE_NAMES)


def map_name(source: str, stage: str) -> str:
    """The reports' name of a map: ("attention" | "feature" | a CAM method, "c3") -> "attention c3"."""
    return f"{source} {stage}"


def _check(values: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    values, mask = np.asarray(values, dtype=np.float64), np.asarray(mask, dtype=bool)
    if values.ndim != 2 or values.shape != mask.shape:
        raise ValueError(f"the map {values.shape} and the mask {mask.shape} must be (H, W) of one size")
    if not np.isfinite(values).all() or values.min() < 0:
        raise ValueError("the map must be finite and non-negative")
    return values, mask


def area_share(mask: np.ndarray) -> float:
    """The share of the image's pixels on the mask, in [0, 1]."""
    return float(np.asarray(mask, dtype=bool).mean())


def mass_share(values: np.ndarray, mask: np.ndarray) -> float:
    """sum(values on the mask) / sum(values); NaN for an all-zero map."""
    values, mask = _check(values, mask)
    total = values.sum()
    return float(values[mask].sum() / total) if total > 0 else math.nan


def lift(values: np.ndarray, mask: np.ndarray) -> float:
    """mass_share / area_share: 1 for a uniform map, 1 / area_share for the mask itself.
    NaN for an empty mask or an all-zero map."""
    share = area_share(mask)
    return mass_share(values, mask) / share if share > 0 else math.nan


def auroc(values: np.ndarray, mask: np.ndarray) -> float:
    """The area under the ROC curve of the map as a per-pixel mask detector; NaN when the mask is
    empty or covers the whole image (AUROC is then undefined).

    It is the Mann-Whitney U over the number of pairs: the share of (mask pixel, other pixel)
    pairs where the mask pixel's value is higher, ties counting one half, as in sklearn's
    roc_auc_score. Counted exactly by searching the mask's values in the sorted others, which is
    many times faster than roc_auc_score: a dataset report measures a dozen maps per image."""
    values, mask = _check(values, mask)
    if mask.all() or not mask.any():
        return math.nan
    inside, outside = values[mask], np.sort(values[~mask], axis=None)
    below = np.searchsorted(outside, inside, side="left")  # other pixels lower than each mask pixel
    tied = np.searchsorted(outside, inside, side="right") - below
    return float((below.sum() + 0.5 * tied.sum()) / (inside.size * outside.size))


def within(mask: np.ndarray, tolerance: float) -> np.ndarray:
    """The pixels at most `tolerance` pixels (Euclidean) from a mask pixel, (H, W) bool."""
    mask = np.asarray(mask, dtype=bool)
    if tolerance <= 0 or not mask.any():
        return mask
    distance = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return distance <= tolerance


def pointing_game(values: np.ndarray, mask: np.ndarray, *, tolerance: float = 0.0,
                  near: np.ndarray | None = None) -> float:
    """The pointing game of one map.

    Args:
        values, mask: the (H, W) map and mask.
        tolerance: a hit is within this many pixels of the mask.
        near: `within(mask, tolerance)` when already computed (one per mask, whatever the maps).

    Returns:
        1.0 when the map's maximum is a hit, 0.0 when not; where pixels tie for the maximum, the
        share of them that hit. NaN for an empty mask.
    """
    values, mask = _check(values, mask)
    if not mask.any():
        return math.nan
    peaks = values == values.max()
    return float((within(mask, tolerance) if near is None else near)[peaks].mean())


def alignment(values: np.ndarray, mask: np.ndarray, *, tolerance: float = 0.0,
              near: np.ndarray | None = None) -> dict[str, float]:
    """Every measure of one map.

    Args:
        values, mask: the (H, W) map and its (non-empty) mask.
        tolerance, near: the pointing game's (see `pointing_game`).

    Returns:
        {measure: value} for MEASURES (NaN where undefined).
    """
    share = area_share(mask)
    mass = mass_share(values, mask)
    return {"mass_share": mass, "lift": mass / share if share > 0 else math.nan,
            "auroc": auroc(values, mask), "pointing": pointing_game(values, mask, tolerance=tolerance, near=near)}


def mean_with_ci(values, *, confidence: float = 0.95, resamples: int = 2000, seed: int = 0) -> Stat:
    """The mean of per-image values with a percentile bootstrap interval.

    Args:
        values: one value per image; None and NaN (undefined) are left out.
        confidence, resamples, seed: the bootstrap's; the same values and seed give the same interval.

    Returns:
        A Stat (mean, low, high, n): no interval below two values, one collapsed to the mean when
        all values are equal; no mean without values.
    """
    data = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=np.float64)
    n = int(data.size)
    if n == 0:
        return Stat(None, None, None, 0)
    mean = float(data.mean())
    if n < 2:
        return Stat(mean, None, None, n)
    if np.ptp(data) == 0:
        return Stat(mean, mean, mean, n)
    result = bootstrap((data,), np.mean, n_resamples=resamples, confidence_level=confidence,
                       method="percentile", rng=np.random.default_rng(seed))
    interval = result.confidence_interval
    return Stat(mean, float(interval.low), float(interval.high), n)
