"""Crack styles of recipe v2: name -> function(rng, (height, width), unit) -> CrackLayer or None.

`unit` is the pixel size of a crack relative to a 320 px image (about min(height, width) / 320,
jittered by the recipe): widths are drawn in those units, so the model, which sees every image
resized to a few hundred pixels, sees similar crack widths at every image size. Geometry is
drawn at unit scale and enlarged, so zigzags and branches scale with it too.

Styles differ in how the crack is drawn, not only in their numbers:
- `walk`: recipe v1's crack (demo/cracks.py), as it is.
- `hairline`: long, thin, faint, barely branching, often across the whole image.
- `gap`: a wide open crack with depth: a dark core, one wall in shadow, the other lit, a bright rim.
- `whitened`: a thin dark crack inside a whitish halo (stress whitening of plastics, crazed glaze).
- `network`: a connected patch of crack segments meeting at steep angles (map cracking).
- `stepped`: a stair-step crack alternating between two directions (as along masonry joints).
- `fractal`: midpoint-displacement paths with side branches, drawn with a different rasteriser
  (OpenCV's anti-aliased thick polylines) and a soft, blurred profile.
Each returns None when the crack would leave fewer than MIN_MASK_AREA pixels in the image.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from demo import cracks as v1
from demo.noise import value_noise
from demo.raster import SUPERSAMPLE, Ribbon, ribbon_coverage

Size = tuple[int, int]


@dataclass
class CrackLayer:
    dark: np.ndarray          # HxW float32 in [0, 1): the surface is multiplied by 1 - dark
    mask: np.ndarray          # HxW bool instance mask
    light: np.ndarray | None = None  # HxW float32: blend towards white (rims, whitening) first

    def apply(self, scene: np.ndarray) -> np.ndarray:
        """scene (HxWx3 float RGB) with this crack drawn on it."""
        if self.light is not None:
            scene = scene + self.light[..., None] * (1 - scene)
        return scene * (1 - self.dark[..., None])


def _mask_of(core: np.ndarray) -> np.ndarray | None:
    """Recipe v1's rule: coverage >= MASK_LEVEL, dilated by 1 px; None if too small."""
    mask = cv2.dilate((core >= v1.MASK_LEVEL).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    return mask if mask.sum() >= v1.MIN_MASK_AREA else None


def _path(rng: np.random.Generator, origin: np.ndarray, heading: float, length: float,
          unit: float) -> np.ndarray:
    """v1's wandering centre line, drawn at unit scale and enlarged by `unit`."""
    return origin + unit * v1.wander(rng, np.zeros(2), heading, length / unit)


def _trunk(rng: np.random.Generator, shape: Size, length: float, w_max: float, unit: float,
           n_branches: int) -> list[Ribbon]:
    """Two arms from an origin inside the image, tapering to both tips, plus side branches."""
    h, w = shape
    origin = rng.uniform([0.1 * w, 0.1 * h], [0.9 * w, 0.9 * h])
    heading = rng.uniform(0, 2 * np.pi)
    split = rng.uniform(0.1, 0.5)
    paths = []
    for arm_heading, arm_length in ((heading, (1 - split) * length), (heading + np.pi, split * length)):
        pts = _path(rng, origin, arm_heading, arm_length, unit)
        paths.append((pts, v1.taper(rng, len(pts), w_max)))
    for _ in range(n_branches):
        pts, widths = paths[int(rng.integers(2))]
        k = int(rng.integers(len(pts) // 5, max(len(pts) // 5 + 1, 3 * len(pts) // 4)))
        d = pts[min(k + 3, len(pts) - 1)] - pts[max(k - 3, 0)]
        angle = np.arctan2(d[1], d[0]) + rng.choice([-1, 1]) * rng.uniform(0.35, 1.1)
        b_pts = _path(rng, pts[k], angle, rng.uniform(0.1, 0.4) * length, unit)
        paths.append((b_pts, v1.taper(rng, len(b_pts), max(widths[k] * rng.uniform(0.4, 0.75), v1.TIP_WIDTH))))
    return [v1.jagged_ribbon(rng, pts, widths) for pts, widths in paths]


def _shade(rng: np.random.Generator, core: np.ndarray, depth: tuple[float, float],
           halo: tuple[float, float]) -> np.ndarray:
    """Darkness: depth x coverage, varying slowly along the crack, plus a soft shadow around it."""
    along = np.clip(1 + 0.2 * value_noise(rng, core.shape, 24), 0.6, 1.15)
    blur = cv2.GaussianBlur(core, (0, 0), rng.uniform(0.8, 1.6))
    return np.clip(rng.uniform(*depth) * core * along + rng.uniform(*halo) * blur, 0, 0.95).astype(np.float32)


def walk(rng: np.random.Generator, shape: Size, unit: float) -> CrackLayer | None:
    crack = v1.make_crack(rng, shape)
    return None if crack is None else CrackLayer(crack.shade, crack.mask)


def hairline(rng: np.random.Generator, shape: Size, unit: float) -> CrackLayer | None:
    length = rng.uniform(0.4, 1.3) * max(shape)
    ribbons = _trunk(rng, shape, length, unit * rng.uniform(0.9, 2.2), unit, int(rng.choice(3, p=[0.5, 0.35, 0.15])))
    core = ribbon_coverage(shape, ribbons)
    mask = _mask_of(core)
    return None if mask is None else CrackLayer(_shade(rng, core, (0.5, 0.85), (0.03, 0.12)), mask)


def _shift(img: np.ndarray, dx: float, dy: float) -> np.ndarray:
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(img, m, (img.shape[1], img.shape[0]), flags=cv2.INTER_LINEAR)


def gap(rng: np.random.Generator, shape: Size, unit: float) -> CrackLayer | None:
    length = rng.uniform(0.2, 0.8) * min(shape)
    w_max = unit * rng.uniform(4, 12)
    ribbons = _trunk(rng, shape, length, w_max, unit, int(rng.integers(0, 3)))
    core = ribbon_coverage(shape, ribbons)
    mask = _mask_of(core)
    if mask is None:
        return None
    # Light from one side: the wall facing it is lit, the far wall and the bottom are in shadow.
    angle = rng.uniform(0, 2 * np.pi)
    d = max(1.0, 0.2 * w_max)
    dx, dy = d * np.cos(angle), d * np.sin(angle)
    rim = np.clip(_shift(core, -dx, -dy) - core, 0, 1)  # just outside the lit edge
    deep = cv2.erode(core, np.ones((3, 3), np.uint8), iterations=max(1, int(0.15 * w_max)))
    dark = _shade(rng, core, (0.35, 0.6), (0.05, 0.15)) + rng.uniform(0.2, 0.4) * deep
    return CrackLayer(np.clip(dark, 0, 0.95).astype(np.float32), mask,
                      light=(rng.uniform(0.2, 0.55) * rim).astype(np.float32))


def whitened(rng: np.random.Generator, shape: Size, unit: float) -> CrackLayer | None:
    length = rng.uniform(0.2, 0.7) * min(shape)
    ribbons = _trunk(rng, shape, length, unit * rng.uniform(1.0, 3.0), unit, int(rng.integers(0, 3)))
    core = ribbon_coverage(shape, ribbons)
    mask = _mask_of(core)
    if mask is None:
        return None
    halo = cv2.GaussianBlur(cv2.dilate(core, np.ones((3, 3), np.uint8)), (0, 0), unit * rng.uniform(1.5, 4))
    halo = halo / max(float(halo.max()), 1e-6)
    light = rng.uniform(0.25, 0.6) * halo * np.clip(1 + 0.3 * value_noise(rng, shape, 16), 0.4, 1.3)
    return CrackLayer(_shade(rng, core, (0.25, 0.6), (0.0, 0.05)), mask, light=light.astype(np.float32))


def network(rng: np.random.Generator, shape: Size, unit: float) -> CrackLayer | None:
    h, w = shape
    span = rng.uniform(0.3, 0.7) * min(shape)
    origin = rng.uniform([0.15 * w, 0.15 * h], [0.85 * w, 0.85 * h])
    paths = [_path(rng, origin - span / 2 * np.array([1, 0]), rng.uniform(-0.4, 0.4), span, unit)]
    for _ in range(int(rng.integers(3, 8))):
        parent = paths[int(rng.integers(len(paths)))]
        k = int(rng.integers(1, len(parent) - 1))
        d = parent[k + 1] - parent[k - 1]
        angle = np.arctan2(d[1], d[0]) + rng.choice([-1, 1]) * rng.uniform(1.0, 2.1)  # 60-120 degrees
        paths.append(_path(rng, parent[k], angle, rng.uniform(0.15, 0.5) * span, unit))
    w0 = unit * rng.uniform(0.8, 3.0)
    ribbons = [v1.jagged_ribbon(rng, p, v1.taper(rng, len(p), w0 * (1 if i == 0 else rng.uniform(0.5, 0.9))))
               for i, p in enumerate(paths)]
    core = ribbon_coverage(shape, ribbons)
    mask = _mask_of(core)
    return None if mask is None else CrackLayer(_shade(rng, core, (0.35, 0.8), (0.05, 0.15)), mask)


def stepped(rng: np.random.Generator, shape: Size, unit: float) -> CrackLayer | None:
    h, w = shape
    base = rng.uniform(0, np.pi / 2) + rng.integers(4) * np.pi / 2
    start = rng.uniform([0.1 * w, 0.1 * h], [0.9 * w, 0.9 * h])
    points = [start]
    total, target = 0.0, rng.uniform(0.3, 0.9) * min(shape)
    turn = 0
    while total < target:  # alternate between two roughly perpendicular directions
        angle = base + turn * np.pi / 2 + rng.normal(0, 0.1)
        seg = unit * rng.uniform(8, 40)
        points.extend(_path(rng, points[-1], angle, seg, unit)[1:])
        total += seg
        turn = 1 - turn
    pts = np.array(points)
    widths = v1.taper(rng, len(pts), unit * rng.uniform(1.2, 5))[::-1 if rng.random() < 0.5 else 1]
    core = ribbon_coverage(shape, [v1.jagged_ribbon(rng, pts, np.ascontiguousarray(widths))])
    mask = _mask_of(core)
    return None if mask is None else CrackLayer(_shade(rng, core, (0.4, 0.85), (0.05, 0.2)), mask)


def _midpoint_path(rng: np.random.Generator, a: np.ndarray, b: np.ndarray, roughness: float,
                   min_seg: float) -> np.ndarray:
    """Midpoint displacement between a and b: each midpoint pushed sideways by a random fraction
    `roughness` of its segment's length, recursively, until segments are shorter than min_seg."""
    pts = np.stack([a, b])
    while np.max(np.hypot(*np.diff(pts, axis=0).T)) > min_seg:
        seg = np.diff(pts, axis=0)
        normal = np.stack([-seg[:, 1], seg[:, 0]], axis=1)
        mids = (pts[:-1] + pts[1:]) / 2 + normal * rng.normal(0, roughness, (len(seg), 1))
        merged = np.empty((len(pts) + len(mids), 2))
        merged[0::2], merged[1::2] = pts, mids
        pts = merged
    return pts


def fractal(rng: np.random.Generator, shape: Size, unit: float) -> CrackLayer | None:
    h, w = shape
    length = rng.uniform(0.3, 1.1) * max(shape)
    centre = rng.uniform([0.1 * w, 0.1 * h], [0.9 * w, 0.9 * h])
    angle = rng.uniform(0, np.pi)
    half = length / 2 * np.array([np.cos(angle), np.sin(angle)])
    roughness = rng.uniform(0.06, 0.16)
    trunk = _midpoint_path(rng, centre - half, centre + half, roughness, 4 * unit)
    width = unit * rng.uniform(0.8, 3.5)
    strokes = [(trunk, width)]
    for _ in range(int(rng.integers(0, 4))):
        k = int(rng.integers(len(trunk) // 8, 7 * len(trunk) // 8))
        b_angle = angle + rng.choice([0, np.pi]) + rng.choice([-1, 1]) * rng.uniform(0.3, 1.0)
        b_len = rng.uniform(0.1, 0.35) * length
        end = trunk[k] + b_len * np.array([np.cos(b_angle), np.sin(b_angle)])
        strokes.append((_midpoint_path(rng, trunk[k], end, roughness, 4 * unit), width * rng.uniform(0.35, 0.7)))
    ss = SUPERSAMPLE
    canvas = np.zeros((h * ss, w * ss), np.uint8)
    for pts, stroke_width in strokes:
        # Piecewise constant width, thinning towards the far end of each stroke.
        pieces = np.array_split(np.arange(len(pts)), min(6, len(pts) - 1))
        for j, idx in enumerate(pieces):
            idx = np.append(idx, min(idx[-1] + 1, len(pts) - 1))
            thickness = max(1, int(round(stroke_width * ss * (1 - 0.13 * j) * rng.uniform(0.8, 1.2))))
            poly = np.round(pts[idx] * ss + (ss - 1) / 2).astype(np.int32)
            cv2.polylines(canvas, [poly], False, 255, thickness, cv2.LINE_AA)
    core = cv2.resize(canvas, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    mask = _mask_of(core)
    if mask is None:
        return None
    soft = cv2.GaussianBlur(core, (0, 0), max(0.5, 0.5 * unit))  # a soft, not a sharp, profile
    return CrackLayer(np.clip(rng.uniform(0.45, 0.85) * np.maximum(core, soft), 0, 0.95).astype(np.float32), mask)


CRACK_STYLES: dict[str, Callable[[np.random.Generator, Size, float], CrackLayer | None]] = {
    "walk": walk,
    "hairline": hairline,
    "gap": gap,
    "whitened": whitened,
    "network": network,
    "stepped": stepped,
    "fractal": fractal,
}
