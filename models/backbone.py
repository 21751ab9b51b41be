"""ResNet (+FPN) backbones with an attention module (BAM, CBAM, ...) in chosen stages, registered
with detectron2.

The stock detectron2 ResNet is built as it is; the attention modules `MODEL.ATTENTION.TYPE` names
(see models.attention.ATTENTION_REGISTRY) are then added where `MODEL.ATTENTION.PLACEMENT` says:

- "stage": one module appended to each chosen stage (an `nn.Sequential`) under the name
  `attention`. The refined map is the stage's output, which the next stage and the FPN receive.
  Keys: `backbone.bottom_up.res2.attention.channel_att...`.
- "block": one module in every residual block of the chosen stages, on the residual branch
  before the shortcut is added (the CBAM authors' placement). detectron2's `Conv2d` applies its
  `activation` after its norm, and a block's last conv has none: the module takes that slot.
  Keys: `backbone.bottom_up.res2.0.conv2.activation.channel_gate...`.

Either way the ResNet's own checkpoint keys are unchanged (`backbone.bottom_up.res2.0.conv1.weight`).
With `MODEL.ATTENTION.TYPE: "none"` the builders return detectron2's stock backbones untouched:
the baseline.

Select them in a config with `MODEL.BACKBONE.NAME: "build_resnet_attention_fpn_backbone"`
(or `build_resnet_attention_backbone` for a backbone without FPN).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

import models.bam  # noqa: F401  (registers "bam")
import models.cbam  # noqa: F401  (registers "cbam")
from models import detectron2_compat  # noqa: F401  (must precede detectron2)
from models.attention import ATTENTION_REGISTRY, NO_ATTENTION, AttentionType
from models.config import PLACEMENTS

from detectron2.config import CfgNode
from detectron2.layers import ShapeSpec
from detectron2.modeling import BACKBONE_REGISTRY
from detectron2.modeling.backbone import FPN, ResNet
from detectron2.modeling.backbone.fpn import build_resnet_fpn_backbone
from detectron2.modeling.backbone.resnet import build_resnet_backbone

ATTENTION_MODULE_NAME = "attention"  # the child of a stage ("stage" placement)
BLOCK_ATTENTION_NAME = "activation"  # the child of a block's last conv ("block" placement)

# detectron2's builders and ours with attention: a config naming the first gets the second when
# the weights hold attention modules (see models.build.attention_from_weights).
WITH_ATTENTION = {"build_resnet_fpn_backbone": "build_resnet_attention_fpn_backbone",
                  "build_resnet_backbone": "build_resnet_attention_backbone"}


def build_attention(cfg: CfgNode, channels: int) -> nn.Module:
    """The attention module `MODEL.ATTENTION` asks for, for a map with `channels` channels."""
    try:
        spec = ATTENTION_REGISTRY.get(cfg.MODEL.ATTENTION.TYPE)
    except KeyError as e:
        raise ValueError(e.args[0]) from None
    return spec.build(cfg, channels)


@dataclass(frozen=True)
class AttentionSite:
    """Where one stage's attention sits; paths are relative to the ResNet."""

    stage: str  # "res3"
    module: str  # the module whose maps are shown: "res3.attention" or "res3.1.conv2.activation"
    pre: str  # the module whose output enters it: "res3.1" or "res3.1.conv2.norm"
    spec: AttentionType
    placement: str  # "stage" or "block" (then `module` is the one in the stage's last block)


def _last_conv(block: nn.Module) -> tuple[str, nn.Module]:
    """The last `convN` of a detectron2 residual block: its output is added to the shortcut."""
    return [(name, child) for name, child in block.named_children() if name.startswith("conv")][-1]


def stage_channels(resnet: ResNet) -> dict[str, int]:
    """Output channels of every stage the ResNet has built, by stage name."""
    return {name: stage[-1].out_channels for name, stage in zip(resnet.stage_names, resnet.stages)}


def add_attention(resnet: ResNet, cfg: CfgNode) -> ResNet:
    """Add the configured attention modules to each stage in `MODEL.ATTENTION.STAGES`, placed as
    `MODEL.ATTENTION.PLACEMENT` says."""
    att = cfg.MODEL.ATTENTION
    if att.TYPE == NO_ATTENTION:
        return resnet
    if att.PLACEMENT not in PLACEMENTS:
        raise ValueError(f"MODEL.ATTENTION.PLACEMENT must be one of {list(PLACEMENTS)}, not {att.PLACEMENT!r}")
    channels = stage_channels(resnet)
    for name in att.STAGES:
        if name not in channels:
            raise ValueError(f"MODEL.ATTENTION.STAGES names {name!r}, but this ResNet's stages "
                             f"are {list(channels)}")
        stage = getattr(resnet, name)
        # Drawn from a forked random state: every layer built after this one (FPN, RPN, heads)
        # starts with the same weights as in the baseline built with the same seed.
        with torch.random.fork_rng(devices=[]):
            if att.PLACEMENT == "stage":
                stage.add_module(ATTENTION_MODULE_NAME, build_attention(cfg, channels[name]))
            else:
                for block in stage:
                    conv = _last_conv(block)[1]
                    if conv.norm is None:
                        raise ValueError('MODEL.ATTENTION.PLACEMENT "block" needs a normalised ResNet '
                                         '(MODEL.RESNETS.NORM is empty)')
                    setattr(conv, BLOCK_ATTENTION_NAME, build_attention(cfg, block.out_channels))
    return resnet


def attention_sites(resnet: ResNet) -> dict[str, AttentionSite]:
    """The attention of each stage that has one, by stage name ("res3")."""
    sites = {}
    for name, stage in zip(resnet.stage_names, resnet.stages):
        module = getattr(stage, ATTENTION_MODULE_NAME, None)
        if module is not None:
            last = len(stage) - 2  # the attention module is the stage's last child
            sites[name] = AttentionSite(name, f"{name}.{ATTENTION_MODULE_NAME}", f"{name}.{last}",
                                        ATTENTION_REGISTRY.of_module(module), "stage")
            continue
        last = len(stage) - 1
        conv_name, conv = _last_conv(stage[last])
        spec = ATTENTION_REGISTRY.of_module(getattr(conv, BLOCK_ATTENTION_NAME, None))
        if spec is not None:
            path = f"{name}.{last}.{conv_name}"
            sites[name] = AttentionSite(name, f"{path}.{BLOCK_ATTENTION_NAME}", f"{path}.norm", spec, "block")
    return sites


@BACKBONE_REGISTRY.register()
def build_resnet_attention_backbone(cfg: CfgNode, input_shape: ShapeSpec) -> ResNet:
    """detectron2's ResNet with `MODEL.ATTENTION` modules after the chosen stages."""
    return add_attention(build_resnet_backbone(cfg, input_shape), cfg)


@BACKBONE_REGISTRY.register()
def build_resnet_attention_fpn_backbone(cfg: CfgNode, input_shape: ShapeSpec) -> FPN:
    """detectron2's ResNet-FPN with `MODEL.ATTENTION` modules after the chosen ResNet stages."""
    fpn = build_resnet_fpn_backbone(cfg, input_shape)
    add_attention(fpn.bottom_up, cfg)
    return fpn
