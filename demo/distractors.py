"""Unlabelled look-alikes that a naive edge detector would mistake for cracks.

Each function returns overlays to blend onto the surface; none produce annotations.
What separates them from cracks is shape: straight or smooth, uniform width, no
branching, or soft/blob-like rather than a thin jagged fissure.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from demo.noise import value_noise
from demo.raster import bent_curve, line_coverage, random_chord

Size = tuple[int, int]


@dataclass
class Overlay:
    alpha: np.ndarray   # HxW float32 opacity in [0, 1]
    colour: np.ndarray  # (3,) float32 RGB in [0, 1]

    def apply(self, img: np.ndarray) -> np.ndarray:
        return img + self.alpha[..., None] * (self.colour - img)


def _line_overlay(
    shape: Size, points: np.ndarray, width: float, opacity: float, colour: np.ndarray
) -> Overlay:
    alpha = opacity * line_coverage(shape, points, width)
    return Overlay(alpha, np.asarray(colour, np.float32))


def scratch(rng: np.random.Generator, shape: Size, base: np.ndarray) -> list[Overlay]:
    """Thin straight or gently curved scratch, usually lighter (scuffed) or slightly darker."""
    p0, p2 = random_chord(rng, shape, rng.uniform(0.2, 0.9) * min(shape))
    pts = bent_curve(rng, p0, p2, 0.06 if rng.random() < 0.5 else 0.0)
    light = rng.random() < 0.6
    colour = np.minimum(base + 0.35, 1.0) if light else base * 0.45
    return [_line_overlay(shape, pts, rng.uniform(0.6, 1.4), rng.uniform(0.25, 0.6), colour)]


def seam(rng: np.random.Generator, shape: Size, base: np.ndarray) -> list[Overlay]:
    """Long straight mould seam crossing the image: a faint ridge, lit on one side."""
    p0, p2 = random_chord(rng, shape, 3 * max(shape))
    d = (p2 - p0) / np.hypot(*(p2 - p0))
    offset = np.array([-d[1], d[0]]) * rng.uniform(0.8, 1.5)
    pts = np.stack([p0, p2])
    width = rng.uniform(0.8, 2.0)
    dark, lit = base * 0.5, np.minimum(base + 0.3, 1.0)
    return [
        _line_overlay(shape, pts, width, rng.uniform(0.1, 0.3), dark),
        _line_overlay(shape, pts + offset, width, rng.uniform(0.1, 0.3), lit),
    ]


def hair(rng: np.random.Generator, shape: Size, base: np.ndarray) -> list[Overlay]:
    """Very dark, uniform-width, smoothly curving fibre with a faint shadow."""
    n = 60
    length = rng.uniform(0.4, 1.2) * min(shape)
    start = rng.uniform([0, 0], [shape[1], shape[0]])
    # Smooth curvature: a slowly varying turn rate, no jitter, no kinks.
    turn = np.cumsum(rng.normal(0, 0.01, n)) + rng.normal(0, 0.02)
    angle = rng.uniform(0, 2 * np.pi) + np.cumsum(turn)
    steps = (length / n) * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    pts = start + np.vstack([[0, 0], np.cumsum(steps, axis=0)])
    width = rng.uniform(0.8, 1.8) * max(min(shape) / 320, 0.6)
    colour = rng.uniform(0.02, 0.12) * np.array([1.0, 0.9, 0.8], np.float32)
    shadow = 0.15 * line_coverage(shape, pts + rng.uniform(1, 2.5, 2), width * 1.5)
    return [
        Overlay(cv2.GaussianBlur(shadow, (0, 0), 1.0), (base * 0.3).astype(np.float32)),
        _line_overlay(shape, pts, width, rng.uniform(0.75, 1.0), colour),
    ]


def stain(rng: np.random.Generator, shape: Size, base: np.ndarray) -> list[Overlay]:
    """Soft irregular blob (water, grease or dirt), sometimes with a darker drying rim."""
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = rng.uniform(0.1, 0.9) * w, rng.uniform(0.1, 0.9) * h
    rx, ry = (rng.uniform(0.06, 0.25, 2) * min(shape)).tolist()
    r = np.sqrt(((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2)
    r += 0.25 * value_noise(rng, shape, int(min(rx, ry) / 2) + 2)  # irregular outline
    inside = np.clip((1 - r) * 2, 0, 1)
    alpha = rng.uniform(0.15, 0.45) * inside
    if rng.random() < 0.3:
        alpha += rng.uniform(0.1, 0.3) * np.exp(-0.5 * ((r - 1) / 0.06) ** 2)
    alpha = cv2.GaussianBlur(alpha, (0, 0), rng.uniform(1.5, 6.0))
    colour = base * rng.uniform([0.55, 0.5, 0.35], [0.85, 0.8, 0.75]).astype(np.float32)
    return [Overlay(np.clip(alpha, 0, 1).astype(np.float32), colour)]


def texture_edge(rng: np.random.Generator, shape: Size, base: np.ndarray) -> list[Overlay]:
    """Sharp boundary to a region of another tone (paint edge, label, different finish)."""
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    cx, cy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h
    cos, sin = math.cos(angle), math.sin(angle)
    along = (xs - cx) * cos + (ys - cy) * sin
    across = (ys - cy) * cos - (xs - cx) * sin
    across += rng.uniform(-0.5, 0.5) * along**2 / max(shape)  # slightly curved boundary
    alpha = np.clip(across + 0.5, 0, 1) * rng.uniform(0.35, 0.8)  # ~1 px anti-aliased edge
    tone = rng.uniform(0.6, 0.85) if rng.random() < 0.5 else rng.uniform(1.15, 1.4)
    return [Overlay(alpha.astype(np.float32), np.clip(base * tone, 0, 1).astype(np.float32))]


DISTRACTORS: dict[str, Callable[[np.random.Generator, Size, np.ndarray], list[Overlay]]] = {
    "scratch": scratch,
    "seam": seam,
    "hair": hair,
    "stain": stain,
    "texture_edge": texture_edge,
}
# Drawn before the cracks (part of the surface); the rest lie on top of them.
UNDER_CRACKS = frozenset({"seam", "stain", "texture_edge"})
