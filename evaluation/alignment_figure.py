"""The attention report's figure, made for a slide: per-stage bars with confidence intervals,
one panel per measure, every model's maps side by side (matplotlib's object API, no pyplot)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from evaluation.alignment import STAGES
from evaluation.results import Alignment

PANELS = (("lift", "lift (mass share / area share)", 1.0, "uniform map"),
          ("auroc", "AUROC, crack pixels", 0.5, "chance"),
          ("pointing", "pointing game (hit rate)", None, "chance"))
SOURCES = (("feature", "feature energy"), ("attention", "spatial attention"), ("gradcam", "Grad-CAM"))
HATCHES = {"attention": "//", "gradcam": ".."}
COLOURS = ("#8C8C8C", "#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3")  # one per model


def _series(results: Alignment) -> list[tuple[str, str, str, str]]:
    """(model label, source, legend text, colour) for every series with at least one value; a
    colour per model, a hatch per kind of map."""
    out = []
    for i, (label, per_map) in enumerate(results.summary.items()):
        for source, words in SOURCES:
            if any(f"{source} {s}" in per_map for s in STAGES):
                out.append((label, source, f"{label}: {words}", COLOURS[i % len(COLOURS)]))
    return out


def alignment_figure(results: Alignment) -> Figure:
    """The figure of an attention report.

    Args:
        results: the Alignment (attention_report.json's content).

    Returns:
        Three panels (lift, AUROC, pointing game); x: the stages c2..c5; a bar per model and map
        kind, its error bar the bootstrap interval.
    """
    series = _series(results)
    ds = results.dataset
    fig = Figure(figsize=(13, 4.6), layout="constrained")
    axes = fig.subplots(1, len(PANELS))
    width = 0.8 / max(len(series), 1)
    x = np.arange(len(STAGES))
    bars = []
    for ax, (measure, ylabel, reference, reference_words) in zip(axes, PANELS):
        bars = []
        for k, (label, source, words, colour) in enumerate(series):
            stats = [results.stat(label, f"{source} {s}", measure) for s in STAGES]
            means = np.array([st.mean if st and st.mean is not None else np.nan for st in stats])
            low = np.array([st.mean - st.low if st and st.low is not None else 0.0 for st in stats])
            high = np.array([st.high - st.mean if st and st.high is not None else 0.0 for st in stats])
            bars.append(ax.bar(x + (k - (len(series) - 1) / 2) * width, means, width,  # NaN: no such map, no bar
                               yerr=np.vstack([low, high]), capsize=3, color=colour,
                               hatch=HATCHES.get(source), edgecolor="white", label=words))
        if reference is None:
            reference = results.chance["pointing"].mean
        if reference is not None:
            line = ax.axhline(reference, color="black", linestyle="--", linewidth=1,
                              label=f"{reference_words} ({reference:.2g})")
            ax.legend(handles=[line], fontsize=8, loc="upper right")
        ax.set_xticks(x, STAGES)
        ax.set_xlabel("backbone stage (stride 4, 8, 16, 32)")
        ax.set_ylabel(ylabel)
        ax.set_title(ylabel.split(" (")[0].split(",")[0])
        top = 1.0 if measure != "lift" else max(ax.get_ylim()[1], 1.0)
        ax.set_ylim(0, 1.15 * top)  # room for the legend above the bars
    fig.legend(handles=bars, loc="outside lower center", ncols=min(len(series), 3), fontsize=9)
    interval = round(100 * results.settings.confidence)
    fig.suptitle(f"Do the maps point at the cracks? {ds.label}: "
                 f"{ds.measured} images with cracks (means, {interval}% bootstrap intervals)",
                 parse_math=False)  # the dataset's names: '$\frac$.json' is not mathtext here
    return fig

