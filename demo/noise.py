"""Smooth random noise fields used for textures and along-crack variation."""

from collections.abc import Sequence

import cv2
import numpy as np


def value_noise(rng: np.random.Generator, shape: tuple[int, int], cell: int) -> np.ndarray:
    """Smooth noise (roughly unit variance) with features about `cell` pixels wide."""
    h, w = shape
    cell = max(1, int(cell))
    gh, gw = h // cell + 3, w // cell + 3
    grid = rng.standard_normal((gh, gw), dtype=np.float32)
    if cell == 1:
        return grid[:h, :w]
    # Magnify the grid `cell` times, with a random phase so grid nodes do not
    # always sit on the same pixels: output pixel (x, y) samples grid point
    # g = ((x + ox) / cell, (y + oy) / cell). A cubic 4x resize followed by a
    # linear warp looks as smooth as a cubic warp at a fraction of its cost;
    # cv2.resize puts grid point g at fine pixel 4 g + 1.5.
    fine = cv2.resize(grid, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
    ox, oy = rng.uniform(0, cell, 2).tolist()
    k = 4 / cell
    to_fine = np.array([[k, 0, k * ox + 1.5], [0, k, k * oy + 1.5]], np.float32)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    return cv2.warpAffine(fine, to_fine, (w, h), flags=flags, borderMode=cv2.BORDER_REFLECT)


def fractal_noise(
    rng: np.random.Generator,
    shape: tuple[int, int],
    cells: Sequence[int],
    persistence: float = 0.6,
) -> np.ndarray:
    """Sum of value-noise octaves (coarse to fine), normalised to unit std."""
    total = np.zeros(shape, np.float32)
    amp = 1.0
    for cell in cells:
        total += amp * value_noise(rng, shape, cell)
        amp *= persistence
    return total / max(float(total.std()), 1e-6)


def streak_noise(
    rng: np.random.Generator, shape: tuple[int, int], length: float, angle: float
) -> np.ndarray:
    """Unit-std noise stretched into thin streaks `length` px long along `angle` (rad)."""
    h, w = shape
    d = int(np.ceil(np.hypot(h, w))) + 2  # rotated crop must stay inside the canvas
    grid = rng.standard_normal((d, max(2, int(d / length))), dtype=np.float32)
    streaks = cv2.resize(grid, (d, d), interpolation=cv2.INTER_LINEAR)
    rot = cv2.getRotationMatrix2D((d / 2, d / 2), float(np.degrees(angle)), 1.0)
    streaks = cv2.warpAffine(streaks, rot, (d, d), flags=cv2.INTER_LINEAR)
    y0, x0 = (d - h) // 2, (d - w) // 2
    out = streaks[y0:y0 + h, x0:x0 + w]
    return out / max(float(out.std()), 1e-6)


def sparse_dots(
    rng: np.random.Generator, shape: tuple[int, int], count: int, sigma: float
) -> np.ndarray:
    """Soft round dots with peak ~1 and random strength in [0.5, 1], at random places."""
    h, w = shape
    field = np.zeros(shape, np.float32)
    ys, xs = rng.integers(0, h, count), rng.integers(0, w, count)
    # An impulse blurred by a Gaussian peaks at value / (2 pi sigma^2).
    field[ys, xs] = rng.uniform(0.5, 1.0, count) * 2 * np.pi * sigma**2
    return cv2.GaussianBlur(field, (0, 0), sigma)
