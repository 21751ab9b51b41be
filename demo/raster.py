"""Anti-aliased drawing of ribbons (polylines with per-vertex width on each side).

Shared by cracks and distractors.
"""

import cv2
import numpy as np

# Shapes are drawn on a canvas this many times larger and box-averaged down, which
# gives sub-pixel widths and soft edges that cv2's integer geometry cannot.
SUPERSAMPLE = 4

Ribbon = tuple[np.ndarray, np.ndarray]  # (left edge Nx2, right edge Nx2), x/y in px


def ribbon(points: np.ndarray, left: np.ndarray, right: np.ndarray) -> Ribbon:
    """Edges of a band around the centre line `points`, `left`/`right` px to each side."""
    d = np.gradient(points, axis=0)
    normal = np.stack([-d[:, 1], d[:, 0]], axis=1)
    normal /= np.maximum(np.hypot(normal[:, 0], normal[:, 1]), 1e-9)[:, None]
    return points + normal * left[:, None], points - normal * right[:, None]


def ribbon_coverage(shape: tuple[int, int], ribbons: list[Ribbon]) -> np.ndarray:
    """Coverage in [0, 1] (float32 HxW) of the union of the ribbons."""
    h, w = shape
    ss = SUPERSAMPLE
    canvas = np.zeros((h * ss, w * ss), np.uint8)
    for left, right in ribbons:
        # Pixel (x, y) spans ss sub-pixels whose centre is x * ss + (ss - 1) / 2.
        lp = np.round(left * ss + (ss - 1) / 2).astype(np.int32)
        rp = np.round(right * ss + (ss - 1) / 2).astype(np.int32)
        # One quad per segment; neighbours share an edge, so there are no gaps.
        for i in range(len(lp) - 1):
            quad = np.stack([lp[i], lp[i + 1], rp[i + 1], rp[i]])
            cv2.fillConvexPoly(canvas, quad, 255, cv2.LINE_8)
    return cv2.resize(canvas, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255


def line_coverage(shape: tuple[int, int], points: np.ndarray, width: float) -> np.ndarray:
    """Coverage of a uniform-width polyline."""
    half = np.full(len(points), width / 2)
    return ribbon_coverage(shape, [ribbon(points, half, half)])


def bezier(p0: np.ndarray, p1: np.ndarray, p2: np.ndarray, n: int) -> np.ndarray:
    """n points on the quadratic Bezier curve p0 -> p2 bent towards control point p1."""
    t = np.linspace(0.0, 1.0, n)[:, None]
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2


def random_chord(
    rng: np.random.Generator, shape: tuple[int, int], length: float
) -> tuple[np.ndarray, np.ndarray]:
    """Endpoints of a segment of `length` px, random direction, centred inside the image."""
    h, w = shape
    centre = rng.uniform([0.1 * w, 0.1 * h], [0.9 * w, 0.9 * h])
    angle = rng.uniform(0, np.pi)
    half = 0.5 * length * np.array([np.cos(angle), np.sin(angle)])
    return centre - half, centre + half


def bent_curve(
    rng: np.random.Generator, p0: np.ndarray, p2: np.ndarray, max_bend: float
) -> np.ndarray:
    """Gently curved polyline from p0 to p2; sagitta up to `max_bend` x chord length."""
    chord = p2 - p0
    length = float(np.hypot(*chord))
    normal = np.array([-chord[1], chord[0]]) / max(length, 1e-6)
    # A quadratic Bezier's sagitta is half the control point's offset.
    control = (p0 + p2) / 2 + normal * length * rng.uniform(-max_bend, max_bend) * 2
    return bezier(p0, control, p2, max(2, int(length / 4)))
