"""Turning maps into pictures: numpy in, numpy (H, W, 3) uint8 RGB out. No figures, no UI."""

from __future__ import annotations

import cv2
import matplotlib
import numpy as np

from models import detectron2_compat  # noqa: F401  (must precede detectron2)

from detectron2.data import Metadata
from detectron2.structures import Instances
from detectron2.utils.colormap import colormap
from detectron2.utils.visualizer import ColorMode, Visualizer

SEQUENTIAL_CMAPS = ("inferno", "viridis", "magma", "plasma", "jet", "gray")
DIVERGING_CMAP = "RdBu_r"


def normalize(values: np.ndarray, *, low_pct: float = 0.0, high_pct: float = 100.0) -> np.ndarray:
    """Scale to [0, 1] between two percentiles; a flat map becomes all zeros."""
    values = np.asarray(values, dtype=np.float32)
    lo, hi = np.percentile(values, [low_pct, high_pct]) if values.size else (0.0, 0.0)
    if hi - lo < 1e-12:
        return np.zeros_like(values)
    return np.clip((values - lo) / (hi - lo), 0.0, 1.0)


def colorize(map01: np.ndarray, cmap: str = "inferno") -> np.ndarray:
    """A [0, 1] map through a matplotlib colormap."""
    rgba = matplotlib.colormaps[cmap](np.clip(map01, 0.0, 1.0))
    return (rgba[..., :3] * 255).round().astype(np.uint8)


def colorbar(vmin: float, vmax: float, cmap: str, *, label: str = "", width: int = 480, ticks: int = 5) -> np.ndarray:
    """A horizontal colour bar on white: `cmap` from `vmin` (left) to `vmax` (right), `ticks`
    values under it, then `label`. (h, width, 3) uint8, h about width / 8."""
    font, scale, thick = cv2.FONT_HERSHEY_SIMPLEX, width / 960, max(1, round(width / 480))
    (_, text_h), base = cv2.getTextSize("0", font, scale, thick)
    margin, bar_h, line = max(4, width // 60), max(8, width // 30), text_h + base + max(3, width // 120)
    picture = np.full((bar_h + line * (1 + bool(label)) + 2 * margin, width, 3), 255, np.uint8)
    inner = width - 2 * margin
    picture[margin:margin + bar_h, margin:width - margin] = colorize(np.linspace(0, 1, inner)[None, :], cmap)
    step = abs(vmax - vmin) / max(ticks - 1, 1)
    digits = min(6, max(2, 1 - int(np.floor(np.log10(step))) if step > 0 else 2))  # ticks that differ
    label = label.replace("–", "-").replace("±", "+/-").replace("−", "-")  # cv2's font is ASCII only
    for i in range(ticks):
        x = margin + round(i * (inner - 1) / max(ticks - 1, 1))
        text = f"{vmin + (vmax - vmin) * i / max(ticks - 1, 1):.{digits}f}"
        text_w = cv2.getTextSize(text, font, scale, thick)[0][0]
        left = min(max(x - text_w // 2, 0), width - text_w)  # the end values stay inside
        cv2.line(picture, (x, margin + bar_h), (x, margin + bar_h + 3), (0, 0, 0), 1)
        cv2.putText(picture, text, (left, margin + bar_h + line - base), font, scale, (0, 0, 0), thick, cv2.LINE_AA)
    if label:
        text_w = cv2.getTextSize(label, font, scale, thick)[0][0]
        cv2.putText(picture, label, (max(0, (width - text_w) // 2), margin + bar_h + 2 * line - base), font, scale,
                    (60, 60, 60), thick, cv2.LINE_AA)
    return picture


def resize_to(array: np.ndarray, height: int, width: int, *, nearest: bool = False) -> np.ndarray:
    """(h, w[, C]) -> (height, width[, C]), bilinear (or nearest-neighbour for masks and labels)."""
    interpolation = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    return cv2.resize(array, (width, height), interpolation=interpolation)


def overlay(image: np.ndarray, map01: np.ndarray, *, alpha: float = 0.5, cmap: str = "inferno") -> np.ndarray:
    """A heatmap over the image; the map is resized to the image if needed."""
    h, w = image.shape[:2]
    if map01.shape != (h, w):
        map01 = resize_to(map01.astype(np.float32), h, w)
    heat = colorize(map01, cmap).astype(np.float32)
    return ((1 - alpha) * image.astype(np.float32) + alpha * heat).round().astype(np.uint8)


def diverging(diff: np.ndarray, *, limit: float | None = None, cmap: str = DIVERGING_CMAP) -> np.ndarray:
    """A signed map on a diverging colormap, symmetric around zero (white = no difference)."""
    limit = limit if limit is not None else float(np.abs(diff).max(initial=0.0))
    scaled = 0.5 + 0.5 * np.asarray(diff, np.float32) / max(limit, 1e-12)
    return colorize(scaled, cmap)


def activation_energy(features: np.ndarray) -> np.ndarray:
    """Per-pixel summary of a (C, h, w) feature map: mean absolute activation, (h, w)."""
    return np.abs(features).mean(axis=0)


def top_channels(features: np.ndarray | None, k: int | None = None, *,
                 weights: np.ndarray | None = None) -> np.ndarray:
    """Indices of the k strongest channels (None: all), strongest first, ties in channel order:
    by the given (C,) per-channel `weights` (e.g. the channel attention), else by the mean
    absolute activation of the (C, h, w) `features`. The one channel ranking of the project."""
    score = np.asarray(weights if weights is not None else np.abs(features).mean(axis=(1, 2)))
    order = np.argsort(-score, kind="stable")
    return order if k is None else order[: min(k, len(score))]


def channel_grid(features: np.ndarray, channels: np.ndarray, *, cols: int = 4, cell: int = 96,
                 cmap: str = "viridis", gap: int = 2, labels: bool = False) -> np.ndarray:
    """The chosen channels side by side, each normalised on its own, as one RGB image.
    With `labels`, each tile carries its channel index in its top-left corner."""
    channels = list(channels)
    rows = max(1, -(-len(channels) // cols))
    h, w = features.shape[1:]
    cell_h, cell_w = (cell, max(1, round(cell * w / h))) if h >= w else (max(1, round(cell * h / w)), cell)
    grid = np.full((rows * (cell_h + gap) - gap, cols * (cell_w + gap) - gap, 3), 255, np.uint8)
    for i, c in enumerate(channels):
        r, q = divmod(i, cols)
        tile = colorize(normalize(resize_to(features[c], cell_h, cell_w, nearest=True)), cmap)
        if labels:
            _label_tile(tile, str(c))
        grid[r * (cell_h + gap): r * (cell_h + gap) + cell_h, q * (cell_w + gap): q * (cell_w + gap) + cell_w] = tile
    return grid


def _label_tile(tile: np.ndarray, text: str) -> None:
    """Write `text` into the tile's top-left corner, white on a dark box (readable on any
    colour of the tile), in place."""
    scale = max(0.3, min(tile.shape[:2]) / 260)
    thickness = max(1, round(scale * 1.5))
    (text_w, text_h), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    origin = (3, 3 + text_h)
    cv2.rectangle(tile, (0, 0), (text_w + 5, text_h + baseline + 5), (0, 0, 0), cv2.FILLED)
    cv2.putText(tile, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thickness, cv2.LINE_AA)


def instance_palette() -> np.ndarray:
    """detectron2's own distinct colours, (N, 3) RGB in [0, 1], in a fixed order."""
    return colormap(rgb=True, maximum=1)


def label_font_size(height: int, width: int) -> float:
    """Label size in points for an (height, width) picture: about 1/45 of its geometric mean
    (twice detectron2's default), so labels stay readable when the picture is shrunk to a column."""
    return max(7.0, float(np.sqrt(height * width)) / 45)


Rect = tuple[float, float, float, float]  # x0, y0, x1, y1 in image pixels


def _overlaps(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def layout_labels(sizes: list[tuple[float, float]], boxes: list[Rect], width: int, height: int, *,
                  placed: list[Rect] | None = None, reach: int | None = 2) -> list[Rect | None]:
    """Where to put each label ((w, h) in pixels) of each box, in order (most important first):
    above the box, inside its top, below it, inside its bottom, then up to `reach` label heights
    further down or up along its left edge (None: anywhere in the image); the first spot inside
    the image that overlaps no label placed before (nor the rectangles `placed` already holds).
    None where no spot near enough is free (a crowded picture)."""
    placed = list(placed or [])
    found: list[Rect | None] = []
    for (w, h), (bx0, by0, bx1, by1) in zip(sizes, boxes):
        def clamp(x: float, y: float, w: float = w, h: float = h) -> Rect:
            x, y = min(max(x, 0.0), max(width - w, 0.0)), min(max(y, 0.0), max(height - h, 0.0))
            return (x, y, x + w, y + h)

        candidates = [clamp(bx0, by0 - h), clamp(bx0, by0), clamp(bx0, by1), clamp(bx0, by1 - h),
                      clamp(bx1 - w, by0 - h), clamp(bx1 - w, by1)]
        steps = range(1, (int(height / max(h, 1)) if reach is None else reach) + 2)
        candidates += [clamp(bx0, by0 + k * h) for k in steps] + [clamp(bx0, by0 - (k + 1) * h) for k in steps]
        if reach is None:
            candidates += [clamp(x, y) for y in np.arange(0, height, h) for x in np.arange(0, width, max(w / 2, 1))]
        free = next((c for c in candidates if not any(_overlaps(c, p) for p in placed)), None)
        if free is not None:
            placed.append(free)
        found.append(free)
    return found


def _legend_strip(lines: list[tuple[str, tuple]], width: int, font_px: float) -> np.ndarray:
    """A white strip listing `lines` ((text, RGB in [0, 1])) in columns: the lettered legend of
    the labels that found no free spot on the picture."""
    scale = max(font_px / 22, 0.35)
    thickness = max(1, round(scale * 1.5))
    (tw, th), _ = cv2.getTextSize(max((t for t, _ in lines), key=len), cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    cell_w, cell_h = tw + 16, th + 10
    cols = max(1, width // cell_w)
    rows = -(-len(lines) // cols)
    strip = np.full((rows * cell_h + 6, width, 3), 255, np.uint8)
    for k, (text, color) in enumerate(lines):
        x, y = 8 + (k % cols) * cell_w, 4 + (k // cols + 1) * cell_h - 6
        rgb = tuple(int(255 * v * 0.8) for v in color)  # a little darker: readable on white
        cv2.putText(strip, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, rgb, thickness, cv2.LINE_AA)
    return strip


def legend_tag(index: int) -> str:
    """The tag of the index-th crowded label: "a" ... "z", "aa", "ab", ... (letters, as the labels'
    numbers are the instances')."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    return letters[index] if index < 26 else legend_tag(index // 26 - 1) + letters[index % 26]


def draw_labelled_instances(image: np.ndarray, instances: Instances, class_names: list[str], *,
                            score_threshold: float = 0.5, colors: dict | None = None,
                            line_styles: dict | None = None, notes: dict | None = None) -> tuple[np.ndarray, list]:
    """The instances scoring at least `score_threshold` drawn by detectron2's Visualizer on the
    (H, W, 3) image: masks, boxes and 'class score' labels sized to the image and placed apart.
    Per instance index, optional: `colors` (RGB in [0, 1]; default detectron2's palette in
    order), `line_styles` of the box (matplotlib: "-", "--", ":") and `notes` added to the label.
    Where a label finds no free spot, the box gets a letter instead (legend_tag) and the label
    goes to a legend in a strip under the picture.
    Returns the (H + strip, W, 3) uint8 picture and the label rectangles (x0, y0, x1, y1) drawn."""
    visualizer = Visualizer(image, Metadata(thing_classes=list(class_names)), instance_mode=ColorMode.IMAGE)
    scores = instances.scores.numpy() if len(instances) else np.zeros(0)
    keep = [int(i) for i in np.argsort(-scores, kind="stable") if scores[i] >= score_threshold]
    if not keep:
        return visualizer.output.get_image(), []
    palette = instance_palette()
    colors = [tuple((colors or {}).get(i, palette[k % len(palette)])) for k, i in enumerate(keep)]
    if instances.has("pred_masks"):
        visualizer.overlay_instances(masks=instances.pred_masks[keep].numpy(), assigned_colors=colors, alpha=0.5)
    boxes = [tuple(float(v) for v in instances.pred_boxes.tensor[i].tolist()) for i in keep]
    for i, box, color in zip(keep, boxes, colors):
        visualizer.draw_box(box, alpha=1.0, edge_color=color, line_style=(line_styles or {}).get(i, "-"))
    font = label_font_size(*image.shape[:2])
    texts = []
    for i, color in zip(keep, colors):
        name = class_names[int(instances.pred_classes[i])] if int(instances.pred_classes[i]) < len(class_names) \
            else f"class {int(instances.pred_classes[i])}"
        note = (notes or {}).get(i)
        visualizer.draw_text(f"{name} {scores[i]:.0%}" + (f" · {note}" if note else ""), (0, 0), font_size=font,
                             color=color, horizontal_alignment="left")
        texts.append(visualizer.output.ax.texts[-1])
    # Measure each label as drawn (text and its padded background) and move it to a free spot.
    renderer = visualizer.output.fig.canvas.get_renderer()
    sizes, offsets = [], []
    for text in texts:
        text.update_bbox_position_size(renderer)
        patch = text.get_bbox_patch().get_window_extent(renderer)
        anchor = text.get_window_extent(renderer)
        sizes.append((patch.width, patch.height))
        offsets.append((anchor.x0 - patch.x0, patch.y1 - anchor.y1))  # the padding left of / above the text
    height, width = image.shape[:2]
    rects = layout_labels(sizes, boxes, width, height)
    legend = []
    crowded = [k for k, rect in enumerate(rects) if rect is None]
    for number, k in enumerate(crowded):  # a letter on the box (numbers are the instances'), the label in the legend
        tag = legend_tag(number)
        legend.append((f"{tag}: {texts[k].get_text()}", colors[k]))
        texts[k].set_text(tag)
        texts[k].update_bbox_position_size(renderer)
        patch = texts[k].get_bbox_patch().get_window_extent(renderer)
        anchor = texts[k].get_window_extent(renderer)
        sizes[k], offsets[k] = (patch.width, patch.height), (anchor.x0 - patch.x0, patch.y1 - anchor.y1)
    if crowded:
        tags = layout_labels([sizes[k] for k in crowded], [boxes[k] for k in crowded], width, height,
                             placed=[r for r in rects if r is not None], reach=None)
        for k, tag in zip(crowded, tags):  # no free spot even for a letter: on its box's corner
            w, h = sizes[k]
            rects[k] = tag or (boxes[k][0], boxes[k][1], boxes[k][0] + w, boxes[k][1] + h)
    for text, rect, (dx, dy), box, color in zip(texts, rects, offsets, boxes, colors):
        text.set_position((rect[0] + dx, rect[1] + dy))
        near = (box[0] - 2, box[1] - (rect[3] - rect[1]) - 2, box[2] + 2, box[3] + (rect[3] - rect[1]) + 2)
        if not _overlaps(rect, near):  # moved away from its box: a leader line back to it
            ends = ((rect[0] + rect[2]) / 2, rect[1] if rect[1] > box[3] else rect[3]), \
                   (min(max((rect[0] + rect[2]) / 2, box[0]), box[2]), box[3] if rect[1] > box[3] else box[1])
            visualizer.draw_line([ends[0][0], ends[1][0]], [ends[0][1], ends[1][1]], color, linewidth=1.5)
    picture = visualizer.output.get_image()
    if legend:
        picture = np.concatenate([picture, _legend_strip(legend, width, font)], axis=0)
    return picture, rects


def draw_instances(image: np.ndarray, instances: Instances, class_names: list[str], *,
                   score_threshold: float = 0.5, **style) -> np.ndarray:
    """The instances scoring at least `score_threshold`, drawn (see draw_labelled_instances): (H, W, 3) uint8."""
    return draw_labelled_instances(image, instances, class_names, score_threshold=score_threshold, **style)[0]
