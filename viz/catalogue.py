"""What each inspectable layer of a Mask R-CNN gives: name, module, channels, stride, kind.

Names follow the papers: c2..c5 are the ResNet stage outputs (res2..res5; where a stage carries
attention, its refined output), c2_pre.. the map entering that stage's attention module (with
attention in every block, the module of the stage's last block), p2..p6 the FPN levels. Pickers,
captures, CAMs and error messages are all made from this catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from models.attention import ATTENTION_REGISTRY
from models.backbone import attention_sites

KINDS = ("stage", "pre-attention", "fpn")
DEFAULT_LAYERS = ("c4", "c5")  # CAMs by default: the last attention module's output, and res5


@dataclass(frozen=True)
class LayerInfo:
    name: str  # "c3", "c3_pre", "p4"
    module: str  # path of the module whose output this is, for get_submodule / hooks
    channels: int
    stride: int
    kind: str  # one of KINDS
    description: str

    @property
    def cam_ok(self) -> bool:
        """Whether the module returns a plain tensor, which grad-cam needs (p6 does not)."""
        return self.name != "p6"


@dataclass(frozen=True)
class AttentionInfo:
    stage: str  # "c3": the stage output it refines
    module: str
    kind: str  # its MODEL.ATTENTION.TYPE name, a key of models.attention.ATTENTION_REGISTRY
    channels: int
    stride: int
    placement: str = "stage"  # "stage": after the stage; "block": `module` is in its last block
    pre: str = ""  # path of the module whose output enters it


class UnknownLayerError(KeyError):
    def __str__(self) -> str:  # KeyError would quote the whole message
        return self.args[0]


def resnet_of(model: nn.Module) -> tuple[nn.Module, str]:
    """(the detectron2 ResNet of the model's backbone, its path: "backbone.bottom_up" or "backbone")."""
    backbone = model.backbone
    prefix = "backbone.bottom_up" if hasattr(backbone, "bottom_up") else "backbone"
    return model.get_submodule(prefix), prefix


def attention_modules(model: nn.Module) -> dict[str, AttentionInfo]:
    """The attention modules in the backbone, by the stage output they refine (c2, c3, ...)."""
    resnet, prefix = resnet_of(model)
    found = {}
    for stage_name, site in attention_sites(resnet).items():
        c = "c" + stage_name[3:]
        found[c] = AttentionInfo(stage=c, module=f"{prefix}.{site.module}", kind=site.spec.name,
                                 channels=resnet._out_feature_channels[stage_name],
                                 stride=resnet._out_feature_strides[stage_name], placement=site.placement,
                                 pre=f"{prefix}.{site.pre}")
    return found


def layer_catalogue(model: nn.Module) -> dict[str, LayerInfo]:
    """Every inspectable layer of a detectron2 ResNet(-FPN) model, in network order."""
    resnet, prefix = resnet_of(model)
    attention = attention_modules(model)
    layers = {}
    for stage_name, stage in zip(resnet.stage_names, resnet.stages):
        c = "c" + stage_name[3:]
        channels = resnet._out_feature_channels[stage_name]
        stride = resnet._out_feature_strides[stage_name]
        if c in attention:
            info = attention[c]
            title = ATTENTION_REGISTRY.get(info.kind).title
            before = (f"{stage_name} output before {title}" if info.placement == "stage"
                      else f"{stage_name}, last block's residual branch before {title}")
            layers[f"{c}_pre"] = LayerInfo(f"{c}_pre", info.pre, channels, stride, "pre-attention", before)
            what = (f"{stage_name} output refined by {title}" if info.placement == "stage"
                    else f"{stage_name} output ({title} in every block)")
        else:
            what = f"{stage_name} output"
        layers[c] = LayerInfo(c, f"{prefix}.{stage_name}", channels, stride, "stage", what)
    backbone = model.backbone
    if hasattr(backbone, "bottom_up"):
        for p, stride in backbone._out_feature_strides.items():
            level = int(p[1:])
            module = f"backbone.fpn_output{level}" if hasattr(backbone, f"fpn_output{level}") else "backbone.top_block"
            layers[p] = LayerInfo(p, module, backbone._out_feature_channels[p], stride, "fpn", f"FPN level {p}")
    return layers


def get_layer(catalogue: dict[str, LayerInfo], name: str) -> LayerInfo:
    """The layer `name` of a catalogue, or UnknownLayerError listing the valid names."""
    try:
        return catalogue[name]
    except KeyError:
        raise UnknownLayerError(f"unknown layer {name!r}; this model has: {', '.join(catalogue)}") from None
