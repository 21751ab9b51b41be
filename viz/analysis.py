"""One call per image and model: predictions, every captured map, CAMs, and a JSON summary;
and the with/without comparison of two such analyses."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from torch import nn

from models import detectron2_compat  # noqa: F401  (must precede detectron2)
from viz.capture import Capture, capture
from viz.catalogue import DEFAULT_LAYERS
from viz.compare import DetectionDiff, Match, cam_difference, feature_difference, match_instances
from viz.frozen import frozen_mapping
from viz.render import top_channels

from detectron2.config import CfgNode

STAGES = ("c2", "c3", "c4", "c5")


@dataclass(frozen=True)
class ModelAnalysis:
    """One model's look at one image. Frozen and shared as is (app/cache.py): its CAMs are a
    read-only mapping of read-only arrays; `with_cams` and `dataclasses.replace` give new analyses."""

    label: str
    capture: Capture
    class_names: tuple[str, ...]
    score_threshold: float
    cams: Mapping[tuple[int, str], np.ndarray] = field(default_factory=dict)  # (instance, layer) -> (H, W)
    cam_method: str = "GradCAM"
    cam_target: str = "score"

    def __post_init__(self):
        object.__setattr__(self, "cams", frozen_mapping(self.cams))

    @property
    def detections(self) -> list[int]:
        """Indices of the instances at or above the score threshold, best first."""
        scores = self.capture.instances.scores.numpy()
        return [int(i) for i in np.argsort(-scores, kind="stable") if scores[i] >= self.score_threshold]

    def class_name(self, class_id: int) -> str:
        return self.class_names[class_id] if class_id < len(self.class_names) else f"class {class_id}"


def instance_box_and_class(analysis: ModelAnalysis, index: int) -> tuple[np.ndarray, int]:
    """(the XYXY box (4,) in original-image pixels, the class index) of detection `index`."""
    inst = analysis.capture.instances
    return inst.pred_boxes.tensor[index].numpy(), int(inst.pred_classes[index])


def cam_request(analysis: ModelAnalysis, index: int, layer: str):
    """The viz.gradcam.CamRequest of instance `index` at `layer`, by the analysis's CAM method and target."""
    from viz.gradcam import CamRequest  # here: the grad-cam library pulls scikit-learn and scipy

    box, class_id = instance_box_and_class(analysis, index)
    return CamRequest(box, class_id, method=analysis.cam_method, layer=layer, target=analysis.cam_target)


def cam_of(analysis: ModelAnalysis, model: nn.Module, index: int, layer: str) -> np.ndarray:
    """The CAM, (H, W) in [0, 1], of instance `index` at `layer`: the analysis's own if it has it,
    else computed (and not stored: the analysis does not change)."""
    # Imported here, not above: the grad-cam library pulls scikit-learn and scipy, which pages
    # without CAMs (the first one, Detections) should not wait for.
    from viz.gradcam import instance_cam

    if (index, layer) in analysis.cams:
        return analysis.cams[(index, layer)]
    return instance_cam(model, analysis.capture.model_input, cam_request(analysis, index, layer),
                        kept=analysis.capture.stage_outputs)


def with_cams(analysis: ModelAnalysis, cams: Mapping[tuple[int, str], np.ndarray]) -> ModelAnalysis:
    """A new analysis with `cams` added to its own ((instance, layer) -> (H, W))."""
    return replace(analysis, cams={**analysis.cams, **cams})


def analyze(model: nn.Module, cfg: CfgNode, image: np.ndarray, *, label: str, class_names: tuple[str, ...] = (),
            score_threshold: float = 0.5, cam_method: str = "GradCAM", cam_target: str = "score",
            cam_layers: tuple[str, ...] = DEFAULT_LAYERS, cam_instances: int = 1, fpn: bool = False) -> ModelAnalysis:
    """Predictions and maps, plus CAMs of the `cam_instances` best detections at `cam_layers`."""
    result = ModelAnalysis(label, capture(model, cfg, image, fpn=fpn), tuple(class_names), score_threshold,
                           cam_method=cam_method, cam_target=cam_target)
    cams = {(index, layer): cam_of(result, model, index, layer)
            for index in result.detections[:cam_instances] for layer in cam_layers}
    return with_cams(result, cams)


def attention_statistics(cap: Capture) -> dict[str, dict]:
    """Per attention stage: how peaked the channel attention is and where the spatial one looks."""
    stats, width, height = {}, cap.model_input.width, cap.model_input.height
    for stage, maps in cap.attention.items():
        spatial = maps.spatial
        peak_row, peak_col = np.unravel_index(int(np.argmax(spatial)), spatial.shape)
        stride = cap.strides[stage]
        stats[stage] = {
            "kind": maps.kind,
            "channels": int(maps.channel.size),
            "channel_mean": float(maps.channel.mean()), "channel_std": float(maps.channel.std()),
            "channel_min": float(maps.channel.min()), "channel_max": float(maps.channel.max()),
            "top_channels": [int(c) for c in top_channels(None, 5, weights=maps.channel)],
            "spatial_mean": float(spatial.mean()), "spatial_std": float(spatial.std()),
            "spatial_max": float(spatial.max()),
            "spatial_area_above_half": float((spatial > 0.5).mean()),
            "spatial_peak_xy": [float((peak_col + 0.5) * stride * width / cap.model_input.input_size[1]),
                                float((peak_row + 0.5) * stride * height / cap.model_input.input_size[0])],
            "combined_mean": float(maps.combined.mean()),
        }
    return stats


def instances_summary(analysis: ModelAnalysis) -> list[dict]:
    """One JSON-ready dict per kept detection: index, class name, score, XYXY box (pixels)."""
    inst = analysis.capture.instances
    return [{"index": i, "class": analysis.class_name(int(inst.pred_classes[i])), "score": float(inst.scores[i]),
             "box_xyxy": [round(float(v), 1) for v in inst.pred_boxes.tensor[i]],
             "mask_area": int(inst.pred_masks[i].sum())} for i in analysis.detections]


@dataclass(frozen=True)
class Comparison:
    """Two analyses of one image compared. Frozen, its maps read-only (shared by app/cache.py)."""

    detections: DetectionDiff
    feature_diffs: Mapping[str, np.ndarray]  # stage -> (h, w) in [-1, 1], at the "with" model's resolution
    cam_diffs: Mapping[tuple[int, str], np.ndarray] = field(default_factory=dict)  # (kept match, layer) -> (H, W)
    # The CAMs the differences come from, (with, without), each (instance, layer) -> (H, W).
    cams: tuple[Mapping, Mapping] = ({}, {})

    def __post_init__(self):
        for name in ("feature_diffs", "cam_diffs"):
            object.__setattr__(self, name, frozen_mapping(getattr(self, name)))
        object.__setattr__(self, "cams", tuple(frozen_mapping(c) for c in self.cams))


CamSource = Callable[[int, str], np.ndarray]  # (instance index, layer) -> that model's CAM, (H, W) in [0, 1]


def ranked_matches(diff: DetectionDiff) -> list[Match]:
    """The kept matches, the best-scoring (with attention) first: rank k is "matched instance k"
    of the CAM differences (Comparison.cam_diffs)."""
    return sorted(diff.kept, key=lambda m: -m.score_with)


def with_cam_differences(comparison: Comparison, cams: tuple[CamSource, CamSource], *, ranks: Sequence[int] = (0,),
                         layers: Sequence[str] = ("c4",)) -> Comparison:
    """A comparison with the CAM differences (with − without) of some matched instances added.

    Args:
        comparison: the comparison of the two analyses.
        cams: (the model with attention's, the one without's) CAM of an instance at a layer,
            e.g. `lambda index, layer: cam_of(analysis, model, index, layer)`, or the app's cache.
        ranks: which kept matches, by `ranked_matches` (0: the best-scoring).
        layers: at which layers.

    Returns:
        A new Comparison: its cam_diffs gain (rank, layer) -> (H, W) in [-1, 1], its cams the
        CAMs they come from ((instance, layer) -> (H, W), with's and without's).
    """
    matches = ranked_matches(comparison.detections)
    diffs, cams_with, cams_without = dict(comparison.cam_diffs), dict(comparison.cams[0]), dict(comparison.cams[1])
    for k in ranks:
        match = matches[k]
        for layer in layers:
            a = cams_with[(match.index_with, layer)] = cams[0](match.index_with, layer)
            b = cams_without[(match.index_without, layer)] = cams[1](match.index_without, layer)
            diffs[(k, layer)] = cam_difference(a, b)
    return replace(comparison, cam_diffs=diffs, cams=(cams_with, cams_without))


def compare(with_att: ModelAnalysis, without_att: ModelAnalysis, models: tuple[nn.Module, nn.Module] | None = None,
            *, cam_layers: tuple[str, ...] = (), cam_matches: int = 1) -> Comparison:
    """Detection changes and per-stage feature differences; with `models`, also CAM differences
    for the best `cam_matches` matched instances (`with_cams(analysis, comparison.cams[i])` adds
    their CAMs to the analyses)."""
    diff = match_instances(with_att.capture.instances, without_att.capture.instances,
                           score_threshold=min(with_att.score_threshold, without_att.score_threshold))
    features = {s: feature_difference(with_att.capture.features[s], without_att.capture.features[s])
                for s in STAGES if s in with_att.capture.features and s in without_att.capture.features}
    comparison = Comparison(diff, features)
    if not models:
        return comparison
    sources = tuple(lambda index, layer, a=analysis, m=model: cam_of(a, m, index, layer)
                    for analysis, model in ((with_att, models[0]), (without_att, models[1])))
    return with_cam_differences(comparison, sources, ranks=range(min(cam_matches, len(diff.kept))), layers=cam_layers)


def summary(analyses: list[ModelAnalysis], comparison: Comparison | None = None) -> dict:
    """Everything numeric about one image, ready for json.dump."""
    out = {"models": [{"label": a.label, "instances": instances_summary(a),
                       "attention": attention_statistics(a.capture),
                       "cams": [{"instance": i, "layer": layer, "method": a.cam_method, "target": a.cam_target}
                                for (i, layer) in a.cams]} for a in analyses]}
    if comparison is not None:
        out["comparison"] = {
            "detections": comparison.detections.to_dict(),
            "feature_difference": {s: {"mean": float(d.mean()), "mean_abs": float(np.abs(d).mean())}
                                   for s, d in comparison.feature_diffs.items()},
        }
    return out
