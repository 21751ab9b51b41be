"""ResNet (+FPN) backbones with BAM or CBAM after chosen stages, registered with detectron2.

The stock detectron2 ResNet is built as it is; an attention module is then appended to each
chosen stage (an `nn.Sequential`) under the name `attention`. So the refined map is the stage's
output, which the next stage and the FPN receive; checkpoint keys of the ResNet are unchanged
(`backbone.bottom_up.res2.0.conv1.weight`), and the modules have their own
(`backbone.bottom_up.res2.attention.channel_att...`). With `MODEL.ATTENTION.TYPE: "none"` the
builders return detectron2's stock backbones untouched: the baseline.

Select them in a config with `MODEL.BACKBONE.NAME: "build_resnet_attention_fpn_backbone"`
(or `build_resnet_attention_backbone` for a backbone without FPN).
"""

from __future__ import annotations

import torch
from torch import nn

from models import detectron2_compat  # noqa: F401  (must precede detectron2)
from detectron2.config import CfgNode
from detectron2.layers import ShapeSpec
from detectron2.modeling import BACKBONE_REGISTRY
from detectron2.modeling.backbone import FPN, ResNet
from detectron2.modeling.backbone.fpn import build_resnet_fpn_backbone
from detectron2.modeling.backbone.resnet import build_resnet_backbone

from models.bam import BAM, check_fusion
from models.cbam import CBAM
from models.config import ATTENTION_TYPES

ATTENTION_MODULE_NAME = "attention"


def build_attention(cfg: CfgNode, channels: int) -> nn.Module:
    """The attention module `MODEL.ATTENTION` asks for, for a map with `channels` channels."""
    att = cfg.MODEL.ATTENTION
    if att.TYPE == "bam":
        return BAM(channels, reduction=att.REDUCTION, dilation=att.BAM.DILATION,
                   num_dilated=att.BAM.NUM_DILATED, fusion=check_fusion(att.BAM.FUSION))
    if att.TYPE == "cbam":
        return CBAM(channels, reduction=att.REDUCTION, kernel_size=att.CBAM.KERNEL_SIZE)
    raise ValueError(f"MODEL.ATTENTION.TYPE must be one of {ATTENTION_TYPES}, not {att.TYPE!r}")


def stage_channels(resnet: ResNet) -> dict[str, int]:
    """Output channels of every stage the ResNet has built, by stage name."""
    return {name: stage[-1].out_channels for name, stage in zip(resnet.stage_names, resnet.stages)}


def add_attention(resnet: ResNet, cfg: CfgNode) -> ResNet:
    """Append the configured attention module to each stage in `MODEL.ATTENTION.STAGES`."""
    if cfg.MODEL.ATTENTION.TYPE == "none":
        return resnet
    channels = stage_channels(resnet)
    for name in cfg.MODEL.ATTENTION.STAGES:
        if name not in channels:
            raise ValueError(f"MODEL.ATTENTION.STAGES names {name!r}, but this ResNet's stages "
                             f"are {list(channels)}")
        # Drawn from a forked random state: every layer built after this one (FPN, RPN, heads)
        # starts with the same weights as in the baseline built with the same seed.
        with torch.random.fork_rng(devices=[]):
            module = build_attention(cfg, channels[name])
        getattr(resnet, name).add_module(ATTENTION_MODULE_NAME, module)
    return resnet


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
