"""The feature maps view: the strongest channels of any captured layer as a grid, one channel large."""

from __future__ import annotations

import numpy as np

from viz.analysis import ModelAnalysis
from viz.render import channel_grid, top_channels
from viz.views import Panel, map_picture, stretched_scale, value_range

FEATURE_ORDERS = ("activation", "attention weight")


def feature_layers(analysis: ModelAnalysis) -> list[str]:
    """The captured layers in network order: c2_pre, c2, ..., c5, then p2..p6."""
    names = list(analysis.capture.features)
    return sorted(names, key=lambda n: (n.startswith("p"), int(n[1]), not n.endswith("_pre")))


def attention_stage_of(analysis: ModelAnalysis, layer: str) -> str | None:
    """The attention stage whose channel weights apply to `layer` (c3 and c3_pre: c3), or None."""
    stage = layer.removesuffix("_pre")
    return stage if stage in analysis.capture.attention else None


def channel_order(analysis: ModelAnalysis, layer: str, by: str = "activation", k: int | None = None) -> np.ndarray:
    """Channels of `layer`, strongest first ((k,) indices): by mean |activation| or, where the
    layer has attention, by its channel attention weight."""
    stage = attention_stage_of(analysis, layer) if by == "attention weight" else None
    weights = analysis.capture.attention[stage].channel if stage else None
    return top_channels(analysis.capture.features[layer], k, weights=weights)


def feature_grid(analysis: ModelAnalysis, layer: str, channels: np.ndarray, *, cmap: str = "viridis",
                 cols: int = 8, cell: int = 112) -> np.ndarray:
    """The chosen channels of `layer` as one labelled (H, W, 3) uint8 grid."""
    return channel_grid(analysis.capture.features[layer], channels, cols=min(cols, max(1, len(channels))),
                        cell=cell, cmap=cmap, labels=True)


def channel_panel(analysis: ModelAnalysis, image: np.ndarray, layer: str, channel: int, *, on_image: bool,
                  alpha: float, cmap: str) -> Panel:
    """One channel, large, at the image's size, on its own range (activations are unbounded)."""
    cap = analysis.capture
    values = cap.features[layer][channel]
    full = cap.to_image(values, cap.strides[layer])
    stage = attention_stage_of(analysis, layer)
    weight = f", channel attention {float(cap.attention[stage].channel[channel]):.3f}" if stage else ""
    scale = stretched_scale(values, cmap, label="activation, stretched to this channel's min–max")  # as the caption
    return Panel(f"{analysis.label}: {layer} channel {channel}",
                 map_picture(full, image, scale, on_image=on_image, alpha=alpha),
                 f"activation {value_range(values)}, mean {float(values.mean()):.3f}{weight}", full, scale)
