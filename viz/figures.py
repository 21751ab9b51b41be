"""Publication figures with matplotlib: the views' panels (viz.views) arranged with titles and
colour bars, saved as PNG and PDF.

Built with matplotlib's object API (no pyplot): no global state, safe from several threads.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from viz.analysis import Comparison, ModelAnalysis
from viz.render import draw_instances
from viz.views.attention import MAP_PANELS, attention_stages, channel_bars, stage_panels
from viz.views.compare import feature_difference_panels
from viz.views.gradcam import cam_picture


def _image_axis(ax, picture: np.ndarray, title: str) -> None:
    ax.imshow(picture)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def _map_axis(fig: Figure, ax, values: np.ndarray, title: str, *, cmap: str, vmin=0.0, vmax=1.0) -> None:
    shown = ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.02)


def hierarchical_attention_figure(analysis: ModelAnalysis, image: np.ndarray, *, cmap: str = "inferno",
                                  on_image: bool = False, alpha: float = 0.5, top_k: int = 24) -> Figure:
    """One row per attention stage (c2, c3, c4): input feature, channel, spatial and combined
    attention, refined feature: the attention view's panels (viz.views.attention). Maps alone
    keep their true values, the colour bar spanning their range; on the image, the pictures."""
    stages = attention_stages(analysis)
    if not stages:
        raise ValueError(f"{analysis.label} has no attention modules: nothing to draw")
    fig = Figure(figsize=(16, 3.1 * len(stages)), layout="constrained")
    axes = fig.subplots(len(stages), 5, squeeze=False)
    for row, stage in zip(axes, stages):
        panels = stage_panels(analysis, image, stage, on_image=on_image, alpha=alpha, cmap=cmap)
        bars = channel_bars(analysis, stage, top_k)
        row[1].bar(range(len(bars.channels)), bars.weights, color="#4C72B0")
        row[1].set_xticks(range(len(bars.channels)), [str(c) for c in bars.channels], rotation=90, fontsize=6)
        row[1].set_ylim(0, 1)
        row[1].set_title(bars.title, fontsize=9)
        for ax, name in zip((row[0], *row[2:]), MAP_PANELS):
            panel = panels[name]
            if on_image:
                _image_axis(ax, panel.image, panel.title)
            else:
                _map_axis(fig, ax, panel.values, panel.title, cmap=cmap, vmin=None, vmax=None)
    spec = analysis.capture.attention[stages[-1]].spec
    fig.suptitle(f"{analysis.label}: hierarchical attention ({spec.title})", fontsize=11)
    return fig


def detections_figure(analyses: list[ModelAnalysis], image: np.ndarray) -> Figure:
    fig = Figure(figsize=(6 * len(analyses), 5), layout="constrained")
    for ax, a in zip(fig.subplots(1, len(analyses), squeeze=False)[0], analyses):
        drawn = draw_instances(image, a.capture.instances, list(a.class_names), score_threshold=a.score_threshold)
        _image_axis(ax, drawn, f"{a.label}: {len(a.detections)} detections ≥ {a.score_threshold:.2f}")
    return fig


def cam_figure(analyses: list[ModelAnalysis], image: np.ndarray, *, cmap: str = "jet", alpha: float = 0.5) -> Figure:
    cams = [(a, key, cam) for a in analyses for key, cam in a.cams.items()]
    if not cams:
        raise ValueError("no CAMs computed (no detection above the threshold?)")
    fig = Figure(figsize=(4.5 * len(cams), 4.2), layout="constrained")
    for ax, (a, (index, layer), cam) in zip(fig.subplots(1, len(cams), squeeze=False)[0], cams):
        score = float(a.capture.instances.scores[index])
        _image_axis(ax, cam_picture(image, cam, alpha=alpha, cmap=cmap),
                    f"{a.label}\n{a.cam_method} ({a.cam_target}) at {layer}, instance {index} ({score:.2f})")
    return fig


def comparison_figure(with_att: ModelAnalysis, without_att: ModelAnalysis, comparison: Comparison,
                      image: np.ndarray) -> Figure:
    """The before/after figure: detections of both models, then per-stage feature differences
    (red: stronger with attention) and CAM differences for matched instances."""
    diffs = list(comparison.feature_diffs.items())
    cam_diffs = list(comparison.cam_diffs.items())
    cols = max(2, len(diffs), len(cam_diffs))
    fig = Figure(figsize=(4.2 * cols, 8 if not cam_diffs else 11.5), layout="constrained")
    axes = fig.subplots(2 + bool(cam_diffs), cols, squeeze=False)
    d = comparison.detections
    for ax, a in zip(axes[0], (without_att, with_att)):
        drawn = draw_instances(image, a.capture.instances, list(a.class_names), score_threshold=a.score_threshold)
        _image_axis(ax, drawn, f"{a.label}: {len(a.detections)} detections")
    axes[0][1].set_title(f"{with_att.label}: {len(with_att.detections)} detections\n"
                         f"kept {len(d.kept)}, gained {len(d.gained)}, lost {len(d.lost)}", fontsize=9)
    panels = feature_difference_panels(with_att, comparison.feature_diffs, image, contrast="fixed")
    for ax, stage, panel in zip(axes[1], comparison.feature_diffs, panels):
        _map_axis(fig, ax, panel.values, f"{stage}: activation, with − without", cmap="RdBu_r", vmin=-1, vmax=1)
    for ax, ((k, layer), diff) in zip(axes[2] if cam_diffs else [], cam_diffs):
        _map_axis(fig, ax, diff, f"{with_att.cam_method} at {layer}, match {k}: with − without",
                  cmap="RdBu_r", vmin=-1, vmax=1)
    for ax in axes.flat:
        if not ax.has_data() and not ax.images:
            ax.set_axis_off()
    fig.suptitle(f"With vs without attention: {with_att.label} / {without_att.label}", fontsize=11)
    return fig


def panels_figure(panels: list[tuple[np.ndarray, str]], *, title: str | None = None, cols: int | None = None,
                  panel_width: float = 4.2) -> Figure:
    """Pictures already rendered ((H, W, 3) uint8, e.g. overlays) in a grid, each with its title:
    what a view shows, as a figure to save."""
    if not panels:
        raise ValueError("no pictures to put in a figure")
    cols = min(cols or len(panels), len(panels))
    rows = -(-len(panels) // cols)
    aspect = max(p.shape[0] / p.shape[1] for p, _ in panels)
    fig = Figure(figsize=(panel_width * cols, panel_width * aspect * rows + 0.6 + 0.3 * bool(title)),
                 layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, (picture, name) in zip(axes.flat, panels):
        _image_axis(ax, picture, name)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_axis_off()
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def save_figure(fig: Figure, stem: str | Path, *, formats: tuple[str, ...] = ("png", "pdf"), dpi: int = 150) -> list[Path]:
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = stem.with_suffix(f".{fmt}")
        fig.savefig(path, dpi=dpi, format=fmt)
        paths.append(path)
    return paths


def figure_bytes(fig: Figure, fmt: str = "png", dpi: int = 150) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=dpi)
    return buffer.getvalue()
