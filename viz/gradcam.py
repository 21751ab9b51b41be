"""Grad-CAM and its relatives (the grad-cam library) for one detected instance of a Mask R-CNN.

The grad-cam methods expect `model(tensor)` and per-image outputs that a target turns into a
scalar. `DetectionCamModel` is that adapter: for a fixed list of boxes it runs the detector's
backbone and its box and mask heads on exactly those boxes, with gradients on (detectron2's
predictor runs under no_grad), and returns per image {"class_logits": (N, K+1),
"mask_logits": (N, K, 28, 28)}: scores before softmax / sigmoid, whose gradients do not vanish
when a detection is confident. Targets pick one box's class score or its mask.
Scoring the given boxes directly, rather than re-running proposals and NMS, keeps the target the
same instance whatever the model, which the sanity check needs (a randomized model detects
nothing useful).

Only the part of the network above the target layer builds a graph: the layers below it run
without one, so a backward pass costs what the CAM needs and no more.

Concurrency: the target layer's output is routed through a module owned by the adapter by a
thread-scoped hook, so grad-cam's own hooks never see another user's forward pass; CAMs on one
model take a lock, because backward passes write the shared model's .grad fields.
"""

from __future__ import annotations

import copy
import threading
import weakref
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch import nn
from pytorch_grad_cam import (EigenCAM, EigenGradCAM, GradCAM, GradCAMElementWise, GradCAMPlusPlus, HiResCAM,
                              LayerCAM, XGradCAM)
from scipy.stats import spearmanr

from models import detectron2_compat  # noqa: F401  (must precede detectron2)
from detectron2.structures import Boxes

from models.inputs import ModelInput
from viz.catalogue import DEFAULT_LAYERS, LayerInfo, get_layer, layer_catalogue  # noqa: F401  (re-exported)
from viz.hooks import scoped_forward_hooks

CAM_METHODS = {
    "GradCAM": GradCAM,
    "GradCAM++": GradCAMPlusPlus,
    "XGradCAM": XGradCAM,
    "LayerCAM": LayerCAM,
    "HiResCAM": HiResCAM,
    "GradCAMElementWise": GradCAMElementWise,
    "EigenGradCAM": EigenGradCAM,
    "EigenCAM": EigenCAM,  # gradient-free: the first principal component of the activations
}
TARGETS = ("score", "mask")

_locks: "weakref.WeakKeyDictionary[nn.Module, threading.Lock]" = weakref.WeakKeyDictionary()
_locks_guard = threading.Lock()


def _model_lock(model: nn.Module) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(model, threading.Lock())


class InstanceScoreTarget:
    """The class score (before softmax, as Grad-CAM defines it) of `class_id` for box `index`."""

    def __init__(self, index: int, class_id: int):
        self.index, self.class_id = index, class_id

    def __call__(self, output: dict) -> torch.Tensor:
        return output["class_logits"][self.index, self.class_id]


class InstanceMaskTarget:
    """The summed mask logits of box `index` over the pixels its mask predicts."""

    def __init__(self, index: int, class_id: int):
        self.index, self.class_id = index, class_id

    def __call__(self, output: dict) -> torch.Tensor:
        masks = output["mask_logits"][self.index]
        mask = masks[min(self.class_id, masks.shape[0] - 1)]  # class-agnostic heads have one
        inside = mask.detach() > 0  # probability above 0.5
        return (mask * inside).sum() if inside.any() else mask.sum()


class DetectionCamModel(nn.Module):
    """Adapter: `(1, 3, h, w)` resized input -> [{"class_logits", "mask_logits"}] for fixed boxes."""

    def __init__(self, model: nn.Module, boxes: np.ndarray, layer: LayerInfo):
        super().__init__()
        self.model = model
        self.boxes = torch.as_tensor(np.asarray(boxes, dtype=np.float32).reshape(-1, 4))
        self.layer = layer
        self.tap = nn.Identity()  # grad-cam hooks this, not the shared model

    def _start_graph(self, inputs, output: torch.Tensor) -> torch.Tensor:
        # Everything below the target layer ran without a graph; gradients start here.
        torch.set_grad_enabled(True)
        return self.tap(output.detach().requires_grad_(True))

    def forward(self, x: torch.Tensor) -> list[dict]:
        model, heads = self.model, self.model.roi_heads
        grad_was_enabled = torch.is_grad_enabled()
        torch.set_grad_enabled(False)
        try:
            with scoped_forward_hooks(model, {self.layer.module: self._start_graph}):
                images = model.preprocess_image([{"image": x[0]}])
                features = model.backbone(images.tensor)
            boxes = [Boxes(self.boxes.to(images.tensor.device))]
            box_features = heads.box_pooler([features[f] for f in heads.box_in_features], boxes)
            logits, _ = heads.box_predictor(heads.box_head(box_features))
            mask_features = heads.mask_pooler([features[f] for f in heads.mask_in_features], boxes)
            return [{"class_logits": logits, "mask_logits": heads.mask_head.layers(mask_features)}]
        finally:
            torch.set_grad_enabled(grad_was_enabled)


def instance_cam(model: nn.Module, model_input: ModelInput, box: np.ndarray, class_id: int, *,
                 method: str = "GradCAM", layer: str = "c4", target: str = "score") -> np.ndarray:
    """A CAM for one instance, (H, W) float32 in [0, 1] at the original image size.

    box: XYXY in original-image pixels (as predictions come back); class_id: its class index.
    """
    if method not in CAM_METHODS:
        raise ValueError(f"unknown CAM method {method!r}; choose one of {', '.join(CAM_METHODS)}")
    if target not in TARGETS:
        raise ValueError(f"unknown CAM target {target!r}; choose one of {', '.join(TARGETS)}")
    info = get_layer(layer_catalogue(model), layer)
    if not info.cam_ok:
        raise ValueError(f"layer {layer!r} returns no single tensor; CAMs need another layer")
    adapter = DetectionCamModel(model, model_input.to_input_coords(box), info)
    rows, cols = model_input.valid_size(info.stride)
    make_target = InstanceScoreTarget if target == "score" else InstanceMaskTarget
    with _model_lock(model), torch.enable_grad():
        try:
            cam = CAM_METHODS[method](model=adapter, target_layers=[adapter.tap],
                                      reshape_transform=lambda t: t[..., :rows, :cols])
            with cam:
                grayscale = cam(model_input.image[None], targets=[make_target(0, class_id)])[0]
        finally:
            model.zero_grad(set_to_none=True)  # no gradient memory left on the shared model
    grayscale = np.nan_to_num(grayscale.astype(np.float32))
    return np.clip(cv2.resize(grayscale, (model_input.width, model_input.height), interpolation=cv2.INTER_LINEAR),
                   0.0, 1.0)


def randomize_heads(model: nn.Module, *, seed: int = 0) -> nn.Module:
    """A copy of the model whose box and mask heads have fresh random weights (the backbone is
    kept): the model-parameter randomization test of Adebayo et al. (2018)."""
    randomized = copy.deepcopy(model)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for part in (randomized.roi_heads.box_head, randomized.roi_heads.box_predictor, randomized.roi_heads.mask_head):
            for p in part.parameters():
                p.copy_(torch.randn(p.shape, generator=generator) * p.std(correction=0).clamp(min=1e-2))
    return randomized


@dataclass
class SanityCheck:
    """Rank correlation between the CAM of the model and of the model with randomized heads.

    An explanation that depends on what the model learned changes when the heads are randomized
    (low correlation); one that stays (correlation near 1) explains the image, not the model.
    """

    correlation: float
    original: np.ndarray
    randomized: np.ndarray

    @property
    def passed(self) -> bool:
        return not self.correlation >= 0.5  # NaN (a flat map) passes: the explanation vanished

    def __str__(self) -> str:
        if np.isnan(self.correlation):
            return "Spearman ρ undefined against randomized heads: one map is flat (passes)"
        verdict = "changes with the heads: passes" if self.passed else "barely changes: fails"
        return f"Spearman ρ = {self.correlation:.2f} against randomized heads ({verdict})"


def sanity_check(model: nn.Module, model_input: ModelInput, box: np.ndarray, class_id: int, *,
                 method: str = "GradCAM", layer: str = "c4", target: str = "score", seed: int = 0,
                 original: np.ndarray | None = None) -> SanityCheck:
    if original is None:
        original = instance_cam(model, model_input, box, class_id, method=method, layer=layer, target=target)
    randomized = instance_cam(randomize_heads(model, seed=seed), model_input, box, class_id,
                              method=method, layer=layer, target=target)
    flat = original.std() == 0 or randomized.std() == 0
    rho = float("nan") if flat else float(spearmanr(original.ravel(), randomized.ravel()).statistic)
    return SanityCheck(correlation=rho, original=original, randomized=randomized)
