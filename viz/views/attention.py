"""The hierarchical attention view: per attention stage, what enters the module, what it weighs
(channels, positions, both) and what comes out."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from viz.analysis import STAGES, ModelAnalysis, attention_statistics
from viz.render import activation_energy, top_channels
from viz.views import Panel, absolute_scale, clip_note, map_picture, stretched_scale, value_range

MAP_PANELS = ("input feature", "spatial attention", "combined attention", "refined feature")
SUMMARY_STATISTICS = ("channel_mean", "channel_std", "channel_max", "spatial_mean", "spatial_max",
                      "spatial_area_above_half", "combined_mean")


def attention_stages(analysis: ModelAnalysis) -> list[str]:
    """The stages with an attention module, in network order."""
    return [s for s in STAGES if s in analysis.capture.attention]


def stage_panels(analysis: ModelAnalysis, image: np.ndarray, stage: str, *, on_image: bool = True,
                 alpha: float = 0.5, cmap: str = "inferno", fusion: str | None = "product",
                 stretch: bool = False) -> dict[str, Panel]:
    """The maps of one attention stage, as MAP_PANELS names them (channel attention is a bar
    chart: see `channel_bars`), each with `values` (the map at image size, (H, W), true values)
    and its `scale`. The attention maps (sigmoid outputs) are drawn on their absolute range
    [0, 1], or with `stretch` on their own min–max; the activations (unbounded) on their own
    range, up to the 99.5th percentile (the caption says so). Scales and captions come from the
    map's own cells, so they give the same numbers."""
    cap = analysis.capture
    maps, stride = cap.attention[stage], cap.strides[stage]
    spec = maps.spec
    energy_in = activation_energy(cap.features[f"{stage}_pre"])
    energy_out = activation_energy(cap.features[stage])
    activation = "mean |activation|, stretched to this map's range"
    grids = {"input feature": (energy_in, f"mean |activation| entering {spec.title}: {value_range(energy_in)}",
                               activation),
             "spatial attention": (maps.spatial, f"{spec.spatial_label}: {value_range(maps.spatial)}", None),
             "combined attention": (maps.combined_mean, f"{spec.combined_name(fusion)}, mean over channels: "
                                                        f"{value_range(maps.combined_mean)}", None),
             "refined feature": (energy_out, f"mean |activation| after {spec.title}: {value_range(energy_out)}",
                                 activation)}
    panels = {}
    for name, (grid, caption, activation_label) in grids.items():
        values = cap.to_image(grid, stride)
        # scales from the map's own cells (the values the caption gives), not from their bilinear
        # enlargement, whose extremes are lower: caption and colour bar give the same numbers
        if activation_label:
            scale = stretched_scale(grid, cmap, high_pct=99.5, label=activation_label)
            caption += clip_note(grid, scale)
        else:
            scale = stretched_scale(grid, cmap) if stretch else absolute_scale(cmap)
        picture = map_picture(values, image, scale, on_image=on_image, alpha=alpha)
        panels[name] = Panel(f"{stage}: {name}", picture, caption, values, scale)
    return panels


@dataclass(frozen=True)
class ChannelBars:
    """The channels of one stage with the highest channel attention, best first."""

    stage: str
    channels: np.ndarray  # (k,) channel indices
    weights: np.ndarray  # (k,) their attention weights, in [0, 1]
    total: int  # channels of the stage

    @property
    def title(self) -> str:
        return f"{self.stage}: channel attention (top {len(self.channels)} of {self.total})"

    def rows(self) -> list[dict]:
        """[{"channel": "#12", "weight": 0.93}, ...], for a bar chart or a CSV."""
        return [{"channel": f"#{int(c)}", "weight": float(w)} for c, w in zip(self.channels, self.weights)]


def channel_bars(analysis: ModelAnalysis, stage: str, k: int | None = 24) -> ChannelBars:
    """The k channels (None: all) with the highest channel attention at `stage`."""
    weights = analysis.capture.attention[stage].channel
    order = top_channels(None, k, weights=weights)
    return ChannelBars(stage, order, weights[order], int(weights.size))


def statistics_rows(analysis: ModelAnalysis) -> list[dict]:
    """attention_statistics, one row per stage, the numbers that fit a table."""
    rows = []
    for stage, stats in attention_statistics(analysis.capture).items():
        row = {"stage": stage, "kind": analysis.capture.attention[stage].spec.title, "channels": stats["channels"]}
        row.update({k: round(stats[k], 4) for k in SUMMARY_STATISTICS})
        row["top channels"] = ", ".join(f"#{c}" for c in stats["top_channels"])
        row["spatial peak (x, y)"] = ", ".join(f"{v:.0f}" for v in stats["spatial_peak_xy"])
        rows.append(row)
    return rows


def statistics_by_stage(analysis: ModelAnalysis) -> list[dict]:
    """`statistics_rows` turned on its side for a narrow table: one row per statistic
    ({"statistic": name, <stage>: value, ...}), one column per stage."""
    rows = statistics_rows(analysis)
    names = [k for k in (rows[0] if rows else {}) if k != "stage"]
    return [{"statistic": name, **{row["stage"]: str(row[name]) for row in rows}} for name in names]
