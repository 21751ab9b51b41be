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

And a seeded bootstrap confidence interval for the mean of per-image values (scipy's bootstrap).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from scipy.stats import bootstrap

MEASURES = ("mass_share", "lift", "auroc", "pointing")


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
    """1.0 when the map's maximum is within `tolerance` pixels of the mask, 0.0 when not; where
    pixels tie for the maximum, the share of them that hit. NaN for an empty mask. near:
    `within(mask, tolerance)` when already computed (one per mask, whatever the maps)."""
    values, mask = _check(values, mask)
    if not mask.any():
        return math.nan
    peaks = values == values.max()
    return float((within(mask, tolerance) if near is None else near)[peaks].mean())


def alignment(values: np.ndarray, mask: np.ndarray, *, tolerance: float = 0.0,
              near: np.ndarray | None = None) -> dict[str, float]:
    """All of MEASURES for one map and its (non-empty) mask (`near`: see pointing_game)."""
    share = area_share(mask)
    mass = mass_share(values, mask)
    return {"mass_share": mass, "lift": mass / share if share > 0 else math.nan,
            "auroc": auroc(values, mask), "pointing": pointing_game(values, mask, tolerance=tolerance, near=near)}


def mean_with_ci(values, *, confidence: float = 0.95, resamples: int = 2000, seed: int = 0) -> dict:
    """The mean of per-image values (NaNs left out) with a percentile bootstrap interval.

    Returns {"mean", "low", "high", "n"}; the interval is None below two values, and collapses to
    the mean when all values are equal. The same values and seed give the same interval.
    """
    data = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=np.float64)
    n = int(data.size)
    if n == 0:
        return {"mean": None, "low": None, "high": None, "n": 0}
    mean = float(data.mean())
    if n < 2:
        return {"mean": mean, "low": None, "high": None, "n": n}
    if np.ptp(data) == 0:
        return {"mean": mean, "low": mean, "high": mean, "n": n}
    result = bootstrap((data,), np.mean, n_resamples=resamples, confidence_level=confidence,
                       method="percentile", rng=np.random.default_rng(seed))
    interval = result.confidence_interval
    return {"mean": mean, "low": float(interval.low), "high": float(interval.high), "n": n}
