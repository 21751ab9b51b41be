"""BAM: Bottleneck Attention Module (Park, Woo, Lee, Kweon, BMVC 2018).

F' = F * (1 + M(F)), with M built from a channel attention Mc (global average pool + MLP, a
C-vector) and a spatial attention Ms (1x1 reduce, dilated 3x3 convs, 1x1 to one map, H x W).
Two fusions of Mc and Ms are in use and both are offered:

- "product" (the authors' released code, and so every checkpoint trained with it):
  M = sigmoid(Mc * Ms)
- "sum" (the paper, eq. 2): M = sigmoid(Mc + Ms)

Submodule names follow the authors' code (`channel_att.gate_c.gate_c_fc_0`, ...) so their
checkpoints load as they are. Forward hooks on the named submodules observe the maps without
changing what `forward` returns:

- `channel_att`: Mc before the sigmoid, shape (N, C, 1, 1)
- `spatial_att`: Ms before the sigmoid, shape (N, 1, H, W)
- `gate`: the combined attention M = sigmoid(...), shape (N, C, H, W)
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from models.attention import ATTENTION_REGISTRY, AttentionType

FUSIONS = {  # in plain words: the sidebar and every model description say them
    "product": "channel and spatial attention multiplied, as in the authors' code",
    "sum": "channel and spatial attention added, as in the paper",
}
FORMULAS = {"product": "F · (1 + σ(Mc · Ms))", "sum": "F · (1 + σ(Mc + Ms))"}  # for the attention page


def check_fusion(fusion: str) -> str:
    """`fusion` if it is a key of FUSIONS ("product" | "sum"), else ValueError."""
    if fusion not in FUSIONS:
        raise ValueError(f"unknown BAM fusion {fusion!r}; choose one of {sorted(FUSIONS)}")
    return fusion


class ChannelGate(nn.Module):
    """Mc: global average pool over the whole H x W, then C -> C/r -> C with BN and ReLU."""

    def __init__(self, channels: int, *, reduction: int = 16):
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.gate_c = nn.Sequential()
        self.gate_c.add_module("gate_c_fc_0", nn.Linear(channels, hidden))
        self.gate_c.add_module("gate_c_bn_1", nn.BatchNorm1d(hidden))
        self.gate_c.add_module("gate_c_relu_1", nn.ReLU())
        self.gate_c.add_module("gate_c_fc_final", nn.Linear(hidden, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Mean over all of H x W: right for the non-square maps detectron2 produces
        # (the authors' avg_pool2d(x, x.size(2)) assumes square maps).
        pooled = x.mean(dim=(2, 3))
        fc, bn, relu, fc_final = self.gate_c
        hidden = fc(pooled)
        if self.training and hidden.shape[0] == 1:
            # BatchNorm1d cannot estimate batch statistics from one sample; use the running ones.
            hidden = F.batch_norm(hidden, bn.running_mean, bn.running_var, bn.weight, bn.bias,
                                  training=False, eps=bn.eps)
        else:
            hidden = bn(hidden)
        return fc_final(relu(hidden))[:, :, None, None]


class SpatialGate(nn.Module):
    """Ms: 1x1 conv C -> C/r, `num_dilated` dilated 3x3 convs, 1x1 conv to a single map."""

    def __init__(self, channels: int, *, reduction: int = 16, dilation: int = 4,
                 num_dilated: int = 2):
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.gate_s = nn.Sequential()
        self.gate_s.add_module("gate_s_conv_reduce0", nn.Conv2d(channels, hidden, kernel_size=1))
        self.gate_s.add_module("gate_s_bn_reduce0", nn.BatchNorm2d(hidden))
        self.gate_s.add_module("gate_s_relu_reduce0", nn.ReLU())
        for i in range(num_dilated):
            self.gate_s.add_module(
                f"gate_s_conv_di_{i}",
                nn.Conv2d(hidden, hidden, kernel_size=3, padding=dilation, dilation=dilation),
            )
            self.gate_s.add_module(f"gate_s_bn_di_{i}", nn.BatchNorm2d(hidden))
            self.gate_s.add_module(f"gate_s_relu_di_{i}", nn.ReLU())
        self.gate_s.add_module("gate_s_conv_final", nn.Conv2d(hidden, 1, kernel_size=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gate_s(x)


class BAM(nn.Module):
    """Refines a feature map: returns F * (1 + M) with the same shape as F."""

    def __init__(self, channels: int, *, reduction: int = 16, dilation: int = 4,
                 num_dilated: int = 2, fusion: str = "product"):
        super().__init__()
        self.channels = channels
        self.fusion = check_fusion(fusion)
        self.channel_att = ChannelGate(channels, reduction=reduction)
        self.spatial_att = SpatialGate(channels, reduction=reduction, dilation=dilation,
                                       num_dilated=num_dilated)
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mc, ms = self.channel_att(x), self.spatial_att(x)
        logits = mc * ms if self.fusion == "product" else mc + ms
        return x * (1 + self.gate(logits))

    def extra_repr(self) -> str:
        return f"channels={self.channels}, fusion={self.fusion!r}"

    def freeze(self):
        """detectron2's ResNet.freeze() calls this on every part of a frozen stage. Attention
        modules are new and must learn even when the stage they follow is frozen: a no-op."""
        return self


# ------------------------------------------------------------------------------------------------
# Its entry in the attention registry: how the rest of the project builds, hooks, shows and loads it.


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return torch.sigmoid(torch.from_numpy(x)).numpy()


def _bam_maps(parts: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    mc, ms = parts["channel_logits"][:, 0, 0], parts["spatial_logits"][0]
    return {"channel": _sigmoid(mc), "spatial": _sigmoid(ms), "combined": parts["combined"],
            "channel_logits": mc, "spatial_logits": ms}


def _build_bam(cfg, channels: int) -> BAM:
    att = cfg.MODEL.ATTENTION
    return BAM(channels, reduction=att.REDUCTION, dilation=att.BAM.DILATION,
               num_dilated=att.BAM.NUM_DILATED, fusion=check_fusion(att.BAM.FUSION))


BAM_TYPE = ATTENTION_REGISTRY.add(AttentionType(
    name="bam", title="BAM", module_class=BAM, build=_build_bam,
    hooks={"channel_att": "channel_logits", "spatial_att": "spatial_logits", "gate": "combined"},
    to_maps=_bam_maps, residual=True,
    channels_key="channel_att.gate_c.gate_c_fc_final.bias",  # the authors' names are ours
    fusion=lambda cfg: cfg.MODEL.ATTENTION.BAM.FUSION, fusions=FUSIONS, fusion_key="MODEL.ATTENTION.BAM.FUSION",
    channel_label="σ(Mc)", spatial_label="σ(Ms)", combined_label="σ(Mc {op} Ms)",
))
