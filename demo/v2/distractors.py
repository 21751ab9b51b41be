"""Distractor kinds of recipe v2: name -> function(rng, (height, width), base colour) -> overlays.

Recipe v1's five kinds (demo/distractors.py) are reused as they are. The new ones are things a
photo of a surface holds that look, to an edge detector, like cracks: saw-cut joints, cast
shadows of thin objects, cables, clusters of fibres, drip streaks, the edge of the object, and
(only in the unseen split) pen marks and twigs. None are labelled. Sizes are in units of a 320 px
image, like the crack widths.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import cv2
import numpy as np

from demo import distractors as v1
from demo.distractors import Overlay
from demo.raster import bent_curve, line_coverage, random_chord, ribbon, ribbon_coverage

Size = tuple[int, int]

WIRE_COLOURS = np.array([[0.05, 0.05, 0.05], [0.9, 0.9, 0.88], [0.75, 0.12, 0.1], [0.15, 0.3, 0.7],
                         [0.5, 0.5, 0.5], [0.9, 0.75, 0.1]], np.float32)
INK_COLOURS = np.array([[0.1, 0.15, 0.55], [0.05, 0.05, 0.08], [0.7, 0.1, 0.1], [0.1, 0.45, 0.2]], np.float32)


def _unit(shape: Size) -> float:
    return min(shape) / 320


def joint(rng: np.random.Generator, shape: Size, base: np.ndarray) -> list[Overlay]:
    """Saw-cut or expansion joint: a straight dark groove of even width across the image."""
    u = _unit(shape)
    p0, p2 = random_chord(rng, shape, 3 * max(shape))
    pts = np.stack([p0, p2])
    width = u * rng.uniform(2, 6)
    d = (p2 - p0) / np.hypot(*(p2 - p0))
    edge = np.array([-d[1], d[0]]) * (width / 2 + u)
    return [v1._line_overlay(shape, pts, width, rng.uniform(0.4, 0.8), base * 0.3),
            v1._line_overlay(shape, pts + edge, u * rng.uniform(0.8, 1.5), rng.uniform(0.15, 0.35),
                             np.minimum(base + 0.3, 1.0))]


def cast_shadow(rng: np.random.Generator, shape: Size, base: np.ndarray) -> list[Overlay]:
    """Soft shadow of a thin object (a stick, a cable, a pen) lying across the light."""
    u = _unit(shape)
    p0, p2 = random_chord(rng, shape, rng.uniform(0.5, 1.5) * max(shape))
    pts = bent_curve(rng, p0, p2, 0.08)
    cover = line_coverage(shape, pts, u * rng.uniform(3, 15))
    alpha = rng.uniform(0.25, 0.6) * cv2.GaussianBlur(cover, (0, 0), u * rng.uniform(1.5, 6))
    return [Overlay(alpha.astype(np.float32), (base * 0.25).astype(np.float32))]


def wire(rng: np.random.Generator, shape: Size, base: np.ndarray) -> list[Overlay]:
    """A cable lying on the surface: even width, smooth, a highlight along it, a shadow beside it."""
    u = _unit(shape)
    p0, p2 = random_chord(rng, shape, rng.uniform(0.6, 2.0) * max(shape))
    pts = bent_curve(rng, p0, p2, 0.15)
    width = u * rng.uniform(2, 6)
    colour = WIRE_COLOURS[rng.integers(len(WIRE_COLOURS))]
    offset = u * rng.uniform(1, 4) * np.array([1, 1])
    shadow = cv2.GaussianBlur(line_coverage(shape, pts + offset, width * 1.2), (0, 0), u * 1.5)
    return [Overlay(0.5 * shadow, (base * 0.3).astype(np.float32)),
            v1._line_overlay(shape, pts, width, 1.0, colour),
            v1._line_overlay(shape, pts - width * 0.2, width * 0.25, rng.uniform(0.2, 0.5),
                             np.minimum(colour + 0.5, 1.0))]


def fibres(rng: np.random.Generator, shape: Size, base: np.ndarray) -> list[Overlay]:
    """A few hairs or threads close together."""
    return [o for _ in range(int(rng.integers(2, 6))) for o in v1.hair(rng, shape, base)]


def drip(rng: np.random.Generator, shape: Size, base: np.ndarray) -> list[Overlay]:
    """Water or rust run-marks: soft streaks running down from a line, thinning as they go."""
    h, w = shape
    u = _unit(shape)
    x0, y0 = rng.uniform(0.1, 0.9) * w, rng.uniform(0.0, 0.6) * h
    colour = (base * rng.uniform([0.5, 0.4, 0.3], [0.8, 0.7, 0.6])).astype(np.float32)
    ribbons = []
    for _ in range(int(rng.integers(2, 7))):
        length = rng.uniform(0.15, 0.6) * h
        n = 30
        ys = y0 + rng.uniform(-3, 3) * u + np.linspace(0, length, n)
        xs = x0 + rng.uniform(-0.15, 0.15) * w + np.cumsum(rng.normal(0, 0.3 * u, n))
        half = u * rng.uniform(1.5, 5) * np.linspace(1, 0.2, n)
        ribbons.append(ribbon(np.stack([xs, ys], axis=1), half, half))
    alpha = cv2.GaussianBlur(ribbon_coverage(shape, ribbons), (0, 0), u * rng.uniform(1, 3))
    return [Overlay((rng.uniform(0.15, 0.4) * alpha).astype(np.float32), colour)]


def object_edge(rng: np.random.Generator, shape: Size, base: np.ndarray) -> list[Overlay]:
    """The edge of the object: beyond a smooth boundary near the border lies the background,
    with a dark contact shadow along the boundary and a thin highlight on the object's rim."""
    h, w = shape
    u = _unit(shape)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    c, s = math.cos(angle), math.sin(angle)
    reach = 0.5 * (abs(c) * w + abs(s) * h)
    depth = reach * rng.uniform(0.5, 0.9)  # the boundary sits this far from the centre
    along = -(xs - w / 2) * s + (ys - h / 2) * c
    out = (xs - w / 2) * c + (ys - h / 2) * s - depth + rng.uniform(-0.3, 0.3) * along**2 / max(shape)
    background = np.clip(out / max(u, 0.5) + 0.5, 0, 1)
    tone = rng.uniform(0.1, 0.4) if rng.random() < 0.7 else rng.uniform(1.3, 1.8)
    bg_colour = np.clip(base[::-1] * tone if rng.random() < 0.5 else base * tone, 0, 1).astype(np.float32)
    shadow = np.exp(-0.5 * (out / (u * rng.uniform(2, 8))) ** 2) * (out < 0)
    rim = np.exp(-0.5 * ((out + 2 * u) / u) ** 2)
    return [Overlay((rng.uniform(0.2, 0.5) * shadow).astype(np.float32), (base * 0.2).astype(np.float32)),
            Overlay((rng.uniform(0.1, 0.4) * rim).astype(np.float32), np.ones(3, np.float32)),
            Overlay(background.astype(np.float32), bg_colour)]


def pen_mark(rng: np.random.Generator, shape: Size, base: np.ndarray) -> list[Overlay]:
    """An ink line: a smooth, looping hand-drawn stroke of even width."""
    h, w = shape
    u = _unit(shape)
    t = np.linspace(0, 1, 200)
    size = rng.uniform(0.15, 0.5) * min(shape)
    path = np.zeros((len(t), 2))
    for k in range(1, 4):  # a few sinusoids make scribbles and loops
        amp = size / k * rng.uniform(0.3, 1.0, 2)
        path += amp * np.stack([np.sin(2 * np.pi * k * t * rng.uniform(0.5, 2) + rng.uniform(0, 6)),
                                np.cos(2 * np.pi * k * t * rng.uniform(0.5, 2) + rng.uniform(0, 6))], axis=1)
    path += rng.uniform([0.2 * w, 0.2 * h], [0.8 * w, 0.8 * h])
    colour = INK_COLOURS[rng.integers(len(INK_COLOURS))]
    return [v1._line_overlay(shape, path, u * rng.uniform(1.0, 2.5), rng.uniform(0.6, 0.95), colour)]


def twig(rng: np.random.Generator, shape: Size, base: np.ndarray) -> list[Overlay]:
    """A small twig or root: brown, smooth, tapering, with one or two side shoots and a shadow."""
    u = _unit(shape)
    colour = np.array([0.35, 0.24, 0.14], np.float32) * rng.uniform(0.6, 1.4)
    p0, p2 = random_chord(rng, shape, rng.uniform(0.3, 0.8) * min(shape))
    main = bent_curve(rng, p0, p2, 0.1)
    strokes = [(main, u * rng.uniform(2.5, 6))]
    for _ in range(int(rng.integers(1, 3))):
        k = int(rng.integers(len(main) // 4, 3 * len(main) // 4))
        d = main[k + 1] - main[k - 1]
        angle = math.atan2(d[1], d[0]) + rng.choice([-1, 1]) * rng.uniform(0.4, 0.9)
        end = main[k] + rng.uniform(0.2, 0.5) * np.hypot(*(p2 - p0)) * np.array([math.cos(angle), math.sin(angle)])
        strokes.append((bent_curve(rng, main[k], end, 0.1), strokes[0][1] * rng.uniform(0.4, 0.7)))
    ribbons = [ribbon(pts, np.linspace(wd, wd * 0.4, len(pts)) / 2, np.linspace(wd, wd * 0.4, len(pts)) / 2)
               for pts, wd in strokes]
    body = ribbon_coverage(shape, ribbons)
    offset = u * rng.uniform(2, 4)
    shadow = cv2.GaussianBlur(np.roll(body, (int(offset), int(offset)), axis=(0, 1)), (0, 0), u * 1.5)
    return [Overlay(0.4 * shadow, (base * 0.3).astype(np.float32)),
            Overlay(body, np.clip(colour, 0, 1))]


DISTRACTORS: dict[str, Callable[[np.random.Generator, Size, np.ndarray], list[Overlay]]] = {
    **v1.DISTRACTORS,  # scratch, seam, hair, stain, texture_edge
    "joint": joint,
    "cast_shadow": cast_shadow,
    "wire": wire,
    "fibres": fibres,
    "drip": drip,
    "object_edge": object_edge,
    "pen_mark": pen_mark,
    "twig": twig,
}
# Part of the surface, drawn before the cracks; the others lie on top and may hide parts of them.
UNDER_CRACKS = v1.UNDER_CRACKS | {"joint", "drip", "object_edge"}
