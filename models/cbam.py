"""CBAM: Convolutional Block Attention Module (Woo, Park, Lee, Kweon, ECCV 2018).

Channel attention first, then spatial attention, each multiplied into the feature map:

- channel: a shared MLP (C -> C/r -> C, ReLU) on the average- and the max-pooled vector,
  summed, sigmoid: F1 = F * Mc(F)
- spatial: channel-wise max and mean stacked (2 x H x W, in that order), 7x7 conv without bias,
  BatchNorm, sigmoid: F' = F1 * Ms(F1)

Forward hooks on `channel_gate.sigmoid` (N, C, 1, 1) and `spatial_gate.sigmoid` (N, 1, H, W)
observe the two maps without changing what `forward` returns.

A gate value below float32's epsilon is applied as exactly 0 (see `cut_underflow`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from models.attention import ATTENTION_REGISTRY, AttentionType

GATE_FLOOR = torch.finfo(torch.float32).eps


def cut_underflow(gate: torch.Tensor) -> torch.Tensor:
    """The gate (any shape) with values below GATE_FLOOR set to 0.

    Why: a saturated sigmoid gives gates near 1e-38, whose products in the next layers are
    subnormal floats, which CPUs compute up to ~100x slower (R-50 + CBAM ran 1.4x the time of
    R-50; 1.02x with this cut). A gate under epsilon scales a value below one rounding step of
    the ungated value, so cutting it changes the outputs by less than float32's precision.
    """
    return gate.masked_fill(gate < GATE_FLOOR, 0)


class CBAMChannelGate(nn.Module):
    def __init__(self, channels: int, *, reduction: int = 16):
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.mlp = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(), nn.Linear(hidden, channels))
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        avg = self.mlp(x.mean(dim=(2, 3)))
        peak = self.mlp(x.amax(dim=(2, 3)))
        return x * cut_underflow(self.sigmoid((avg + peak)[:, :, None, None]))


class CBAMSpatialGate(nn.Module):
    def __init__(self, *, kernel_size: int = 7):
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)
        self.bn = nn.BatchNorm2d(1)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True)], dim=1)
        return x * cut_underflow(self.sigmoid(self.bn(self.conv(pooled))))


class CBAM(nn.Module):
    """Refines a feature map with channel then spatial attention; same shape out as in."""

    def __init__(self, channels: int, *, reduction: int = 16, kernel_size: int = 7):
        super().__init__()
        self.channels = channels
        self.channel_gate = CBAMChannelGate(channels, reduction=reduction)
        self.spatial_gate = CBAMSpatialGate(kernel_size=kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.spatial_gate(self.channel_gate(x))

    def extra_repr(self) -> str:
        return f"channels={self.channels}"

    def freeze(self):
        """See BAM.freeze: attention modules stay trainable inside frozen stages."""
        return self


# ------------------------------------------------------------------------------------------------
# Its entry in the attention registry: how the rest of the project builds, hooks, shows and loads it.


def _cbam_maps(parts: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    channel, spatial = parts["channel"][:, 0, 0], parts["spatial"][0]
    return {"channel": channel, "spatial": spatial, "combined": channel[:, None, None] * spatial[None]}


CBAM_TYPE = ATTENTION_REGISTRY.add(AttentionType(
    name="cbam", title="CBAM", module_class=CBAM,
    build=lambda cfg, channels: CBAM(channels, reduction=cfg.MODEL.ATTENTION.REDUCTION,
                                     kernel_size=cfg.MODEL.ATTENTION.CBAM.KERNEL_SIZE),
    hooks={"channel_gate.sigmoid": "channel", "spatial_gate.sigmoid": "spatial"},
    to_maps=_cbam_maps, residual=False,
    channels_key="channel_gate.mlp.2.bias",
    # The authors' MODELS/cbam.py: mlp = (Flatten, Linear, ReLU, Linear); spatial = BasicConv(conv, bn).
    key_aliases={"ChannelGate.mlp.1.": "channel_gate.mlp.0.", "ChannelGate.mlp.3.": "channel_gate.mlp.2.",
                 "SpatialGate.spatial.conv.": "spatial_gate.conv.", "SpatialGate.spatial.bn.": "spatial_gate.bn."},
))
