"""Procedural background textures. Each function returns an HxWx3 uint8 RGB image."""

import math
from collections.abc import Callable

import numpy as np

from demo.noise import fractal_noise, sparse_dots, streak_noise, value_noise
from demo.raster import line_coverage

Size = tuple[int, int]  # (height, width)

# Typical toothbrush-handle colours (RGB, 0-1).
PLASTIC_COLOURS = np.array([
    [0.15, 0.42, 0.80], [0.10, 0.62, 0.66], [0.25, 0.66, 0.36], [0.90, 0.42, 0.62],
    [0.55, 0.36, 0.76], [0.92, 0.92, 0.90], [0.95, 0.78, 0.22], [0.95, 0.52, 0.20],
    [0.70, 0.72, 0.76], [0.82, 0.22, 0.25],
], np.float32)
PAINT_COLOURS = np.array([
    [0.72, 0.16, 0.14], [0.16, 0.32, 0.62], [0.22, 0.45, 0.28], [0.85, 0.70, 0.15],
    [0.55, 0.57, 0.58], [0.88, 0.88, 0.85], [0.35, 0.36, 0.38], [0.90, 0.45, 0.12],
], np.float32)
CERAMIC_COLOURS = np.array([
    [0.90, 0.90, 0.88], [0.88, 0.89, 0.91], [0.78, 0.86, 0.90], [0.90, 0.84, 0.78],
    [0.80, 0.88, 0.80], [0.90, 0.84, 0.86],
], np.float32)


def _pick_colour(rng: np.random.Generator, palette: np.ndarray, jitter: float) -> np.ndarray:
    colour = palette[rng.integers(len(palette))] + rng.normal(0, jitter, 3)
    return np.clip(colour, 0.05, 0.97).astype(np.float32)


def _across(size: Size, angle: float) -> np.ndarray:
    """Signed distance (in half-image units, about [-1.4, 1.4]) across a direction `angle`."""
    h, w = size
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    half = 0.5 * min(h, w)
    return ((xs - w / 2) * -math.sin(angle) + (ys - h / 2) * math.cos(angle)) / half


def _band(t: np.ndarray, centre: float, width: float) -> np.ndarray:
    """Gaussian stripe profile across coordinate t (highlights on curved or glossy parts)."""
    return np.exp(-0.5 * ((t - centre) / width) ** 2)


def _towards_white(img: np.ndarray, amount: np.ndarray) -> np.ndarray:
    """Blend towards white by a per-pixel amount (specular highlights)."""
    return img + amount[..., None] * (1.0 - img)


def _to_uint8(img: np.ndarray) -> np.ndarray:
    return np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)


def plastic(rng: np.random.Generator, size: Size) -> np.ndarray:
    """Smooth moulded plastic: a lit cylinder-like handle with glossy bands and faint seams."""
    colour = _pick_colour(rng, PLASTIC_COLOURS, 0.04)
    angle = rng.uniform(0, np.pi)  # handle axis
    t = _across(size, angle)
    # Curved handle: darker towards its sides, with the axis somewhere in view.
    shading = 1.0 - rng.uniform(0.05, 0.3) * (t - rng.uniform(-0.5, 0.5)) ** 2
    shading *= 1.0 + 0.015 * fractal_noise(rng, size, (96, 48))
    img = colour * np.clip(shading, 0.4, 1.2)[..., None]
    for _ in range(rng.integers(1, 3)):
        band = _band(t, rng.uniform(-0.9, 0.9), rng.uniform(0.03, 0.18))
        img = _towards_white(img, rng.uniform(0.25, 0.65) * band)
    if rng.random() < 0.5:  # parting line of the mould, along the handle axis
        offset = rng.uniform(-0.8, 0.8) * 0.5 * min(size)
        n = np.array([-math.sin(angle), math.cos(angle)])
        centre = np.array([size[1] / 2, size[0] / 2]) + n * offset
        d = 2.0 * max(size) * np.array([math.cos(angle), math.sin(angle)])
        pts = np.stack([centre - d, centre + d])
        seam = line_coverage(size, pts, rng.uniform(0.8, 1.5))
        img = img * (1 - rng.uniform(0.03, 0.08) * seam[..., None])
    return _to_uint8(img)


def concrete(rng: np.random.Generator, size: Size) -> np.ndarray:
    """Grainy grey concrete: multi-scale mottling, fine grain, aggregate speckles and pores."""
    grey = rng.uniform(0.42, 0.72)
    colour = grey * (1 + rng.uniform(-0.05, 0.05, 3)).astype(np.float32)
    tone = 1.0 + rng.uniform(0.06, 0.12) * fractal_noise(rng, size, (90, 45, 22, 11, 5))
    tone += rng.uniform(0.03, 0.06) * value_noise(rng, size, 1)  # sand grain
    n_px = size[0] * size[1]
    speckle = sparse_dots(rng, size, int(n_px * rng.uniform(0.002, 0.006)), rng.uniform(0.8, 1.6))
    speckle -= sparse_dots(rng, size, int(n_px * rng.uniform(0.002, 0.006)), rng.uniform(0.8, 1.6))
    tone += rng.uniform(0.08, 0.18) * speckle
    pores = sparse_dots(rng, size, int(n_px * rng.uniform(0.0005, 0.002)), rng.uniform(0.6, 1.4))
    tone *= 1.0 - rng.uniform(0.3, 0.6) * np.clip(pores, 0, 1)
    return _to_uint8(colour * tone[..., None])


def painted_metal(rng: np.random.Generator, size: Size) -> np.ndarray:
    """Painted sheet metal: paint colour, brushed streaks showing through, orange-peel."""
    colour = _pick_colour(rng, PAINT_COLOURS, 0.04)
    angle = rng.uniform(0, np.pi)
    tone = 1.0 + rng.uniform(0.01, 0.035) * streak_noise(rng, size, rng.uniform(30, 120), angle)
    tone += rng.uniform(0.01, 0.03) * fractal_noise(rng, size, (6, 3))  # orange-peel
    tone += 0.03 * fractal_noise(rng, size, (120, 60))
    img = colour * tone[..., None]
    t = _across(size, angle)
    sheen = _band(t, rng.uniform(-1, 1), rng.uniform(0.2, 0.6))
    return _to_uint8(_towards_white(img, rng.uniform(0.05, 0.25) * sheen))


def ceramic(rng: np.random.Generator, size: Size) -> np.ndarray:
    """Glossy glazed ceramic: near-white or pastel, faint glaze variation, soft reflections."""
    h, w = size
    colour = _pick_colour(rng, CERAMIC_COLOURS, 0.015)
    glaze = rng.uniform(0.01, 0.03) * fractal_noise(rng, size, (120, 60, 30))
    tint = 0.01 * np.stack([fractal_noise(rng, size, (100,)) for _ in range(3)], axis=-1)
    img = colour * (1 + glaze[..., None]) + tint
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    for _ in range(rng.integers(1, 3)):  # soft reflection of a light source
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        sx, sy = (rng.uniform(0.08, 0.35, 2) * min(size)).tolist()
        blob = np.exp(-0.5 * (((xs - cx) / sx) ** 2 + ((ys - cy) / sy) ** 2))
        img = _towards_white(img, rng.uniform(0.2, 0.6) * blob)
    if rng.random() < 0.5:  # pinholes in the glaze
        pits = np.clip(sparse_dots(rng, size, int(rng.integers(2, 12)), 0.7), 0, 1)
        img *= 1 - 0.3 * pits[..., None]
    return _to_uint8(img)


SURFACES: dict[str, Callable[[np.random.Generator, Size], np.ndarray]] = {
    "plastic": plastic,
    "concrete": concrete,
    "painted_metal": painted_metal,
    "ceramic": ceramic,
}
