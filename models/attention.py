"""The attention registry: one small declarative description per `MODEL.ATTENTION.TYPE`.

As detectron2's BACKBONE_REGISTRY maps `MODEL.BACKBONE.NAME` to a builder, ATTENTION_REGISTRY
maps `MODEL.ATTENTION.TYPE` to an `AttentionType`, which says everything the rest of the
project needs to know about one kind of module (in the spirit of timm's `feature_info`):

- how to build it from a config, for a map with a given number of channels;
- its hook points (which of its submodules to hook, and what each captured tensor is), and how
  the captured tensors become the channel / spatial / combined maps the viewers show;
- its labels for the UI, and its named variants (BAM's fusions) with the config key that picks one;
- how its weights are recognised in a checkpoint (inner key names, and other code's names).

Backbone building, capture, the layer catalogue, the app's views and checkpoint loading read the
description; none of them branch on the type's name. A new type is its module plus one
`ATTENTION_REGISTRY.add(AttentionType(...))` (see the end of models/bam.py and models/cbam.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np
from fvcore.common.registry import Registry
from torch import nn

from models import detectron2_compat  # noqa: F401  (must precede detectron2)

from detectron2.config import CfgNode

NO_ATTENTION = "none"


def _no_fusion(cfg: CfgNode) -> str | None:
    return None


@dataclass(frozen=True)
class AttentionType:
    """Everything about one kind of attention module. Shapes: N batch, C channels, H x W map."""

    name: str  # its MODEL.ATTENTION.TYPE value, e.g. "bam"
    title: str  # how the UI names it, e.g. "BAM"
    module_class: type[nn.Module]  # what `build` returns; the catalogue finds modules by it
    build: Callable[[CfgNode, int], nn.Module]  # (cfg, channels) -> module; (N, C, H, W) in and out
    # Submodule path inside the module -> name of what its forward output is, e.g.
    # {"channel_att": "channel_logits"}: a (N, C, 1, 1) or (N, 1, H, W) tensor.
    hooks: Mapping[str, str]
    # The captured parts, each (C, h, w) / (C, 1, 1) / (1, h, w) numpy for one image, -> the
    # fields of viz.capture.AttentionMaps: "channel" (C,), "spatial" (h, w), "combined" (C, h, w),
    # all in [0, 1], and optionally "channel_logits" (C,), "spatial_logits" (h, w).
    to_maps: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]
    # True: the module returns F * (1 + combined) (BAM); False: F * combined (CBAM).
    residual: bool
    # Inner key (in our names) whose first dimension is the module's channel count: a module is
    # recognised in a state dict by it, wherever the module sits.
    channels_key: str
    # Other code's inner names -> ours (prefixes), e.g. the authors' CBAM "ChannelGate.mlp.1."
    # -> "channel_gate.mlp.0.". Empty where their names are ours.
    key_aliases: Mapping[str, str] = field(default_factory=dict)
    fusion: Callable[[CfgNode], str | None] = _no_fusion  # a named variant the UI shows, or None
    # Every valid variant -> in words (e.g. BAM's FUSIONS), and the config key that picks it: a
    # config naming another variant is refused with a sentence naming that key.
    fusions: Mapping[str, str] = field(default_factory=dict)
    fusion_key: str = ""
    channel_label: str = "channel gate"  # the channel map, e.g. "σ(Mc)"
    spatial_label: str = "spatial gate"  # the spatial map
    combined_label: str = "Mc · Ms"  # the combined map; "{op}" becomes the fusion's operator

    def combined_name(self, fusion: str | None) -> str:
        return self.combined_label.format(op="+" if fusion == "sum" else "·")

    def inner_key(self, inner: str) -> str:
        """An inner key in our names (other code's names, as in key_aliases, are renamed)."""
        for theirs, ours in self.key_aliases.items():
            if inner.startswith(theirs):
                return ours + inner[len(theirs):]
        return inner


class AttentionRegistry(Registry):
    """fvcore's Registry, keyed by each description's `name` (its MODEL.ATTENTION.TYPE value)."""

    def add(self, spec: AttentionType) -> AttentionType:
        self._do_register(spec.name, spec)
        return spec

    def names(self) -> list[str]:
        """Every valid MODEL.ATTENTION.TYPE value: "none" and each registered type."""
        return [NO_ATTENTION, *(name for name, _ in self)]

    def get(self, name: str) -> AttentionType:
        if name not in self:
            raise KeyError(f"MODEL.ATTENTION.TYPE {name!r} is not a registered attention type; "
                           f"use one of {self.names()}")
        return super().get(name)

    def of_module(self, module: nn.Module) -> AttentionType | None:
        """The description of a built attention module, or None if it is not one."""
        return next((spec for _, spec in self if type(module) is spec.module_class), None)


ATTENTION_REGISTRY = AttentionRegistry("ATTENTION")
ATTENTION_REGISTRY.__doc__ = """
Attention types by MODEL.ATTENTION.TYPE. Each entry is an `AttentionType`; its `build(cfg, C)`
returns an nn.Module taking and returning (N, C, H, W) feature maps.
"""
