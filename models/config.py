"""The `MODEL.ATTENTION` config node, added the way detectron2's own projects add theirs."""

from __future__ import annotations

from detectron2.config import CfgNode as CN

PLACEMENTS = ("stage", "block")


def add_attention_config(cfg: CN) -> CN:
    """Add `MODEL.ATTENTION` (with defaults) to a detectron2 config; a no-op if present."""
    if "ATTENTION" in cfg.MODEL:
        return cfg
    cfg.MODEL.ATTENTION = CN()
    # Which module refines the ResNet stage outputs: "none" (the plain baseline) or a name in
    # models.attention.ATTENTION_REGISTRY: "bam" or "cbam".
    cfg.MODEL.ATTENTION.TYPE = "none"
    # Stages whose output is refined; the refined map is what the next stage and the FPN receive.
    cfg.MODEL.ATTENTION.STAGES = ["res2", "res3", "res4"]
    # Where in those stages: "stage" puts one module after the stage (BAM's place in its paper;
    # CBAM there too, to compare like for like); "block" puts one in every residual block, on the
    # residual branch before the shortcut is added (where the CBAM authors' code has CBAM).
    cfg.MODEL.ATTENTION.PLACEMENT = "stage"
    # Reduction ratio r of the channel MLP and of BAM's spatial bottleneck (C -> C/r).
    cfg.MODEL.ATTENTION.REDUCTION = 16

    cfg.MODEL.ATTENTION.BAM = CN()
    # Dilation of the 3x3 convolutions in BAM's spatial branch.
    cfg.MODEL.ATTENTION.BAM.DILATION = 4
    # Number of dilated 3x3 convolutions in BAM's spatial branch.
    cfg.MODEL.ATTENTION.BAM.NUM_DILATED = 2
    # How the channel (Mc) and spatial (Ms) maps combine: "product" is the authors' released code,
    # F * (1 + sigmoid(Mc * Ms)), which existing checkpoints use; "sum" is the paper's
    # F * (1 + sigmoid(Mc + Ms)).
    cfg.MODEL.ATTENTION.BAM.FUSION = "product"

    cfg.MODEL.ATTENTION.CBAM = CN()
    # Kernel size of CBAM's spatial convolution.
    cfg.MODEL.ATTENTION.CBAM.KERNEL_SIZE = 7
    return cfg
