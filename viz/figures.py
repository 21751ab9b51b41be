"""Publication figures with matplotlib: the views' panels (viz.views) arranged with titles and
colour bars, saved as PNG and PDF.

Built with matplotlib's object API (no pyplot): no global state, safe from several threads.
"""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from viz.analysis import Comparison, ModelAnalysis
from viz.compare import match_instances
from viz.render import draw_instances
from viz.views import Panel, Scale
from viz.views.attention import MAP_PANELS, attention_stages, channel_bars, stage_panels
from viz.views.compare import cam_difference_panel, feature_difference_panels
from viz.views.detections import LEGEND as DETECTIONS_LEGEND
from viz.views.detections import detection_panels, instance_box, instance_label
from viz.views.gradcam import cam_panel, cam_scale


def _image_axis(ax, picture: np.ndarray, title: str) -> None:
    ax.imshow(picture)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def _scale_bar(fig, axes, scale: Scale) -> None:
    """A horizontal colour bar under `axes` (one axis or several sharing the scale), labelled."""
    mappable = ScalarMappable(Normalize(scale.vmin, scale.vmax), scale.cmap)
    bar = fig.colorbar(mappable, ax=axes, orientation="horizontal", fraction=0.06, pad=0.02, aspect=30, shrink=0.9)
    bar.set_label(scale.label, fontsize=8)
    bar.ax.tick_params(labelsize=7)


def _panel_axis(fig, ax, panel: Panel, *, title: str | None = None, bar: bool = True) -> None:
    """A view's panel as the page shows it: its picture, title, and the colour bar of its scale."""
    _image_axis(ax, panel.image, title or panel.title)
    if bar and panel.scale is not None:
        _scale_bar(fig, ax, panel.scale)


def _header(image_name: str, analyses: list[ModelAnalysis]) -> str:
    """'image.png · with: BAM · without: baseline · score ≥ 0.50' (one model: its label)."""
    roles = ("with", "without") if len(analyses) == 2 else ("model",)
    parts = ([image_name] if image_name else []) + [f"{r}: {a.label}" for r, a in zip(roles, analyses)]
    return " · ".join(parts + [f"score ≥ {analyses[0].score_threshold:.2f}"])


def hierarchical_attention_figure(analysis: ModelAnalysis, image: np.ndarray, *, cmap: str = "inferno",
                                  on_image: bool = False, alpha: float = 0.5, top_k: int = 24,
                                  stretch: bool = False, image_name: str = "") -> Figure:
    """One row per attention stage (c2, c3, c4): input feature, channel, spatial and combined
    attention, refined feature: the attention view's panels (viz.views.attention), each with the
    colour bar of its scale (attention: absolute [0, 1] unless `stretch`). Maps alone show their
    true values; on the image, the pictures."""
    stages = attention_stages(analysis)
    if not stages:
        raise ValueError(f"{analysis.label} has no attention modules: nothing to draw")
    aspect = image.shape[0] / image.shape[1]
    fig = Figure(figsize=(16, (3.2 * aspect + 1.2) * len(stages) + 0.5), layout="constrained")
    axes = fig.subplots(len(stages), 5, squeeze=False)
    for row, stage in zip(axes, stages):
        panels = stage_panels(analysis, image, stage, on_image=on_image, alpha=alpha, cmap=cmap, stretch=stretch)
        bars = channel_bars(analysis, stage, top_k)
        row[1].bar(range(len(bars.channels)), bars.weights, color="#4C72B0")
        row[1].set_xticks(range(len(bars.channels)), [str(c) for c in bars.channels], rotation=90, fontsize=6)
        row[1].set_ylim(0, 1)
        row[1].set_title(bars.title, fontsize=9)
        for ax, name in zip((row[0], *row[2:]), MAP_PANELS):
            _panel_axis(fig, ax, panels[name])
    spec = analysis.capture.attention[stages[-1]].spec
    fig.suptitle(" · ".join([f"{analysis.label}: hierarchical attention ({spec.title})"]
                            + ([image_name] if image_name else [])), fontsize=11)
    return fig


def detections_figure(with_att: ModelAnalysis, without_att: ModelAnalysis | None, image: np.ndarray, *,
                      image_name: str = "") -> Figure:
    """The detections of one model, or of both side by side (without, with) with one colour per
    instance, shared by matched instances, and kept / gained / lost in the box outline."""
    if without_att is None:
        panels = [Panel(with_att.label, draw_instances(image, with_att.capture.instances, list(with_att.class_names),
                                                       score_threshold=with_att.score_threshold),
                        f"{len(with_att.detections)} detections")]
    else:
        diff = match_instances(with_att.capture.instances, without_att.capture.instances,
                               score_threshold=min(with_att.score_threshold, without_att.score_threshold))
        panels = list(detection_panels(with_att, without_att, diff, image))
    aspect = max(p.image.shape[0] / p.image.shape[1] for p in panels)  # a crowded picture adds a legend strip
    fig = Figure(figsize=(6.5 * len(panels), 6.5 * aspect + 1.0), layout="constrained")
    for ax, panel in zip(fig.subplots(1, len(panels), squeeze=False)[0], panels):
        _image_axis(ax, panel.image, f"{panel.title}: {panel.caption}")
    fig.suptitle(_header(image_name, [a for a in (with_att, without_att) if a is not None]), fontsize=11)
    if without_att is not None:
        fig.supxlabel(DETECTIONS_LEGEND, fontsize=8)
    return fig


def cam_figure(analyses: list[ModelAnalysis], image: np.ndarray, *, cmap: str = "jet", alpha: float = 0.5,
               image_name: str = "") -> Figure:
    """Every CAM of the analyses over the image, with its box and the [0, 1] colour bar."""
    cams = [(a, key, cam) for a in analyses for key, cam in a.cams.items()]
    if not cams:
        raise ValueError("no CAMs computed (no detection above the threshold?)")
    aspect = image.shape[0] / image.shape[1]
    fig = Figure(figsize=(4.5 * len(cams), 4.5 * aspect + 1.6), layout="constrained")
    axes = fig.subplots(1, len(cams), squeeze=False)[0]
    for ax, (a, (index, layer), cam) in zip(axes, cams):
        score = float(a.capture.instances.scores[index])
        panel = cam_panel(f"{a.label}\n{a.cam_method} ({a.cam_target}) at {layer}, instance {index} ({score:.2f})",
                          image, cam, alpha=alpha, cmap=cmap, box=instance_box(a, index)[0])
        _panel_axis(fig, ax, panel, bar=False)
    _scale_bar(fig, list(axes), cam_scale(cmap))
    fig.suptitle(_header(image_name, analyses), fontsize=11)
    return fig


def comparison_figure(with_att: ModelAnalysis, without_att: ModelAnalysis, comparison: Comparison,
                      image: np.ndarray, *, image_name: str = "") -> Figure:
    """The before/after figure, one row each, every row as wide as the page: detections of both
    models (one colour per instance), per-stage feature differences on one shared scale (red:
    stronger with attention), and per matched instance its CAM without, with (its box drawn)
    and their difference."""
    aspect = image.shape[0] / image.shape[1]
    width = 13.0
    diffs = feature_difference_panels(with_att, comparison.feature_diffs, image)
    matches = sorted(comparison.detections.kept, key=lambda m: -m.score_with)
    cam_rows = [(k, layer, d) for (k, layer), d in comparison.cam_diffs.items() if k < len(matches)]
    heights = [width / 2 * aspect + 0.5] + ([width / max(len(diffs), 1) * aspect + 0.9] if diffs else []) \
        + [width / 3 * aspect + 0.9] * len(cam_rows)
    heading = 0.3  # inches: each row's title stands in a strip of its own above the row (a subfigure's
    # suptitle landed on the panel titles in constrained layout's first draw)
    fig = Figure(figsize=(width, sum(heights) + heading * len(heights) + 0.9), layout="constrained")
    strips = fig.subfigures(2 * len(heights), 1, height_ratios=[h for row in heights for h in (heading, row)],
                            squeeze=False)[:, 0]
    headings, rows = strips[0::2], strips[1::2]
    for ax, panel in zip(rows[0].subplots(1, 2), detection_panels(with_att, without_att, comparison.detections, image)):
        _image_axis(ax, panel.image, f"{panel.title}: {panel.caption}")
    d = comparison.detections
    _heading(headings[0], f"kept {len(d.kept)} · gained {len(d.gained)} · lost {len(d.lost)} — {DETECTIONS_LEGEND}",
             fontsize=8)
    if diffs:
        axes = rows[1].subplots(1, len(diffs), squeeze=False)[0]
        for ax, panel in zip(axes, diffs):
            _panel_axis(fig, ax, panel, title=f"{panel.title}\n{panel.caption}", bar=False)
        _scale_bar(rows[1], list(axes), diffs[0].scale)
        _heading(headings[1], "Mean |activation| per stage, each model normalised to [0, 1]: with − without")
    for heading_strip, row, (k, layer, cam_diff) in zip(headings[1 + bool(diffs):], rows[1 + bool(diffs):], cam_rows):
        match = matches[k]
        axes = row.subplots(1, 3)
        for ax, analysis, index, cams in ((axes[0], without_att, match.index_without, comparison.cams[1]),
                                          (axes[1], with_att, match.index_with, comparison.cams[0])):
            cam = cams.get((index, layer))
            if cam is None:
                ax.set_axis_off()
                continue
            _panel_axis(fig, ax, cam_panel(f"{analysis.label}: {instance_label(analysis, index)}", image, cam,
                                           box=instance_box(analysis, index)[0]), bar=False)
        if any(ax.images for ax in axes[:2]):
            _scale_bar(row, list(axes[:2]), cam_scale())
        panel = cam_difference_panel(image, cam_diff)
        _panel_axis(row, axes[2], panel, title=f"{panel.title}\n({panel.caption})")
        axes[2].add_patch(Rectangle(*_xywh(instance_box(with_att, match.index_with)[0]), fill=False,
                                    edgecolor="black", linewidth=1.2))
        _heading(heading_strip, f"{with_att.cam_method} at {layer}, matched instance {k}")
    fig.suptitle(f"With vs without attention · {_header(image_name, [with_att, without_att])}", fontsize=11)
    return fig


SLIDE = (13.333, 7.5)  # inches: a 16:9 presentation page


def comparison_slides(with_att: ModelAnalysis, without_att: ModelAnalysis, comparison: Comparison,
                      image: np.ndarray, *, image_name: str = "") -> list[Figure]:
    """The before/after of `comparison_figure` as 16:9 pages for a presentation: one page with
    both models' detections (left) and the per-stage feature differences on one shared scale
    (right), then one page per matched instance with a CAM difference (CAM without, with, and
    their difference).

    Returns:
        The pages, each a Figure of SLIDE inches.
    """
    header = _header(image_name, [with_att, without_att])
    d = comparison.detections
    first = Figure(figsize=SLIDE, layout="constrained")
    left, right = first.subfigures(1, 2, width_ratios=[2, 1.15])
    for ax, panel in zip(left.subplots(1, 2), detection_panels(with_att, without_att, d, image)):
        _image_axis(ax, panel.image, f"{panel.title}\n{panel.caption}")
    legend = textwrap.fill(DETECTIONS_LEGEND[0].upper() + DETECTIONS_LEGEND[1:] + ".", 110)
    left.suptitle(f"kept {len(d.kept)} · gained {len(d.gained)} · lost {len(d.lost)}\n{legend}", fontsize=9)
    diffs = feature_difference_panels(with_att, comparison.feature_diffs, image)
    if diffs:
        cols = 2 if len(diffs) > 1 else 1
        axes = right.subplots(-(-len(diffs) // cols), cols, squeeze=False)
        for ax, panel in zip(axes.flat, diffs):
            _image_axis(ax, panel.image, f"{panel.title}\n{panel.caption}")
        for ax in list(axes.flat)[len(diffs):]:
            ax.set_axis_off()
        _scale_bar(right, list(axes.flat), diffs[0].scale)
        right.suptitle("Mean |activation| per stage, each model\nnormalised to [0, 1]: with − without", fontsize=9)
    first.suptitle(f"With vs without attention · {header}", fontsize=12)
    pages = [first]
    matches = sorted(comparison.detections.kept, key=lambda m: -m.score_with)
    for (k, layer), cam_diff in sorted(comparison.cam_diffs.items()):
        if k >= len(matches):
            continue
        match, page = matches[k], Figure(figsize=SLIDE, layout="constrained")
        axes = page.subplots(1, 3)
        for ax, analysis, index, cams in ((axes[0], without_att, match.index_without, comparison.cams[1]),
                                          (axes[1], with_att, match.index_with, comparison.cams[0])):
            cam = cams.get((index, layer))
            if cam is None:
                ax.set_axis_off()
                continue
            _panel_axis(page, ax, cam_panel(f"{analysis.label}: {instance_label(analysis, index)}", image, cam,
                                            box=instance_box(analysis, index)[0]), bar=False)
        if any(ax.images for ax in axes[:2]):
            _scale_bar(page, list(axes[:2]), cam_scale())
        panel = cam_difference_panel(image, cam_diff)
        _panel_axis(page, axes[2], panel, title=f"{panel.title}\n({panel.caption})")
        page.suptitle(f"{with_att.cam_method} at {layer}, matched instance {k} · {header}", fontsize=12)
        pages.append(page)
    return pages


def _heading(strip, text: str, fontsize: float = 9) -> None:
    """A row's title, centred in the strip of figure above it."""
    strip.text(0.5, 0.5, text, ha="center", va="center", fontsize=fontsize)


def _xywh(box) -> tuple[tuple[float, float], float, float]:
    x0, y0, x1, y1 = box
    return (x0, y0), x1 - x0, y1 - y0


def panels_figure(panels: list[Panel | tuple[np.ndarray, str]], *, title: str | None = None,
                  cols: int | None = None, panel_width: float = 4.2) -> Figure:
    """Pictures in a grid, each with its title: views' panels (with the colour bar of their
    scale) or pictures already rendered as ((H, W, 3) uint8, title): what a view shows, as a
    figure to save."""
    if not panels:
        raise ValueError("no pictures to put in a figure")
    panels = [p if isinstance(p, Panel) else Panel(p[1], p[0]) for p in panels]
    cols = min(cols or len(panels), len(panels))
    rows = -(-len(panels) // cols)
    aspect = max(p.image.shape[0] / p.image.shape[1] for p in panels)
    bars = any(p.scale is not None for p in panels)
    fig = Figure(figsize=(panel_width * cols, (panel_width * aspect + 0.6 + 0.8 * bars) * rows + 0.3 * bool(title)),
                 layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, panel in zip(axes.flat, panels):
        _panel_axis(fig, ax, panel)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_axis_off()
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def save_figure(fig: Figure, stem: str | Path, *, formats: tuple[str, ...] = ("png", "pdf"),
                dpi: int = 150) -> list[Path]:
    """Write `fig` as STEM.png, STEM.pdf (each of `formats`), creating the folder; return the paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = stem.with_suffix(f".{fmt}")
        fig.savefig(path, dpi=dpi, format=fmt)
        paths.append(path)
    return paths


def figure_bytes(fig: Figure, fmt: str = "png", dpi: int = 150) -> bytes:
    """`fig` encoded as `fmt` ("png", "pdf"), for a download."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=dpi)
    return buffer.getvalue()
