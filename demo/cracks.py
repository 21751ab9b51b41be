"""Crack model: branching, tapering, wandering dark fissures with their instance masks."""

from dataclasses import dataclass

import cv2
import numpy as np

from demo.noise import value_noise
from demo.raster import Ribbon, ribbon, ribbon_coverage

STEP = 2.0          # px between centre-line vertices
TIP_WIDTH = 0.3     # px; cracks fade out into hairlines
MASK_LEVEL = 0.3    # coverage above which a pixel counts as visibly cracked
MIN_MASK_AREA = 12  # px; smaller instances are useless as training targets


@dataclass
class Crack:
    shade: np.ndarray  # HxW float32; the surface is multiplied by (1 - shade)
    mask: np.ndarray   # HxW bool instance mask (trunk and branches)


def wander(
    rng: np.random.Generator, start: np.ndarray, heading: float, length: float
) -> np.ndarray:
    """Centre line: a smooth random walk with momentum plus short straight zigzag runs."""
    n = max(2, int(length / STEP))
    noise = rng.normal(0, 0.05, n)
    # Fractures run in short straight pieces with abrupt changes of direction.
    zigzag = np.repeat(rng.normal(0, 0.35, n), rng.integers(1, 5, n))[:n]
    angles = np.empty(n)
    angle, turn = heading, 0.0
    for i in range(n):
        # Momentum makes bends span many steps; the pull keeps the crack from curling up.
        turn = 0.8 * turn + noise[i]
        angle += turn - 0.05 * (angle - heading)
        angles[i] = angle + zigzag[i]
    steps = STEP * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return np.vstack([start, start + np.cumsum(steps, axis=0)])


def taper(rng: np.random.Generator, n: int, w_start: float) -> np.ndarray:
    """Widths shrinking from w_start to TIP_WIDTH, with slow variation along the way."""
    t = np.linspace(0, 1, n)
    widths = TIP_WIDTH + (w_start - TIP_WIDTH) * (1 - t) ** rng.uniform(0.6, 1.5)
    wobble = np.interp(t, np.linspace(0, 1, 6), rng.uniform(0.8, 1.2, 6))
    return widths * wobble


def jagged_ribbon(rng: np.random.Generator, points: np.ndarray, widths: np.ndarray) -> Ribbon:
    """Each edge gets its own small irregularities, like broken material."""
    def side() -> np.ndarray:
        return np.maximum(widths / 2 * (1 + rng.normal(0, 0.2, len(widths))), 0.05)
    return ribbon(points, side(), side())


def crack_ribbons(rng: np.random.Generator, shape: tuple[int, int]) -> list[Ribbon]:
    """Trunk (two arms from an origin) plus 0-3 thinner side branches."""
    h, w = shape
    scale = min(h, w)
    length = rng.uniform(0.15, 0.6) * scale
    # Hairline cracks are more common than gaping ones.
    w_max = max(1.0, (1.5 + 5.5 * rng.random() ** 1.5) * scale / 320)
    origin = rng.uniform([0.1 * w, 0.1 * h], [0.9 * w, 0.9 * h])
    heading = rng.uniform(0, 2 * np.pi)
    # The crack runs both ways from where it started, widest there and tapering to
    # both tips; a short second arm puts the widest part near one end.
    split = rng.uniform(0.05, 0.5)
    arms = [(heading, (1 - split) * length), (heading + np.pi, split * length)]
    paths = []
    for arm_heading, arm_length in arms:
        pts = wander(rng, origin, arm_heading, arm_length)
        paths.append((pts, taper(rng, len(pts), w_max)))
    n_branches = 0 if rng.random() < 0.3 else int(rng.integers(1, 4))
    for _ in range(n_branches):
        pts, widths = paths[int(rng.integers(len(arms)))]
        k = int(rng.integers(len(pts) // 5, max(len(pts) // 5 + 1, 3 * len(pts) // 4)))
        d = pts[min(k + 3, len(pts) - 1)] - pts[max(k - 3, 0)]
        angle = np.arctan2(d[1], d[0]) + rng.choice([-1, 1]) * rng.uniform(0.35, 1.1)
        branch_len = max(rng.uniform(0.25, 0.7) * STEP * (len(pts) - k), 4 * STEP)
        b_pts = wander(rng, pts[k], angle, branch_len)
        paths.append((b_pts, taper(rng, len(b_pts), widths[k] * rng.uniform(0.4, 0.75))))
    return [jagged_ribbon(rng, pts, widths) for pts, widths in paths]


def make_crack(rng: np.random.Generator, shape: tuple[int, int]) -> Crack | None:
    """Render one crack; None if it would leave too few visible pixels in the image."""
    core = ribbon_coverage(shape, crack_ribbons(rng, shape))
    mask = cv2.dilate((core >= MASK_LEVEL).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    if mask.sum() < MIN_MASK_AREA:
        return None
    depth = rng.uniform(0.35, 0.85)  # how dark the fissure is (contrast varies a lot)
    along = np.clip(1 + 0.2 * value_noise(rng, shape, 24), 0.6, 1.15)
    # A soft shadow around the fissure: less light reaches the broken edges.
    halo = cv2.GaussianBlur(core, (0, 0), rng.uniform(0.8, 1.6))
    shade = depth * core * along + rng.uniform(0.05, 0.2) * halo
    return Crack(shade=np.clip(shade, 0, 0.95).astype(np.float32), mask=mask)
