"""The ResNet stage outputs of one forward pass, kept so that a CAM of that same input runs only
the part of the backbone above its layer.

A capture (viz.capture) runs the whole network once; a Grad-CAM at c4 needs a graph only from c4
up: the rest of the ResNet, the FPN (which also takes the lower stages' outputs, as they are, for
its lateral connections), and the heads. `resume_backbone` gives the backbone's output features
for the kept input, running only what lies above the target layer.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from torch import nn

from viz.catalogue import resnet_of
from viz.frozen import frozen_mapping


@dataclass(frozen=True, eq=False)
class StageOutputs:
    """Each ResNet stage's output ("res2" -> (1, C, H, W), padded, detached, on the CPU) of `model`
    on `image`. Never written: on the CPU they share memory with the capture's cropped feature maps.
    Not for display (Capture.features is): only for CAMs of exactly this input on this model."""

    model: weakref.ref  # the model that computed them; a CAM of another model runs in full
    image: torch.Tensor  # (3, h, w): the model input (ModelInput.image) they came from
    outputs: Mapping[str, torch.Tensor]

    def __post_init__(self):
        object.__setattr__(self, "outputs", frozen_mapping(self.outputs))

    def are_of(self, model: nn.Module, batch: torch.Tensor) -> bool:
        """Whether these are the outputs of `model` on `batch`, (1, 3, h, w): the very input the
        capture saw (perturbed, augmented or batched inputs run the whole network)."""
        return (self.model() is model and len(batch) == 1 and batch.shape[1:] == self.image.shape
                and torch.equal(batch[0].cpu(), self.image))


def resume_backbone(model: nn.Module, kept: StageOutputs, module: str,
                    start_graph: Callable[[torch.Tensor], torch.Tensor]) -> dict[str, torch.Tensor] | None:
    """`model.backbone`'s output features on the kept input, running only what lies above
    `module` (the path of the target layer's module): a stage output is taken as kept and passed
    through `start_graph`, from which the stages above run; for a layer inside a stage, that stage
    runs again from the one below's kept output (the caller's hook on `module` starts the graph);
    for an FPN layer all the ResNet's outputs are kept ones. None for a layer in the first stage
    or the stem, whose input is not kept."""
    resnet, prefix = resnet_of(model)
    names = list(resnet.stage_names)
    paths = [f"{prefix}.{name}" for name in names]
    if module in paths:  # a stage's output: every stage up to it is kept
        first_run = paths.index(module) + 1
    elif module.startswith(prefix + "."):  # inside a stage: run that one again
        inside = [i for i, path in enumerate(paths) if module.startswith(path + ".")]
        if not inside or inside[0] == 0:
            return None
        first_run = inside[0]
    else:  # an FPN layer
        first_run = len(names)
    device = next(model.parameters()).device
    # The loop of detectron2's ResNet.forward over its stages (the stem's output is not an output
    # of a detection backbone), starting from the kept outputs.
    outputs, x = {}, None
    for i, (name, stage) in enumerate(zip(names, resnet.stages)):
        if i < first_run:
            x = kept.outputs[name].to(device)
            x = start_graph(x) if paths[i] == module else x
        else:
            x = stage(x)
        if name in resnet._out_features:
            outputs[name] = x
    if resnet is model.backbone:
        return outputs
    # detectron2's own FPN.forward, with the outputs above as its bottom-up's.
    return type(model.backbone).forward(_WithBottomUpOutputs(model.backbone, outputs), None)


class _WithBottomUpOutputs:
    """Stands in for an FPN as FPN.forward's `self`: every attribute is the FPN's own, except the
    bottom-up network, which returns the given outputs. The shared model is not changed."""

    def __init__(self, fpn: nn.Module, outputs: dict[str, torch.Tensor]):
        self._fpn = fpn
        self.bottom_up = lambda _image: outputs

    def __getattr__(self, name: str):
        return getattr(self._fpn, name)
