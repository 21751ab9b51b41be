"""Surface families of recipe v2: name -> function(rng, (height, width)) -> HxWx3 uint8 RGB.

The four families of recipe v1 are reused as they are; the new ones are procedural, except the
`*_photo` families, which are CC0 photographs shipped with scikit-image (`skimage.data`), tinted,
cropped, rotated, enlarged and tinted so that no two images show the same patch the same way.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import cv2
import numpy as np

from demo import surfaces as v1
from demo.noise import fractal_noise, sparse_dots, streak_noise, value_noise

Size = tuple[int, int]

WOOD_COLOURS = np.array([
    [0.72, 0.52, 0.32], [0.60, 0.40, 0.24], [0.80, 0.66, 0.46], [0.45, 0.30, 0.18], [0.86, 0.74, 0.56],
], np.float32)
FABRIC_COLOURS = np.array([
    [0.20, 0.28, 0.45], [0.55, 0.15, 0.18], [0.30, 0.45, 0.30], [0.75, 0.70, 0.60], [0.35, 0.35, 0.38],
    [0.85, 0.82, 0.75], [0.60, 0.45, 0.25],
], np.float32)
TILE_COLOURS = np.array([
    [0.92, 0.92, 0.90], [0.80, 0.86, 0.90], [0.20, 0.25, 0.30], [0.65, 0.75, 0.70], [0.85, 0.78, 0.65],
    [0.55, 0.20, 0.18], [0.95, 0.95, 0.95],
], np.float32)
STONE_COLOURS = np.array([
    [0.90, 0.89, 0.86], [0.80, 0.78, 0.74], [0.35, 0.34, 0.33], [0.75, 0.68, 0.60], [0.55, 0.56, 0.58],
], np.float32)
PAPER_COLOURS = np.array([[0.96, 0.96, 0.94], [0.94, 0.91, 0.84], [0.90, 0.88, 0.82], [0.97, 0.97, 0.98]],
                         np.float32)
PHOTO_TINTS = np.array([  # multiplied with a grey photograph
    [1.0, 1.0, 1.0], [1.0, 0.93, 0.85], [0.92, 0.96, 1.0], [1.05, 0.80, 0.65], [0.95, 0.95, 0.88],
], np.float32)


def _rotated(size: Size, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates (u along `angle`, v across it), in px from the image centre."""
    h, w = size
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    xs, ys = xs - w / 2, ys - h / 2
    c, s = math.cos(angle), math.sin(angle)
    return xs * c + ys * s, -xs * s + ys * c


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0, 1)
    return x * x * (3 - 2 * x)


def asphalt(rng: np.random.Generator, size: Size) -> np.ndarray:
    """Dark road surface: bitumen with bright and dark aggregate stones and fine grain."""
    grey = rng.uniform(0.16, 0.38)
    colour = grey * (1 + rng.uniform(-0.04, 0.04, 3)).astype(np.float32)
    tone = 1.0 + rng.uniform(0.05, 0.12) * fractal_noise(rng, size, (80, 40, 20))
    tone += rng.uniform(0.08, 0.18) * value_noise(rng, size, 1)
    n_px = size[0] * size[1]
    stones = sparse_dots(rng, size, int(n_px * rng.uniform(0.004, 0.012)), rng.uniform(1.0, 2.2))
    chips = sparse_dots(rng, size, int(n_px * rng.uniform(0.003, 0.01)), rng.uniform(0.6, 1.0))
    holes = sparse_dots(rng, size, int(n_px * rng.uniform(0.002, 0.006)), rng.uniform(0.7, 1.5))
    tone += rng.uniform(0.3, 0.7) * stones + rng.uniform(0.4, 0.9) * chips - rng.uniform(0.3, 0.5) * holes
    return v1._to_uint8(colour * np.clip(tone, 0.2, None)[..., None])


def brushed_metal(rng: np.random.Generator, size: Size) -> np.ndarray:
    """Bare brushed aluminium or steel: long fine streaks along one direction, a broad sheen."""
    grey = rng.uniform(0.5, 0.8)
    colour = grey * np.array([1.0, 1.0, 1.0 + rng.uniform(0, 0.06)], np.float32)
    angle = rng.uniform(0, np.pi)
    tone = 1.0 + rng.uniform(0.03, 0.07) * streak_noise(rng, size, rng.uniform(100, 400), angle)
    tone += rng.uniform(0.02, 0.04) * streak_noise(rng, size, rng.uniform(10, 40), angle)
    tone += 0.03 * fractal_noise(rng, size, (150, 75))
    img = colour * tone[..., None]
    _, across = _rotated(size, angle)
    sheen = np.exp(-0.5 * ((across / (0.5 * min(size)) - rng.uniform(-1, 1)) / rng.uniform(0.2, 0.5)) ** 2)
    return v1._to_uint8(v1._towards_white(img, rng.uniform(0.1, 0.35) * sheen))


def tile(rng: np.random.Generator, size: Size) -> np.ndarray:
    """Glazed ceramic tiles in a grid with grout joints (straight, uniform lines: not cracks)."""
    h, w = size
    angle = rng.uniform(-0.15, 0.15) + (rng.random() < 0.2) * np.pi / 4
    pitch = rng.uniform(0.15, 0.5) * min(size)
    pitch_v = pitch * (1 if rng.random() < 0.6 else rng.uniform(0.4, 0.7))
    grout = rng.uniform(0.02, 0.06) * pitch
    u, v = _rotated(size, angle)
    du = np.abs((u + rng.uniform(0, pitch)) % pitch - pitch / 2)  # distance to the tile centre line
    dv = np.abs((v + rng.uniform(0, pitch_v)) % pitch_v - pitch_v / 2)
    dist = np.minimum(pitch / 2 - du, pitch_v / 2 - dv)  # distance to the nearest joint
    in_tile = _smoothstep((dist - grout / 2) / 1.2 + 0.5)
    glaze = v1._pick_colour(rng, TILE_COLOURS, 0.03)
    tiles = glaze * (1 + rng.uniform(0.01, 0.04) * fractal_noise(rng, size, (120, 40)))[..., None]
    # Each tile a slightly different shade.
    cell = (np.floor((u + 1e4) / pitch) * 7 + np.floor((v + 1e4) / pitch_v)).astype(np.int64)
    tiles = tiles * (1 + rng.uniform(0, 0.04) * np.sin(cell * 12.9898 + rng.uniform(0, 6)))[..., None]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    blob = np.exp(-0.5 * (((xs - cx) ** 2 + (ys - cy) ** 2) / (rng.uniform(0.1, 0.4) * min(size)) ** 2))
    tiles = v1._towards_white(tiles, rng.uniform(0.1, 0.5) * blob)
    grout_grey = rng.uniform(0.35, 0.8)
    grout_img = grout_grey * (1 + 0.08 * fractal_noise(rng, size, (6, 3)))[..., None] * np.ones(3, np.float32)
    return v1._to_uint8(in_tile[..., None] * tiles + (1 - in_tile[..., None]) * grout_img)


def stone(rng: np.random.Generator, size: Size) -> np.ndarray:
    """Polished stone: marble with smooth sinuous veins (crack look-alikes) or speckled granite."""
    colour = v1._pick_colour(rng, STONE_COLOURS, 0.03)
    tone = 1.0 + rng.uniform(0.02, 0.06) * fractal_noise(rng, size, (160, 80, 40))
    if rng.random() < 0.6:  # marble: veins where a turbulent phase crosses a multiple of pi
        u, _ = _rotated(size, rng.uniform(0, np.pi))
        turbulence = fractal_noise(rng, size, (200, 100, 50, 25))
        phase = u / (rng.uniform(60, 200) * max(min(size) / 320, 0.5)) + rng.uniform(1.5, 4) * turbulence
        veins = np.exp(-0.5 * (np.sin(phase) / rng.uniform(0.03, 0.12)) ** 2)
        vein_colour = colour * rng.uniform(0.4, 0.8)
        img = colour * tone[..., None]
        img = img + rng.uniform(0.3, 0.8) * veins[..., None] * (vein_colour - img)
    else:  # granite: crystals of three tones
        img = colour * tone[..., None]
        n_px = size[0] * size[1]
        for shade in (0.4, 1.4, 0.7):
            dots = np.clip(sparse_dots(rng, size, int(n_px * rng.uniform(0.004, 0.01)), rng.uniform(0.8, 2.0)), 0, 1)
            img = img + rng.uniform(0.4, 0.9) * dots[..., None] * (np.clip(colour * shade, 0, 1) - img)
    return v1._to_uint8(img)


def paper(rng: np.random.Generator, size: Size) -> np.ndarray:
    """Paper or cardboard: near white, fibrous, uneven; sometimes ruled lines."""
    colour = v1._pick_colour(rng, PAPER_COLOURS, 0.01)
    tone = 1.0 + 0.015 * fractal_noise(rng, size, (200, 100))
    for _ in range(2):
        tone += rng.uniform(0.005, 0.02) * streak_noise(rng, size, rng.uniform(8, 30), rng.uniform(0, np.pi))
    img = colour * tone[..., None]
    if rng.random() < 0.3:  # ruled lines: straight, evenly spaced, faint blue
        _, v = _rotated(size, rng.uniform(-0.05, 0.05))
        pitch = rng.uniform(0.05, 0.12) * min(size)
        line = np.clip(1 - np.abs((v % pitch) - pitch / 2) / max(0.6, pitch / 60), 0, 1)
        img = img + 0.35 * line[..., None] * (np.array([0.55, 0.70, 0.90], np.float32) - img)
    return v1._to_uint8(img)


def plaster(rng: np.random.Generator, size: Size) -> np.ndarray:
    """Painted plaster or stucco wall: a bumpy relief lit from one side."""
    colour = v1._pick_colour(rng, np.concatenate([PAPER_COLOURS, STONE_COLOURS]), 0.03)
    octaves = ((24, 12, 6), (12, 6, 3), (40, 20, 10, 5))
    height = fractal_noise(rng, size, octaves[int(rng.integers(len(octaves)))])
    gy, gx = np.gradient(height)
    light = rng.uniform(0, 2 * np.pi)
    relief = 1 + rng.uniform(0.2, 0.6) * (gx * math.cos(light) + gy * math.sin(light))
    tone = relief + 0.03 * fractal_noise(rng, size, (150,))
    return v1._to_uint8(colour * tone[..., None])


def wood(rng: np.random.Generator, size: Size) -> np.ndarray:
    """Wood: growth rings as long, gently wavy grain lines, with fine pores along them."""
    colour = v1._pick_colour(rng, WOOD_COLOURS, 0.03)
    angle = rng.uniform(0, np.pi)
    u, v = _rotated(size, angle)
    warp = rng.uniform(5, 25) * fractal_noise(rng, size, (300, 120)) + 0.002 * rng.uniform(-1, 1) * u**2 / 10
    period = rng.uniform(4, 14) * max(min(size) / 320, 0.5)
    rings = 0.5 + 0.5 * np.sin(2 * np.pi * (v + warp) / period)
    rings = rings ** rng.uniform(1.5, 4)  # thin dark latewood, wide light earlywood
    tone = 1 - rng.uniform(0.15, 0.35) * rings
    tone += rng.uniform(0.02, 0.05) * streak_noise(rng, size, rng.uniform(20, 60), angle)
    return v1._to_uint8(colour * tone[..., None])


def fabric(rng: np.random.Generator, size: Size) -> np.ndarray:
    """Woven fabric: a fine over-under weave of two thread directions, uneven threads."""
    colour = v1._pick_colour(rng, FABRIC_COLOURS, 0.04)
    u, v = _rotated(size, rng.uniform(0, np.pi))
    pitch = rng.uniform(2.5, 7) * max(min(size) / 320, 0.5)
    warp_threads = np.sin(2 * np.pi * u / pitch)
    weft_threads = np.sin(2 * np.pi * v / pitch)
    weave = warp_threads * weft_threads  # which thread is on top alternates
    tone = 1 + rng.uniform(0.06, 0.15) * weave + 0.04 * fractal_noise(rng, size, (100, 30))
    tone += 0.04 * np.abs(warp_threads) - 0.04
    return v1._to_uint8(colour * tone[..., None])


@functools.cache
def _photo(name: str) -> np.ndarray:
    try:
        from skimage import data
    except ImportError:  # pragma: no cover - a requirement; the sentence says what to do
        raise RuntimeError("the *_photo surfaces need scikit-image (pip install scikit-image)") from None
    return getattr(data, name)().astype(np.float32) / 255


def _photo_surface(name: str) -> Callable[[np.random.Generator, Size], np.ndarray]:
    def draw(rng: np.random.Generator, size: Size) -> np.ndarray:
        photo = _photo(name)
        crop = int(rng.uniform(0.5, 1.0) * photo.shape[0])
        y0, x0 = rng.integers(0, photo.shape[0] - crop + 1, 2)
        patch = np.rot90(photo[y0:y0 + crop, x0:x0 + crop], int(rng.integers(4)))
        if rng.random() < 0.5:
            patch = patch[:, ::-1]
        # Enlarged to cover the image (tiling would show mirrored seams), then cropped.
        zoom = max(size) / crop * rng.uniform(1.0, 1.3)
        patch = cv2.resize(np.ascontiguousarray(patch), None, fx=zoom, fy=zoom,
                           interpolation=cv2.INTER_AREA if zoom < 1 else cv2.INTER_CUBIC)
        dy, dx = (int(rng.integers(0, patch.shape[i] - size[i] + 1)) for i in (0, 1))
        tiled = patch[dy:dy + size[0], dx:dx + size[1]]
        mean = float(tiled.mean())
        grey = rng.uniform(0.35, 0.7) + rng.uniform(0.5, 1.1) * (tiled - mean)
        tint = v1._pick_colour(rng, PHOTO_TINTS, 0.03)
        return v1._to_uint8(grey[..., None] * tint)
    draw.__name__ = f"{name}_photo"
    draw.__doc__ = f"skimage.data.{name}() (CC0 photograph), cropped, rotated, enlarged, tinted."
    return draw


def rescaled(surface: Callable[[np.random.Generator, Size], np.ndarray], factor: float):
    """`surface` drawn at 1/factor of the size and enlarged: the same texture seen from closer."""
    def draw(rng: np.random.Generator, size: Size) -> np.ndarray:
        small = (max(8, round(size[0] / factor)), max(8, round(size[1] / factor)))
        return cv2.resize(surface(rng, small), (size[1], size[0]), interpolation=cv2.INTER_CUBIC)
    return draw


SURFACES: dict[str, Callable[[np.random.Generator, Size], np.ndarray]] = {
    **v1.SURFACES,  # plastic, concrete, painted_metal, ceramic
    "asphalt": asphalt,
    "brushed_metal": brushed_metal,
    "tile": tile,
    "stone": stone,
    "paper": paper,
    "plaster": plaster,
    "wood": wood,
    "fabric": fabric,
    "gravel_photo": _photo_surface("gravel"),
    "brick_photo": _photo_surface("brick"),
}
