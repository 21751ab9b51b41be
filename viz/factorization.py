"""Deep feature factorization (Collins et al., ECCV 2018) of one layer's feature map, through the
grad-cam library: what concepts a stage holds, as coloured regions with their top channels.

The library's `dff` factorizes the non-negative activations (channels x positions) with NMF into
k concepts: W (channels x k) says which channels make each concept, H (k x positions) where it
is. `show_factorization_on_image` colours each pixel by its strongest concept, brighter where that
concept is stronger. Numpy in, numpy out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import matplotlib
import numpy as np
from pytorch_grad_cam.feature_factorization.deep_feature_factorization import dff
from pytorch_grad_cam.utils.image import scale_cam_image, show_factorization_on_image


@dataclass(frozen=True)
class Factorization:
    weights: np.ndarray  # (C, k): how much each channel makes each concept (the library's "concepts")
    heatmaps: np.ndarray  # (k, h, w) float32 in [0, 1]: where each concept is, at the feature map's size

    @property
    def n_concepts(self) -> int:
        return self.heatmaps.shape[0]

    def top_channels(self, n: int = 3) -> list[list[int]]:
        """Per concept, its n channels of largest weight, strongest first."""
        return [[int(c) for c in np.argsort(-self.weights[:, i], kind="stable")[:n]] for i in range(self.n_concepts)]

    def shares(self) -> np.ndarray:
        """(k,) the share of the map's positions where each concept is the strongest."""
        winner = self.heatmaps.argmax(axis=0)
        return np.array([(winner == i).mean() for i in range(self.n_concepts)])


def factorize(features: np.ndarray, n_concepts: int = 4) -> Factorization:
    """DFF of one image's (C, h, w) activations (as captured, cropped to the image) into
    n_concepts concepts (the library's NMF, seeded: the same map gives the same concepts)."""
    features = np.asarray(features, dtype=np.float32)
    if features.ndim != 3 or min(features.shape) < 1:
        raise ValueError(f"expected a (C, h, w) feature map, got shape {features.shape}")
    if not 1 <= n_concepts <= min(features.shape[0], features.shape[1] * features.shape[2]):
        raise ValueError(f"n_concepts must be between 1 and the number of channels and positions (got {n_concepts})")
    weights, explanations = dff(features[None].copy(), n_components=n_concepts)  # dff edits its input
    return Factorization(weights=weights, heatmaps=scale_cam_image(explanations[0]))


def concept_colors(n: int) -> list[np.ndarray]:
    """n RGB colours in [0, 1], as the library picks them (gist_rainbow), one per concept."""
    cmap = matplotlib.colormaps["gist_rainbow"]
    return [np.array(cmap(i / n)[:3]) for i in range(n)]


def factorization_picture(image_rgb: np.ndarray, factorization: Factorization,
                          to_image: Callable[[np.ndarray], np.ndarray], *, image_weight: float = 0.4) -> np.ndarray:
    """The image with each pixel coloured by its strongest concept (concept_colors), (H, W, 3) uint8.

    to_image: a (h, w) map at the feature map's size -> (H, W) at the image's (Capture.to_image
    with the layer's stride), so the regions sit where the image is.
    """
    heatmaps = np.clip(np.stack([to_image(h) for h in factorization.heatmaps]), 0.0, 1.0)
    return show_factorization_on_image(image_rgb.astype(np.float32) / 255.0, heatmaps,
                                       colors=concept_colors(factorization.n_concepts), image_weight=image_weight)
