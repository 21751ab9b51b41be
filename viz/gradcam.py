"""Grad-CAM and its relatives (the grad-cam library) for one detected instance of a Mask R-CNN.

The grad-cam methods expect `model(tensor)` and per-image outputs that a target turns into a
scalar. `DetectionCamModel` is that adapter: for a fixed list of boxes it runs the detector's
backbone and its box and mask heads on exactly those boxes, with gradients on (detectron2's
predictor runs under no_grad), and returns per image of the batch {"class_logits": (N, K+1),
"mask_logits": (N, K, 28, 28)}: scores before softmax / sigmoid, whose gradients do not vanish
when a detection is confident. Targets pick one box's class score or its mask. Batches matter to
the gradient-free methods: ScoreCAM sends batches of masked copies of the image, AblationCAM
swaps the adapter's tap for the library's ablation layer and sends batches of copies whose
activations have one channel zeroed each; the faithfulness metrics (`cam_faithfulness`, the
library's ROAD and confidence-change metrics) send perturbed images and read the detection's
softmax score.
Scoring the given boxes directly, rather than re-running proposals and NMS, keeps the target the
same instance whatever the model, which the sanity check needs (a randomized model detects
nothing useful).

Only the part of the network above the target layer builds a graph: the layers below it run
without one, so a backward pass costs what the CAM needs and no more. Given the stage outputs a
capture kept (viz.stage_outputs), the layers below do not run at all for the captured input. The
backward pass computes the gradient at the target layer only, not the parameters' (_GradientAtTap).

Concurrency: the target layer's output is routed through a module owned by the adapter by a
thread-scoped hook, so grad-cam's own hooks never see another user's forward pass; CAMs on one
model take a lock, because grad-cam resets the model's .grad fields (`zero_grad`) before each
backward pass.
"""

from __future__ import annotations

import contextlib
import copy
import threading
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import ttach as tta
from pytorch_grad_cam import (
    AblationCAM,
    EigenCAM,
    EigenGradCAM,
    GradCAM,
    GradCAMElementWise,
    GradCAMPlusPlus,
    HiResCAM,
    LayerCAM,
    RandomCAM,
    ScoreCAM,
    XGradCAM,
)
from pytorch_grad_cam.ablation_layer import AblationLayer
from pytorch_grad_cam.metrics.cam_mult_image import CamMultImageConfidenceChange, DropInConfidence, IncreaseInConfidence
from pytorch_grad_cam.metrics.road import ROADCombined
from scipy.stats import spearmanr
from torch import nn

from models import detectron2_compat  # noqa: F401  (must precede detectron2)
from models.inputs import ModelInput
from viz.catalogue import DEFAULT_LAYERS, LayerInfo, get_layer, layer_catalogue  # noqa: F401  (re-exported)
from viz.hooks import scoped_forward_hooks
from viz.stage_outputs import StageOutputs, resume_backbone

from detectron2.structures import Boxes

CAM_METHODS = {
    "GradCAM": GradCAM,
    "GradCAM++": GradCAMPlusPlus,
    "XGradCAM": XGradCAM,
    "LayerCAM": LayerCAM,
    "HiResCAM": HiResCAM,
    "GradCAMElementWise": GradCAMElementWise,
    "EigenGradCAM": EigenGradCAM,
    "EigenCAM": EigenCAM,  # gradient-free: the first principal component of the activations
    # Perturbation methods, gradient-free: one forward pass per channel of the layer, PERTURBATION_BATCH
    # at a time (c4: 256 passes). ScoreCAM masks the input with each upsampled channel (whole network);
    # AblationCAM zeroes one channel at a time (the network below the layer still runs each time).
    "ScoreCAM": ScoreCAM,
    "AblationCAM": AblationCAM,
}
PERTURBATION_METHODS = ("ScoreCAM", "AblationCAM")  # slow: a forward pass per channel
# Not offered: ShapleyCAM needs second derivatives through the box head, and torchvision's roi_align
# has no double backward ("double backwards on roi_align not supported").
# Not an explanation: random channel weights, the floor a method should beat in a measurement.
FLOOR_METHODS = {"RandomCAM": RandomCAM}
PERTURBATION_BATCH = 32  # inputs per forward pass for ScoreCAM and AblationCAM
TARGETS = ("score", "mask")
# eigen_smooth (the first principal component of the weighted activations) where it changes
# something: the Eigen methods are that projection already.
EIGEN_SMOOTH_METHODS = frozenset(CAM_METHODS) - {"EigenCAM", "EigenGradCAM"}
# aug_smooth's test-time augmentation: brightness only. grad-cam's default also flips the image,
# which would move the explained box away from the fixed one the target scores.
AUG_SMOOTH_TRANSFORMS = tta.Compose([tta.Multiply(factors=[0.9, 1, 1.1])])


@dataclass(frozen=True)
class CamRequest:
    """One CAM to compute: of which detection (its box and class), by which method, at which layer,
    for which target, with which smoothing. Plain values, frozen and hashable: a page builds it and
    hands it whole to the engine (`instance_cam`, `sanity_check`), and a cache keys on it as it is.
    """

    box: tuple[float, float, float, float]  # XYXY in original-image pixels (as predictions come back)
    class_id: int
    method: str = "GradCAM"  # a key of CAM_METHODS or FLOOR_METHODS
    layer: str = "c4"  # a layer of viz.catalogue's catalogue whose output is one tensor
    target: str = "score"  # one of TARGETS: the class score of the box, or its mask logits
    aug_smooth: bool = False  # the mean CAM over AUG_SMOOTH_TRANSFORMS (three times the work)
    eigen_smooth: bool = False  # the first principal component; kept only where it changes something
    seed: int | tuple[int, ...] = 0  # RandomCAM's draw of channel weights

    def __post_init__(self):
        if self.method not in CAM_METHODS and self.method not in FLOOR_METHODS:
            raise ValueError(f"unknown CAM method {self.method!r}; choose one of {', '.join(CAM_METHODS)}")
        if self.target not in TARGETS:
            raise ValueError(f"unknown CAM target {self.target!r}; choose one of {', '.join(TARGETS)}")
        object.__setattr__(self, "box", tuple(float(v) for v in np.asarray(self.box, dtype=np.float64).reshape(4)))
        object.__setattr__(self, "class_id", int(self.class_id))
        object.__setattr__(self, "eigen_smooth", bool(self.eigen_smooth) and self.method in EIGEN_SMOOTH_METHODS)
        if not isinstance(self.seed, int):
            object.__setattr__(self, "seed", tuple(int(v) for v in self.seed))

    @property
    def heavy(self) -> bool:
        """Whether computing it is heavy work: a perturbation method (a forward pass per channel of
        the layer) or smoothing (aug_smooth: three CAMs; eigen_smooth: an SVD)."""
        return self.method in PERTURBATION_METHODS or self.aug_smooth or self.eigen_smooth

    @property
    def smoothing(self) -> tuple[str, ...]:
        """The smoothing options on, by grad-cam's names."""
        return tuple(name for name, on in (("aug_smooth", self.aug_smooth), ("eigen_smooth", self.eigen_smooth)) if on)

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
    """Adapter: `(B, 3, h, w)` resized inputs -> B x {"class_logits", "mask_logits"} for fixed boxes.

    Each image of the batch is scored on the same boxes (the methods that perturb the input,
    ScoreCAM and the metrics, send a batch of perturbed copies of one image). With `layer`, its
    output passes through `self.tap`, the module grad-cam hooks (or AblationCAM replaces). With
    `kept` (a capture's stage outputs), the input they came from runs only above `layer`.
    """

    def __init__(self, model: nn.Module, boxes: np.ndarray, layer: LayerInfo | None,
                 kept: StageOutputs | None = None):
        super().__init__()
        self.tap = nn.Identity()  # registered first: AblationCAM's layer search finds it at once
        self.model = model
        self.boxes = torch.as_tensor(np.asarray(boxes, dtype=np.float32).reshape(-1, 4))
        self.layer = layer
        self.kept = kept
        self._grad_above_tap = False
        self._graph_start: tuple[torch.Tensor, torch.Tensor] | None = None  # this forward's (tapped, above)

    def _start_graph(self, inputs, output: torch.Tensor) -> torch.Tensor:
        # Everything below the target layer ran without a graph; gradients start here, unless the
        # caller asked for none (the perturbation methods and metrics run under no_grad).
        torch.set_grad_enabled(self._grad_above_tap)
        if not self._grad_above_tap:
            return self.tap(output)
        # grad-cam hooks the tap's output; the network above runs from a copy of it, whose
        # gradient _GradientAtTap hands back (see there).
        tapped = self.tap(output.detach().requires_grad_(True))
        above = tapped.detach().requires_grad_(True)
        self._graph_start = (tapped, above)
        return above

    def _backbone(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The backbone's features of the batch: from the kept stage outputs where they are of
        exactly this input, else from the image up."""
        model = self.model
        if self.layer is not None and self.kept is not None and self.kept.are_of(model, x):
            features = resume_backbone(model, self.kept, self.layer.module, lambda t: self._start_graph((), t))
            if features is not None:
                return features
        return model.backbone(model.preprocess_image([{"image": image} for image in x]).tensor)

    def forward(self, x: torch.Tensor) -> list[dict]:
        model, heads = self.model, self.model.roi_heads
        grad_was_enabled = torch.is_grad_enabled()
        self._grad_above_tap, self._graph_start = grad_was_enabled, None
        torch.set_grad_enabled(False)
        hooks = {self.layer.module: self._start_graph} if self.layer is not None else {}
        try:
            with scoped_forward_hooks(model, hooks):
                features = self._backbone(x)
            torch.set_grad_enabled(grad_was_enabled)
            boxes = [Boxes(self.boxes.to(model.device))] * len(x)
            box_features = heads.box_pooler([features[f] for f in heads.box_in_features], boxes)
            logits, _ = heads.box_predictor(heads.box_head(box_features))
            mask_features = heads.mask_pooler([features[f] for f in heads.mask_in_features], boxes)
            mask_logits = heads.mask_head.layers(mask_features)
            if self._graph_start is not None:
                logits, mask_logits = _GradientAtTap.apply(*self._graph_start, (logits, mask_logits))
            n = len(self.boxes)
            return [{"class_logits": logits[i * n:(i + 1) * n], "mask_logits": mask_logits[i * n:(i + 1) * n]}
                    for i in range(len(x))]
        finally:
            torch.set_grad_enabled(grad_was_enabled)


class _GradientAtTap(torch.autograd.Function):
    """Joins the heads' outputs to the tap's output for grad-cam's backward pass, which then
    computes the gradient at the tap and nothing else: not the parameters' (half of the cost of
    backpropagating through a convolution), and nothing is written to the shared model's `.grad`.

    forward(tapped, above, outputs): `outputs` were computed from `above`, a detached copy of
    `tapped` (grad-cam's hooked tensor); they come back detached, with this node as their grad_fn.
    """

    @staticmethod
    def forward(ctx, tapped: torch.Tensor, above: torch.Tensor, outputs: tuple[torch.Tensor, ...]):
        ctx.above, ctx.outputs = above, outputs
        ctx.set_materialize_grads(False)  # an output the target does not use gets no backward
        return tuple(output.detach() for output in outputs)

    @staticmethod
    def backward(ctx, *grads):
        used = [(output, grad) for output, grad in zip(ctx.outputs, grads) if grad is not None]
        if not used:
            return None, None, None
        (grad,) = torch.autograd.grad([o for o, _ in used], [ctx.above], [g for _, g in used])
        return grad, None, None


def instance_cam(model: nn.Module, model_input: ModelInput, request: CamRequest, *,
                 kept: StageOutputs | None = None) -> np.ndarray:
    """A CAM for one instance.

    Args:
        model: the detectron2 model (shared models are not changed; CAMs on one model take turns).
        model_input: the image as the model sees it (models.inputs.ModelInput).
        request: which instance, method, layer, target and smoothing; RandomCAM draws its channel
            weights from `request.seed` (numpy's global generator, restored afterwards).
        kept: the stage outputs of a capture of this input by this model (Capture.stage_outputs):
            the unperturbed input then runs only above the layer (the same CAM, for less); other
            inputs run in full.

    Returns:
        (H, W) float32 in [0, 1] at the original image size.

    Raises:
        viz.catalogue.UnknownLayerError: a layer the model does not have; ValueError: one whose
        output is not a single tensor.
    """
    info = get_layer(layer_catalogue(model), request.layer)
    if not info.cam_ok:
        raise ValueError(f"layer {request.layer!r} returns no single tensor; CAMs need another layer")
    adapter = DetectionCamModel(model, model_input.to_input_coords(np.asarray(request.box, np.float32)), info, kept)
    rows, cols = model_input.valid_size(info.stride)
    make_target = InstanceScoreTarget if request.target == "score" else InstanceMaskTarget
    with _model_lock(model), torch.enable_grad():
        try:
            cam = _cam_method(request.method, adapter, reshape_transform=lambda t: t[..., :rows, :cols])
            cam.tta_transforms = AUG_SMOOTH_TRANSFORMS
            with cam, _numpy_seeded(request.seed):
                grayscale = cam(model_input.image[None], targets=[make_target(0, request.class_id)],
                                aug_smooth=request.aug_smooth, eigen_smooth=request.eigen_smooth)[0]
        finally:
            model.zero_grad(set_to_none=True)  # no gradient memory left on the shared model
    grayscale = np.nan_to_num(grayscale.astype(np.float32))
    return np.clip(cv2.resize(grayscale, (model_input.width, model_input.height), interpolation=cv2.INTER_LINEAR),
                   0.0, 1.0)


def _cam_method(method: str, adapter: DetectionCamModel, reshape_transform):
    kind = CAM_METHODS.get(method) or FLOOR_METHODS[method]
    if kind is AblationCAM:  # a fresh ablation layer: the library's default instance is shared by all calls
        return AblationCAM(model=adapter, target_layers=[adapter.tap], reshape_transform=reshape_transform,
                           ablation_layer=AblationLayer(), batch_size=PERTURBATION_BATCH)
    cam = kind(model=adapter, target_layers=[adapter.tap], reshape_transform=reshape_transform)
    if kind is ScoreCAM:
        cam.batch_size = PERTURBATION_BATCH  # ScoreCAM reads this attribute (default 16)
    return cam


@contextlib.contextmanager
def _numpy_seeded(seed: int | Sequence[int]) -> Iterator[None]:
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


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
    def flat(self) -> bool:
        """The model's own map is flat: it explains nothing, so there is nothing to test."""
        return float(np.ptp(self.original)) == 0.0

    @property
    def passed(self) -> bool:
        # not flat; NaN (the randomized map is flat) passes: the explanation vanished with the heads
        return not self.flat and not self.correlation >= 0.5

    def __str__(self) -> str:
        if self.flat:
            return ("The CAM of the model itself is flat (the same value everywhere): it explains nothing, "
                    "so the check against randomized heads cannot pass")
        if np.isnan(self.correlation):
            return "Spearman ρ undefined against randomized heads: their map is flat, the explanation vanished (passes)"
        verdict = "changes with the heads: passes" if self.passed else "barely changes: fails"
        return f"Spearman ρ = {self.correlation:.2f} against randomized heads ({verdict})"


def sanity_check(model: nn.Module, model_input: ModelInput, request: CamRequest, *, seed: int = 0,
                 original: np.ndarray | None = None, randomized: nn.Module | None = None) -> SanityCheck:
    """The CAM of the model against the same CAM of randomize_heads(model, seed=seed).

    Args:
        model, model_input, request: as `instance_cam`'s; both CAMs are the request's.
        seed: the randomized heads' draw.
        original: the model's CAM when already computed.
        randomized: a randomize_heads copy to reuse over many calls (a dataset).

    Returns:
        The SanityCheck: the rank correlation of the two CAMs, and both.
    """
    if original is None:
        original = instance_cam(model, model_input, request)
    randomized = randomize_heads(model, seed=seed) if randomized is None else randomized
    second = instance_cam(randomized, model_input, request)
    flat = original.std() == 0 or second.std() == 0
    rho = float("nan") if flat else float(spearmanr(original.ravel(), second.ravel()).statistic)
    return SanityCheck(correlation=rho, original=original, randomized=second)


class InstanceProbabilityTarget:
    """The detection score of box `index` for `class_id`: the softmax over its K+1 class logits,
    the score detectron2 reports. The faithfulness metrics compare it before and after."""

    def __init__(self, index: int, class_id: int):
        self.index, self.class_id = index, class_id

    def __call__(self, output: dict) -> torch.Tensor:
        return torch.softmax(output["class_logits"][self.index], dim=-1)[self.class_id]


ROAD_PERCENTILES = (20, 40, 60, 80)  # fewer than the library's nine: each is two forward passes and imputations
# The grad-cam library's faithfulness metrics, each `(input (B, 3, h, w), cams (B, h, w), targets,
# model) -> (B,)`. Higher is more faithful for all but drop_in_confidence.
FAITHFULNESS = {
    # score(image x CAM) - score(image): keeping only what the CAM shows keeps the detection
    "confidence_change": CamMultImageConfidenceChange,
    "drop_in_confidence": DropInConfidence,  # max(0, -confidence change): lower is better
    "increase_in_confidence": IncreaseInConfidence,  # 1 where the confidence rose
    # ROAD (Rong et al., 2022): (score with the least relevant pixels imputed - with the most
    # relevant imputed) / 2, averaged over ROAD_PERCENTILES; noisy linear imputation
    "road": lambda: ROADCombined(percentiles=list(ROAD_PERCENTILES)),
}


def cam_faithfulness(model: nn.Module, model_input: ModelInput, request: CamRequest, cam: np.ndarray,
                     *, metrics: Sequence[str] = tuple(FAITHFULNESS), seed: int = 0) -> dict[str, float]:
    """The grad-cam library's faithfulness metrics of one instance's CAM, on its detection score.

    Args:
        model, model_input: as `instance_cam`'s.
        request: the CAM's request; its box is scored as in instance_cam (fixed box,
            InstanceProbabilityTarget), for its class.
        cam: (H, W) in [0, 1] at the original image size (what instance_cam returns); it is
            resized to the model input, which the metrics perturb (multiplied by the CAM, or
            ROAD's imputation).
        metrics: keys of FAITHFULNESS.
        seed: ROAD's imputation noise (torch's generator, restored afterwards).

    Returns:
        {metric: value}.
    """
    unknown = [m for m in metrics if m not in FAITHFULNESS]
    if unknown:
        raise ValueError(f"unknown faithfulness metric {unknown[0]!r}; choose from {', '.join(FAITHFULNESS)}")
    adapter = DetectionCamModel(model, model_input.to_input_coords(np.asarray(request.box, np.float32)), None)
    h, w = model_input.input_size
    cams = cv2.resize(np.asarray(cam, np.float32), (w, h), interpolation=cv2.INTER_LINEAR)[None]
    targets = [InstanceProbabilityTarget(0, request.class_id)]
    values = {}
    with _model_lock(model), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for name in metrics:
            values[name] = float(FAITHFULNESS[name]()(model_input.image[None], cams, targets, adapter)[0])
    return values
