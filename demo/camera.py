"""Imaging effects applied to the composed scene: uneven lighting, slight blur, sensor noise."""

import math

import cv2
import numpy as np


def lighting_gain(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Multiplicative illumination field: a linear ramp or a radial spot/vignette."""
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    xs, ys = (xs - w / 2) / (w / 2), (ys - h / 2) / (h / 2)
    exposure = rng.uniform(0.85, 1.05)
    if rng.random() < 0.5:
        angle = rng.uniform(0, 2 * np.pi)
        ramp = xs * math.cos(angle) + ys * math.sin(angle)
        return exposure * (1 + rng.uniform(0.05, 0.25) * ramp)
    cx, cy = rng.uniform(-0.6, 0.6, 2).tolist()
    r2 = ((xs - cx) ** 2 + (ys - cy) ** 2) / rng.uniform(1.0, 3.0)
    # Positive strength: spotlight; negative: vignette.
    return exposure * (1 + rng.uniform(-0.3, 0.3) * (0.5 - np.clip(r2, 0, 1)))


def capture(rng: np.random.Generator, scene: np.ndarray) -> np.ndarray:
    """Turn a float RGB scene in [0, 1] into a uint8 'photo' of it."""
    img = scene * lighting_gain(rng, scene.shape[:2])[..., None]
    if rng.random() < 0.35:  # slight defocus / motion
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.4, 0.9))
    # Shot noise grows with brightness; read noise is a constant floor.
    sigma = rng.uniform(0.003, 0.012) + rng.uniform(0.0, 0.02) * np.sqrt(np.clip(img, 0, 1))
    img = img + sigma * rng.standard_normal(img.shape, dtype=np.float32)
    return np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)
