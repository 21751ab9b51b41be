"""Figures of a dissection (evaluation.dissection) and of its knock-outs (evaluation.knockout),
made for a paper: labelled axes, the thresholds drawn, the method's settings (quantile, dilation,
sketch error) stated under each figure. matplotlib's object API, no pyplot; model and dataset
names are drawn as plain text, never as mathtext."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from evaluation.dissection import DissectionResult
from evaluation.dissection_report import interval_text
from evaluation.knockout import KnockOutRow, knockout_table
from models.attention import ATTENTION_REGISTRY

UNIT = "#C44E52"  # crack units
OTHER = "#8C8C8C"
COLOURS = ("#8C8C8C", "#4C72B0", "#DD8452", "#55A868", "#8172B3")  # one per model
GROUP_COLOURS = {"mean ablation": "#4C72B0", "best units": UNIT, "random units": OTHER}  # KnockOut.group


def _attention_words(kind: str) -> tuple[str, str]:
    """(its title, its channel map's label): ("BAM", "σ(Mc)")."""
    try:
        spec = ATTENTION_REGISTRY.get(kind)
        return spec.title, spec.channel_label
    except KeyError:
        return kind.upper() or "attention", "channel gate"


CAPTION_POINTS = 7


def _caption(fig: Figure, text: str) -> None:
    """The method in small print under the figure, with room made for it (plain text)."""
    width, height = fig.get_size_inches()
    lines = textwrap.wrap(text, int(width * 17))  # characters of 7 pt that fit the width
    fig.text(0.01, 0.01, "\n".join(lines), fontsize=CAPTION_POINTS, va="bottom", ha="left", color="#444444",
             parse_math=False)
    margin = (len(lines) * CAPTION_POINTS * 1.3 / 72 + 0.12) / height
    fig.get_layout_engine().set(rect=(0, margin, 1, 1 - margin))


def layer_figure(result: DissectionResult, layer: str, *, label: str = "") -> Figure:
    """One layer of one model: its channels' crack IoU, sorted, crack units marked; and where the
    stage has a channel attention, the mean attention weight against the IoU (Spearman's rho with
    its bootstrap interval) and the weight's change with vs without a crack.

    Args:
        result: the model's dissection.
        layer: one of result.layers ("c3").
        label: the model's name, for the title.

    Returns:
        The figure (save it with `save_figure`).
    """
    d = result.layers[layer]
    s = result.settings
    corr = result.correlations.get(layer)
    fig = Figure(figsize=(13 if corr is not None else 6, 4.4), layout="constrained")
    axes = fig.subplots(1, 3 if corr is not None else 1, squeeze=False)[0]
    units = np.zeros(d.channels, bool)
    units[d.crack_units] = True
    order = d.ranking()

    ax = axes[0]
    ax.bar(np.arange(1, d.channels + 1), d.iou[order], width=1.0, color=np.where(units[order], UNIT, OTHER),
           linewidth=0)
    ax.axhline(s.iou_threshold, color="black", linestyle="--", linewidth=1,
               label=f"crack unit: IoU > {s.iou_threshold:g}")
    ax.set_xlim(0.5, d.channels + 0.5)
    ax.set_xlabel(f"{layer} channels, sorted by crack IoU (rank)")
    ax.set_ylabel(f"crack IoU over the dataset (mask dilated {s.dilation_px:g} px)")
    ax.set_title(f"{len(d.crack_units)} of {d.channels} channels are crack units")
    for rank, channel in enumerate(order[:3], start=1):  # name the best few
        ax.annotate(f"#{channel}", (rank, d.iou[channel]), textcoords="offset points", xytext=(4, 2), fontsize=7)
    ax.legend(fontsize=8, loc="upper right")

    if corr is not None:
        title, channel_label = _attention_words(corr.kind)
        ax = axes[1]
        ax.scatter(corr.mean_weight[~units], d.iou[~units], s=9, color=OTHER, label="other channels")
        ax.scatter(corr.mean_weight[units], d.iou[units], s=14, color=UNIT, label="crack units")
        ax.axhline(s.iou_threshold, color="black", linestyle="--", linewidth=1)
        ax.set_xlabel(f"mean channel-attention weight {channel_label} ({title} at {corr.stage})")
        ax.set_ylabel("crack IoU")
        ax.set_title(f"Spearman ρ = {interval_text(corr.spearman)}")
        ax.legend(fontsize=8, loc="upper left")

        ax = axes[2]
        ax.axhline(0, color="black", linewidth=0.8)
        ax.axvline(s.iou_threshold, color="black", linestyle="--", linewidth=1)
        finite = np.isfinite(corr.change)
        ax.scatter(d.iou[finite & ~units], corr.change[finite & ~units], s=9, color=OTHER)
        with_interval = finite & units & np.isfinite(corr.change_low)
        ax.errorbar(d.iou[with_interval], corr.change[with_interval],
                    yerr=np.vstack([corr.change[with_interval] - corr.change_low[with_interval],
                                    corr.change_high[with_interval] - corr.change[with_interval]]),
                    fmt="o", markersize=3.5, color=UNIT, elinewidth=0.8, capsize=2)
        ax.set_xlabel("crack IoU")
        ax.set_ylabel(f"{channel_label}: with crack − without (mean over images)")
        ax.set_title(f"crack units − others: {interval_text(corr.units_minus_others, 3)}")
    name = f"{label}: " if label else ""
    fig.suptitle(f"{name}{layer} (stride {d.stride}), {result.images} images ({result.images_with_crack} with cracks)",
                 parse_math=False)
    interval = round(100 * s.confidence)
    _caption(fig, result.method + (f" Intervals: {interval}% percentile bootstrap over images ({s.resamples} "
                                   f"resamples, seed {s.seed}), thresholds held fixed." if corr is not None else ""))
    return fig


def units_figure(results: Mapping[str, DissectionResult]) -> Figure:
    """Crack units per layer for each model side by side (with vs without attention), and
    Spearman's rho of attention weight vs IoU per layer with its interval, for the models with
    attention.

    Args:
        results: model label -> its dissection (the same layers and settings, e.g. the demo pair).
    """
    labels = list(results)
    first = results[labels[0]]
    layers = list(dict.fromkeys(layer for r in results.values() for layer in r.layers))
    has_corr = any(r.correlations for r in results.values())
    fig = Figure(figsize=(11 if has_corr else 6, 4.2), layout="constrained")
    axes = fig.subplots(1, 2 if has_corr else 1, squeeze=False)[0]
    x = np.arange(len(layers))
    width = 0.8 / max(len(labels), 1)
    for k, label in enumerate(labels):
        counts = [len(results[label].layers[layer].crack_units) if layer in results[label].layers else np.nan
                  for layer in layers]
        shares = [c / results[label].layers[layer].channels if layer in results[label].layers else np.nan
                  for c, layer in zip(counts, layers)]
        bars = axes[0].bar(x + (k - (len(labels) - 1) / 2) * width, counts, width, color=COLOURS[k % len(COLOURS)],
                           label=label)
        for bar, share in zip(bars, shares):
            if np.isfinite(share):
                axes[0].annotate(f"{100 * share:.0f}%", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                                 textcoords="offset points", xytext=(0, 2), ha="center", fontsize=7)
    axes[0].set_xticks(x, layers)
    axes[0].set_xlabel("layer (percent: share of its channels)")
    axes[0].set_ylabel(f"crack units (IoU > {first.settings.iou_threshold:g})")
    axes[0].set_title("Channels that detect cracks")
    legend = axes[0].legend(fontsize=8)
    for text in legend.get_texts():
        text.set_parse_math(False)
    if has_corr:
        ax = axes[1]
        ax.axhline(0, color="black", linewidth=0.8)
        for k, label in enumerate(labels):
            corr = results[label].correlations
            rho = np.array([corr[layer].spearman.observed if layer in corr and corr[layer].spearman.observed is not None
                            else np.nan for layer in layers], dtype=float)
            low = np.array([corr[layer].spearman.low if layer in corr and corr[layer].spearman.low is not None
                            else np.nan for layer in layers], dtype=float)
            high = np.array([corr[layer].spearman.high if layer in corr and corr[layer].spearman.high is not None
                             else np.nan for layer in layers], dtype=float)
            if np.isfinite(rho).any():
                shown = np.isfinite(rho)
                ax.errorbar(x[shown] + (k - (len(labels) - 1) / 2) * width, rho[shown],
                            yerr=np.vstack([rho - np.where(np.isfinite(low), low, rho),
                                            np.where(np.isfinite(high), high, rho) - rho])[:, shown],
                            fmt="o", capsize=3, color=COLOURS[k % len(COLOURS)], label=label)
        ax.set_xticks(x, layers)
        ax.set_xlim(-0.5, len(layers) - 0.5)
        reach = max([abs(v) for r in results.values() for c in r.correlations.values()
                     for v in (c.spearman.low, c.spearman.high, c.spearman.observed) if v is not None], default=0)
        ax.set_ylim(-min(1.0, max(0.25, 1.2 * reach)), min(1.0, max(0.25, 1.2 * reach)))
        ax.set_xlabel("layer")
        ax.set_ylabel("Spearman ρ (attention weight, crack IoU)")
        ax.set_title(f"Attention weight vs crack IoU ({round(100 * first.settings.confidence)}% bootstrap)")
        legend = ax.legend(fontsize=8)
        for text in legend.get_texts():
            text.set_parse_math(False)
    fig.suptitle(f"Network Dissection over {first.images} images ({first.images_with_crack} with cracks)")
    _caption(fig, first.method)
    return fig


def knockout_figure(rows: Sequence[KnockOutRow], *, title: str = "Knock-outs") -> Figure:
    """The knock-outs as a forest plot (change in accuracy and in mask AP, each with its paired
    bootstrap interval, 0 drawn) above their table.

    Args:
        rows: evaluation.knockout.knockout_row results, in the order to show.
        title: plain text.
    """
    n = len(rows)
    fig = Figure(figsize=(12, 2.2 + 0.42 * n + 0.3 * n), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[max(n, 2), max(n, 2) * 0.9])
    axes = top.subplots(1, 2, sharey=True)
    y = np.arange(n)[::-1]
    for ax, (value, interval, what) in zip(axes, (("delta_accuracy", "accuracy_interval", "accuracy (points)"),
                                                  ("delta_mask_ap", "mask_ap_interval", "mask AP (points)"))):
        ax.axvline(0, color="black", linewidth=0.8)
        for yi, row in zip(y, rows):
            v, bounds = getattr(row, value), getattr(row, interval)
            if v is None:
                continue
            colour = GROUP_COLOURS.get(row.group, COLOURS[1])
            if bounds is not None:
                ax.plot(bounds, [yi, yi], color=colour, linewidth=1.5)
            ax.plot([v], [yi], "o", color=colour)
        ax.set_xlabel(f"change in {what}, knocked out − original")
        ax.grid(axis="x", linewidth=0.3)
    axes[0].set_yticks(y, [r.label for r in rows])
    for text in axes[0].get_yticklabels():
        text.set_parse_math(False)
    header, body = knockout_table(rows)
    table_ax = bottom.subplots()
    table_ax.axis("off")
    table = table_ax.table(cellText=body or [[""] * len(header)], colLabels=header, loc="center", cellLoc="right")
    table.auto_set_font_size(False)
    table.set_fontsize(7)
    for (row, column), cell in table.get_celld().items():
        cell.get_text().set_parse_math(False)  # labels are names, not mathtext
        if column == 0:
            cell.get_text().set_horizontalalignment("left")
    confidence = next((r.confidence for r in rows if r.confidence is not None), None)
    top.suptitle(title, parse_math=False)
    note = ("Lines: paired bootstrap intervals over the images" + (f" ({round(100 * confidence)}%)" if confidence
                                                                   else "") + "; McNemar's exact test on the "
            "image-level verdicts. Mean ablation: the attention maps replaced by their dataset means; best k: the k "
            "channels of highest crack IoU zeroed; random k: k other channels of the same layer zeroed.")
    _caption(fig, note)
    return fig


def save_figure(fig: Figure, stem: str | Path, *, dpi: int = 200) -> list[Path]:
    """`stem`.png and `stem`.pdf (the folder is made). Returns their paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    for path in paths:
        fig.savefig(path, dpi=dpi)
    return paths


__all__ = ["knockout_figure", "layer_figure", "save_figure", "units_figure"]
