"""Run a model on one image and capture, with its predictions, the maps inside it.

Captured maps are detached, on the CPU, as float32 numpy arrays, cropped to the part of the map
that covers the image (detectron2 pads the input to a multiple of 32); `Capture.to_image` resizes
any of them to the original image.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch
from torch import nn

from models import detectron2_compat  # noqa: F401  (must precede detectron2)
from models.attention import ATTENTION_REGISTRY, AttentionType
from models.inputs import ModelInput, prepare_input
from viz.catalogue import AttentionInfo, attention_modules, layer_catalogue, resnet_of
from viz.frozen import frozen_mapping, read_only
from viz.hooks import scoped_forward_hooks
from viz.stage_outputs import StageOutputs

from detectron2.config import CfgNode
from detectron2.structures import Instances


@dataclass(frozen=True)
class AttentionMaps:
    """One attention module's maps, cropped to the image region of its stage. Frozen, its arrays
    read-only: a capture is shared between sessions (app/cache.py)."""

    stage: str  # the stage output it refines: "c2", "c3", ...
    kind: str  # its MODEL.ATTENTION.TYPE name ("bam", "cbam", ...): see `spec`
    channel: np.ndarray  # (C,) in [0, 1]: BAM sigmoid(Mc); CBAM's channel gate
    spatial: np.ndarray  # (h, w) in [0, 1]: BAM sigmoid(Ms); CBAM's spatial gate
    combined: np.ndarray  # (C, h, w) in [0, 1]: what multiplies the features (BAM: F * (1 + M))
    channel_logits: np.ndarray | None = None  # BAM's raw Mc, (C,)
    spatial_logits: np.ndarray | None = None  # BAM's raw Ms, (h, w)

    def __post_init__(self):
        for name in ("channel", "spatial", "combined", "channel_logits", "spatial_logits"):
            read_only(getattr(self, name))

    @property
    def spec(self) -> AttentionType:
        """Its type's description: title, labels, how `combined` acts on the features."""
        return ATTENTION_REGISTRY.get(self.kind)

    @property
    def combined_mean(self) -> np.ndarray:
        """Per-pixel summary of the combined map: its mean over channels, (h, w)."""
        return self.combined.mean(axis=0)


@dataclass(frozen=True)
class Capture:
    """What one forward pass gave. Frozen: its mappings are read-only copies, its arrays read-only
    (the detectron2 `Instances` cannot be frozen: nobody writes into them)."""

    instances: Instances | None  # predictions at the original image size, on the CPU (None: maps only)
    features: Mapping[str, np.ndarray]  # layer name -> (C, h, w)
    attention: Mapping[str, AttentionMaps]  # stage ("c2", ...) -> maps
    model_input: ModelInput
    strides: Mapping[str, int] = field(default_factory=dict)  # layer or stage name -> stride
    # The padded stage outputs, for CAMs of this input to start above their layer (viz.gradcam);
    # not for display. On the CPU they are the memory `features` c2..c5 are views of.
    stage_outputs: StageOutputs | None = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        for name in ("features", "attention", "strides"):
            object.__setattr__(self, name, frozen_mapping(getattr(self, name)))

    @property
    def image_size(self) -> tuple[int, int]:
        return self.model_input.height, self.model_input.width

    def to_image(self, grid: np.ndarray, stride: int) -> np.ndarray:
        """Resize a (h, w) map of the given stride to the original image size, (H, W)."""
        rows, cols = grid.shape
        h, w = self.model_input.input_size
        # First to the padded input the map covers, then cut the padding, then to the original.
        covered = cv2.resize(grid.astype(np.float32), (cols * stride, rows * stride), interpolation=cv2.INTER_LINEAR)
        return cv2.resize(covered[:h, :w], (self.model_input.width, self.model_input.height),
                          interpolation=cv2.INTER_LINEAR)


def _as_map(t: torch.Tensor, valid: tuple[int, int]) -> np.ndarray:
    """(1, C, H, W) or (1, C, 1, 1) tensor -> (C, h, w) numpy, without the padding."""
    t = t.detach()[0]
    if t.shape[-1] > 1 or t.shape[-2] > 1:
        t = t[..., : valid[0], : valid[1]]
    return t.float().cpu().numpy()


def _attention_callbacks(info: AttentionInfo, valid: tuple[int, int], raw: dict) -> dict:
    """Hooks on an attention module's parts (its type's `hooks`); they fill raw[stage][part]."""
    store = raw.setdefault(info.stage, {})

    def keep(part):
        def record(inputs, output):
            store[part] = _as_map(output, valid)
        return record

    hooks = ATTENTION_REGISTRY.get(info.kind).hooks
    return {f"{info.module}.{path}" if path else info.module: keep(part) for path, part in hooks.items()}


def _attention_maps(info: AttentionInfo, parts: dict) -> AttentionMaps:
    return AttentionMaps(info.stage, info.kind, **ATTENTION_REGISTRY.get(info.kind).to_maps(parts))


def capture(model: nn.Module, cfg: CfgNode, image_rgb: np.ndarray, *, fpn: bool = False) -> Capture:
    """Predictions plus c2..c5, the maps entering each attention module, every attention map,
    and (with `fpn=True`) p2..p6, for one (H, W, 3) uint8 RGB image."""
    return capture_input(model, prepare_input(image_rgb, cfg), fpn=fpn)


def capture_input(model: nn.Module, model_input: ModelInput, *, fpn: bool = False,
                  maps_only: bool = False) -> Capture:
    """`capture` for an image already prepared for this model (models.inputs.prepare_input).

    With `maps_only`, only the ResNet runs (with its attention): the stage outputs, the maps
    entering each attention module and the attention maps, exactly as a full pass gives them, at
    about half its cost (no FPN, RPN or heads); the capture has no predictions (instances None).
    For the dataset measures of maps (evaluation.image_pass)."""
    if maps_only and fpn:
        raise ValueError("the FPN levels need the full pass: maps_only and fpn exclude each other.")
    catalogue = layer_catalogue(model)
    wanted = [layer for layer in catalogue.values() if fpn or layer.kind != "fpn"]
    features: dict[str, np.ndarray] = {}
    stage_outputs: dict[str, torch.Tensor] = {}
    raw_attention: dict[str, dict] = {}

    def keep_feature(layer):
        valid = model_input.valid_size(layer.stride)
        pick = (lambda out: out[0]) if layer.name == "p6" else (lambda out: out)  # top block: a list
        def keep(inputs, output):
            features[layer.name] = _as_map(pick(output), valid)
        def keep_stage(inputs, output):
            kept = stage_outputs[layer.module.rsplit(".", 1)[1]] = output.detach().cpu()
            features[layer.name] = _as_map(kept, valid)  # a view: no second copy
        return keep_stage if layer.kind == "stage" else keep

    callbacks = {layer.module: keep_feature(layer) for layer in wanted}
    attention = attention_modules(model)
    for info in attention.values():
        callbacks.update(_attention_callbacks(info, model_input.valid_size(info.stride), raw_attention))

    with scoped_forward_hooks(model, callbacks), torch.no_grad():
        if maps_only:  # the network's own normalisation and padding, then its ResNet alone
            resnet_of(model)[0](model.preprocess_image(model_input.batch()).tensor)
            instances = None
        else:
            (output,) = model(model_input.batch())
            instances = output["instances"].to("cpu")
    return Capture(
        instances=instances,
        features=features,
        attention={stage: _attention_maps(info, raw_attention[stage]) for stage, info in attention.items()},
        model_input=model_input,
        strides={**{layer.name: layer.stride for layer in wanted},
                 **{info.stage: info.stride for info in attention.values()}},
        stage_outputs=StageOutputs(weakref.ref(model), model_input.image, stage_outputs),
    )
